/**
 * The evacuation planner's contract (docs/architecture.md, "Evacuations"): what it is given — an inventory
 * snapshot, the limits and the administrator's choices — and what it returns: a placement for
 * every volume plex on the source arrays, what cannot move and why, warnings, the load on each
 * target, and a predicted duration with a burndown. Plain data with no I/O, shared by the
 * planner, the evacuation service, the router and the wizard.
 */

export type ArrayState = 'online' | 'degraded' | 'evacuating' | 'evacuated' | 'offline';
export type HostState = 'pending' | 'connected' | 'disconnected' | 'fenced';
export type Strategy = 'precopy' | 'mirror';
export type StrategyChoice = 'auto' | Strategy;

export interface PlanArray {
  id: string;
  name: string;
  /** 1 is the fastest tier. */
  tier: number;
  state: ArrayState;
  capacityBytes: number;
  /** Bytes provisioned as LUNs now (free = capacity − used). */
  usedBytes: number;
  /** True when every host reaches the array; otherwise only `reachableHostIds` do. */
  allHosts: boolean;
  reachableHostIds: string[];
  /** LUNs on the array, used or not (for "on 131 LUNs"); when missing, the LUNs the plexes use are counted. */
  lunCount?: number;
}

export interface PlanHost {
  id: string;
  hostname: string;
  state: HostState;
  /** Epoch ms when the host entered its state (for "disconnected since"). */
  stateSince: number;
}

export interface PlanPlex {
  lunId: string;
  lunName: string;
  arrayId: string;
}

export interface PlanVolume {
  id: string;
  hostId: string;
  diskGroup: string;
  name: string;
  /** `diskGroup/name`, the volume's NBD export. */
  nbdExport: string;
  sizeBytes: number;
  writeRateBytesPerS: number | null;
  writeRateP95BytesPerS: number | null;
  plexes: PlanPlex[];
  /** A migration of this volume that has not ended, if any. */
  migrating: { migrationId: string; state: string } | null;
}

/** Concurrency as a cost model (vSphere's: 2 per host, 8 per datastore) and bandwidth budgets. */
export interface PlanLimits {
  global: number;
  perHost: number;
  perSourceArray: number;
  perTargetArray: number;
  /** Budget per array id in bytes/s (read on a source, write on a target), shared fairly by its jobs; missing = unlimited. */
  arrayBandwidthBytesPerS: Record<string, number>;
}

export const DEFAULT_LIMITS: PlanLimits = { global: 16, perHost: 2, perSourceArray: 8, perTargetArray: 8, arrayBandwidthBytesPerS: {} };

export interface PlanConstraints {
  sourceArrayIds: string[];
  /** Targets the administrator allows; null = every eligible array. */
  targetArrayIds: string[] | null;
  /** Allow targets of a lower (numerically higher) tier than the source. */
  allowLowerTier: boolean;
  /** balance: spread to even out utilization; in-order: fill targets in the order given. */
  placement: 'balance' | 'in-order';
  /** volumeId:lunId (the plex) → target array id, chosen by hand; kept while still valid. */
  overrides: Record<string, string>;
  /** Volume ids the administrator excluded (an admin-only choice that makes the evacuation partial). */
  excludedVolumeIds: string[];
  strategy: StrategyChoice;
  pauseBudgetMs: number;
  order: 'smallest-first' | 'largest-first' | 'by-host';
  /** The copy rate one job is expected to reach without limits (measured on this fleet, or a default). */
  expectedCopyRateBytesPerS: number;
  /** Where that copy rate comes from, for the strategy reasons; when missing, 'default' if it equals strategy-model's default, else 'measured'. */
  copyRateBasis?: 'measured' | 'default';
}

export interface PlannerInput {
  arrays: PlanArray[];
  hosts: PlanHost[];
  volumes: PlanVolume[];
  limits: PlanLimits;
  constraints: PlanConstraints;
}

/** One plex to move: from its LUN on a source array to a new LUN on `targetArrayId`. */
export interface PlannedMove {
  /** `${volumeId}:${sourceLunId}`, stable across re-plans (the key of `overrides`). */
  key: string;
  volumeId: string;
  hostId: string;
  hostname: string;
  diskGroup: string;
  volumeName: string;
  nbdExport: string;
  sizeBytes: number;
  sourceArrayId: string;
  sourceLunId: string;
  sourceLunName: string;
  targetArrayId: string;
  /** Why this target, in words ("largest free share among reachable arrays"). */
  placementReason: string;
  changedByUser: boolean;
  strategy: Strategy;
  /** Why this strategy, in numbers (from server/fleet/strategy-model.ts). */
  strategyReason: string;
  writeRateBytesPerS: number | null;
  /** Predicted seconds for this move once admitted (copy, passes, switch). */
  predictedSeconds: { p50: number; p90: number };
  /** Seconds from the evacuation's start when the schedule simulation admits and finishes it. */
  scheduled: { startS: number; endS: number };
}

export type CannotMoveCode = 'no-reachable-target' | 'no-capacity' | 'agent-offline' | 'already-migrating' | 'excluded' | 'source-offline';

export interface CannotMove {
  key: string;
  volumeId: string;
  hostId: string;
  hostname: string;
  nbdExport: string;
  sizeBytes: number;
  sourceArrayId: string;
  sourceLunId: string;
  code: CannotMoveCode;
  /** With the numbers: "needs 120 GiB; largest reachable free 40 GiB on ARR-05". */
  reason: string;
}

export type WarningCode =
  | 'host-disconnected'
  | 'already-migrating'
  | 'high-writes'
  | 'both-plexes-on-source'
  | 'other-plex-elsewhere'
  | 'target-nearly-full'
  | 'mirror-latency'
  /** A placement chosen by hand no longer fits (the move was placed automatically instead). */
  | 'override-invalid';

export interface PlanWarning {
  code: WarningCode;
  severity: 'info' | 'warning';
  message: string;
  volumeIds: string[];
  /** Warnings that must be ticked in Review before Confirm (e.g. mirror latency, a target above 85%). */
  needsAcknowledgement: boolean;
}

export interface PlanTarget {
  arrayId: string;
  name: string;
  tier: number;
  state: ArrayState;
  capacityBytes: number;
  usedBytesBefore: number;
  usedBytesAfter: number;
  incomingBytes: number;
  incomingVolumes: number;
  /** How many of the affected hosts reach it. */
  reachableHosts: number;
  affectedHosts: number;
  /** False when `targetArrayIds` leaves it out (it is listed so the wizard can offer it). */
  selected?: boolean;
  /** Whether it may receive volumes at all, and why not. */
  eligible: boolean;
  reason: string | null;
  /** From the schedule simulation: most jobs and bandwidth at once. */
  peakJobs: number;
  peakBytesPerS: number;
}

export interface PlanSource {
  arrayId: string;
  name: string;
  usedBytes: number;
  plexes: number;
  volumes: number;
  hosts: number;
  luns: number;
}

export interface PlanResult {
  sources: PlanSource[];
  moves: PlannedMove[];
  cannotMove: CannotMove[];
  warnings: PlanWarning[];
  targets: PlanTarget[];
  totals: {
    plexes: number;
    volumes: number;
    bytes: number;
    hosts: number;
    movableBytes: number;
    writeRateBytesPerS: number;
    writeRateP95BytesPerS: number;
    byStrategy: Record<Strategy, number>;
  };
  prediction: {
    /** Seconds from start to the last commit. */
    seconds: { p10: number; p50: number; p90: number };
    /** Bytes left on the source arrays over time (seconds from start), from the schedule simulation. */
    burndown: { t: number; leftBytes: number }[];
    /** What limits the pace, in words ("ARR-03 read budget 200 MiB/s"). */
    bottleneck: string;
  };
  /** True when something cannot move (excluded volumes do not block). */
  blocked: boolean;
}
