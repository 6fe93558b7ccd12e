/**
 * The agent ↔ console API: zod schemas and types shared by both sides and nothing else.
 *
 * Agent → console (console routes under `/api/agent/v1/`):
 *   POST enrol      { token, hostname, agentUrl, agentVersion }      → { hostId, credential, consoleKey }
 *   POST heartbeat  Authorization: Bearer <hostId>.<credential>      { agentUrl, agentVersion, inventory?, inventoryHash?, writeRates }
 *                   (the inventory only when its hash differs from what the console holds)
 *   POST samples    Authorization: Bearer <hostId>.<credential>      SampleReport → SampleReportResponse
 *                   (each running job's new samples, pushed as they are taken; see sample-push.ts)
 * Console → agent (agent routes under `/v1/`), Authorization: Bearer <consoleKey>:
 *   GET  inventory                  → Inventory
 *   PUT  luns/:lunId  MapLunRequest → Inventory   (the host now sees this LUN)
 *   DELETE luns/:lunId              → Inventory   (unmapped; refused while a plex uses it)
 *   POST volumes  CreateVolumeRequest → Inventory
 *   …and the migration and workload routes listed with their schemas below.
 *
 * Lease epochs (docs/testing.md §7). Every mutating call about a migration (start, the actions, the
 * throttle) carries the lease epoch of the console replica that makes it, in the header
 * `X-Tern-Lease-Epoch: <n>` (a non-negative decimal integer). The agent remembers, with the job's
 * state, the highest epoch it has seen per migration: a call with a lower one is refused with 409
 * `stale-epoch` and changes nothing, because another replica has taken the migration over; an
 * equal or higher one is accepted and raises the mark. A call without the header (an older
 * console) is accepted and never lowers the mark. Reads carry none.
 */
import { z } from 'zod';

export const AGENT_API_VERSION = 1;
/** The header that carries a command's lease epoch (see above); Node hands it over lowercased. */
export const LEASE_EPOCH_HEADER = 'x-tern-lease-epoch';
export const HEARTBEAT_INTERVAL_MS = 3_000;

const name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, dot, dash and underscore, starting with a letter or digit');

export const hostnameSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, 'a hostname has letters, digits, dots and dashes');

export const enrolRequest = z.object({
  token: z.string().min(16).max(200),
  hostname: hostnameSchema,
  agentUrl: z.url(),
  agentVersion: z.string().min(1).max(40),
});
export type EnrolRequest = z.infer<typeof enrolRequest>;

export const enrolResponse = z.object({
  hostId: z.uuid(),
  /** The agent's own secret for calls to the console; the console keeps only its hash. */
  credential: z.string().min(32),
  /** The secret the console presents on calls to this agent; the agent keeps only its hash. */
  consoleKey: z.string().min(32),
});
export type EnrolResponse = z.infer<typeof enrolResponse>;

export const lunSeen = z.object({
  lunId: z.uuid(),
  wwn: z.string(),
  arrayId: z.uuid(),
  arrayName: z.string(),
  path: z.string().min(1),
  sizeBytes: z.number().int().nonnegative(),
  /** False when the path cannot be opened on the host. */
  present: z.boolean(),
});
export type LunSeen = z.infer<typeof lunSeen>;

export const plexState = z.enum(['active', 'syncing', 'stale', 'detached']);

export const plexReport = z.object({
  name,
  lunId: z.uuid(),
  lunPath: z.string(),
  state: plexState,
});

export const volumeReport = z.object({
  name,
  sizeBytes: z.number().int().positive(),
  regionSizeBytes: z.number().int().positive(),
  nbdExport: z.string(),
  plexes: z.array(plexReport),
});
export type VolumeReport = z.infer<typeof volumeReport>;

export const diskGroupReport = z.object({
  name,
  volumes: z.array(volumeReport),
});

export const inventory = z.object({
  luns: z.array(lunSeen),
  diskGroups: z.array(diskGroupReport),
});
export type Inventory = z.infer<typeof inventory>;

/**
 * Each volume's measured application write rate. Sent with every heartbeat but kept out of the
 * inventory (and its hash), so an unchanged inventory still costs the console no writes.
 */
export const volumeWriteRate = z.object({
  nbdExport: z.string().min(1).max(200),
  /** Bytes per second over the last ~10 s. */
  writeRateBytesPerS: z.number().int().nonnegative(),
  /** 95th percentile of the 10 s rates over the last hour (or since the agent started); null before the first 10 s. */
  writeRateP95BytesPerS: z.number().int().nonnegative().nullable(),
});
export type VolumeWriteRate = z.infer<typeof volumeWriteRate>;

export const heartbeatRequest = z
  .object({
    agentUrl: z.url(),
    agentVersion: z.string().min(1).max(40),
    /** Sent when its hash differs from the one the console said it holds (or the console asked for it). */
    inventory: inventory.optional(),
    /** hashInventory (inventory-hash.ts) of the agent's inventory; alone, it says "unchanged". */
    inventoryHash: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'inventoryHash is a SHA-256 in hex')
      .optional(),
    /** Absent from agents older than write-rate reporting. */
    writeRates: z.array(volumeWriteRate).max(10_000).optional(),
  })
  .refine((body) => body.inventory !== undefined || body.inventoryHash !== undefined, { message: 'a heartbeat carries the inventory or its inventoryHash', path: ['inventory'] });
export type HeartbeatRequest = z.infer<typeof heartbeatRequest>;

export const heartbeatResponse = z.object({
  ok: z.literal(true),
  serverTime: z.string(),
  /** The inventory hash the console holds for this host now (absent from older consoles). */
  inventoryHash: z.string().nullable().optional(),
  /** The heartbeat carried only a hash the console does not hold: send the inventory now. */
  inventoryWanted: z.boolean().optional(),
});
export type HeartbeatResponse = z.infer<typeof heartbeatResponse>;

export const mapLunRequest = z.object({
  wwn: z.string().min(1),
  arrayId: z.uuid(),
  arrayName: z.string().min(1),
  path: z.string().min(1),
  sizeBytes: z.number().int().positive(),
});
export type MapLunRequest = z.infer<typeof mapLunRequest>;

export const createVolumeRequest = z.object({
  diskGroup: name,
  name,
  sizeBytes: z
    .number()
    .int()
    .positive()
    .refine((n) => n % 4096 === 0, 'size must be a multiple of 4 KiB'),
  lunId: z.uuid(),
  regionSizeBytes: z
    .number()
    .int()
    .refine((n) => n >= 4096 && n <= 16 * 1024 * 1024 && (n & (n - 1)) === 0, 'region size must be a power of two between 4 KiB and 16 MiB')
    .default(64 * 1024),
});
export type CreateVolumeRequest = z.input<typeof createVolumeRequest>;

/** Every error either side returns: a message a person can act on, and a machine-readable code. */
export const apiError = z.object({ error: z.string(), code: z.string() });
export type ApiError = z.infer<typeof apiError>;

export function bearer(header: string | null | undefined): string | undefined {
  const match = /^Bearer ([^\s]+)$/.exec(header ?? '');
  return match?.[1];
}

// ---- migrations (console → agent) -----------------------------------------------------------
//   POST /v1/migrations                 StartMigrationRequest → MigrationStatus
//   GET  /v1/migrations                 → MigrationStatus[]
//   GET  /v1/migrations/:id             → MigrationStatus
//   GET  /v1/migrations/:id/samples?after=ISO → MigrationSample[]   (at most one a second)
//   POST /v1/migrations/:id/{pause|resume|cutover|commit|rollback|cancel} → MigrationStatus
//   PUT  /v1/migrations/:id/throttle    { bytesPerS: number | null } → MigrationStatus
// The POST and PUT calls carry `X-Tern-Lease-Epoch` (header comment above); a stale one is
// refused with 409 `stale-epoch`.

export const jobId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/, 'a migration id has up to 64 letters, digits and dashes');

export const startMigrationRequest = z.object({
  id: jobId,
  /** The volume, by NBD export name: `<diskGroup>/<volume>`. */
  volume: z.string().min(3).max(129),
  targetLunId: z.uuid(),
  strategy: z.enum(['mirror', 'precopy']),
  throttleBytesPerS: z.number().int().positive().nullable().default(null),
  pauseBudgetMs: z.number().int().min(1).max(10_000).default(100),
  stallPasses: z.number().int().min(1).max(100).default(3),
  nonConvergencePolicy: z.enum(['switch-to-mirror', 'throttle-writes', 'stop']).default('switch-to-mirror'),
  cutover: z.enum(['auto', 'manual']).default('auto'),
});
export type StartMigrationRequest = z.input<typeof startMigrationRequest>;

export const migrationAction = z.enum(['pause', 'resume', 'cutover', 'commit', 'rollback', 'cancel']);
export type MigrationAction = z.infer<typeof migrationAction>;

export const throttleRequest = z.object({ bytesPerS: z.number().int().positive().nullable() });

export const migrationSample = z.object({
  at: z.string(),
  phase: z.string(),
  pass: z.number(),
  paused: z.boolean(),
  regionsTotal: z.number(),
  regionsSynced: z.number(),
  regionsDirty: z.number(),
  leftBytes: z.number(),
  thresholdBytes: z.number().nullable(),
  bytesCopied: z.number(),
  copyRateBytesPerS: z.number(),
  writeRateBytesPerS: z.number(),
  writeLatencyP50Ms: z.number().nullable(),
  writeLatencyP99Ms: z.number().nullable(),
  throttleBytesPerS: z.number().nullable(),
  predictedConvergeS: z.number().nullable(),
});
export type MigrationSample = z.infer<typeof migrationSample>;

/** What an agent pushes: the samples each of its jobs took since the console last acknowledged. */
export const MAX_PUSHED_SAMPLES_PER_JOB = 120;
export const sampleReport = z.object({
  migrations: z
    .array(
      z.object({
        id: jobId,
        samples: z.array(migrationSample.extend({ at: z.iso.datetime() })).min(1).max(MAX_PUSHED_SAMPLES_PER_JOB),
      }),
    )
    .max(256),
});
export type SampleReport = z.infer<typeof sampleReport>;
/** `stored` counts new rows; `ignored` names the jobs the console does not follow for this host (never resent). */
export const sampleReportResponse = z.object({ stored: z.number(), ignored: z.array(z.string()) });
export type SampleReportResponse = z.infer<typeof sampleReportResponse>;

export const migrationStatus = z.object({
  id: z.string(),
  volume: z.string(),
  strategy: z.enum(['mirror', 'precopy']),
  originalStrategy: z.enum(['mirror', 'precopy']),
  phase: z.string(),
  switched: z.boolean(),
  pass: z.number(),
  paused: z.boolean(),
  source: z.object({ name: z.string(), lunId: z.string(), lunPath: z.string() }),
  target: z.object({ name: z.string(), lunId: z.string(), lunPath: z.string() }),
  throttleBytesPerS: z.number().nullable(),
  bytesCopied: z.number(),
  regionsTotal: z.number(),
  regionsDirty: z.number(),
  passes: z.array(z.object({ pass: z.number(), startedAt: z.string(), dirtyRegionsAtStart: z.number(), copiedRegions: z.number(), redirtiedRegions: z.number() })),
  verify: z
    .object({ regionsCompared: z.number(), regionsSkipped: z.number(), mismatchedRegions: z.array(z.number()), ok: z.boolean(), finishedAt: z.string() })
    .nullable(),
  result: z.string().nullable(),
  error: z.string().nullable(),
  cutoverPauseMs: z.number().nullable(),
  restarts: z.number(),
  recopiedAfterRestartRegions: z.array(z.number()),
  /** Transient I/O faults the job retried, and the last fault it met (the reason when it failed of one). */
  faultsRetried: z.number().default(0),
  lastFault: z.string().nullable().default(null),
  sample: migrationSample.nullable(),
});
export type MigrationStatus = z.infer<typeof migrationStatus>;

// ---- workload generator (console → agent) -------------------------------------------------
//   PUT    /v1/workloads/:dg/:volume   StartWorkloadRequest → WorkloadStatus  (replaces a running one)
//   GET    /v1/workloads               → WorkloadStatus[]
//   POST   /v1/workloads/:dg/:volume/verify → WorkloadStatus with `verify` filled in
//   DELETE /v1/workloads/:dg/:volume   → WorkloadStatus (stopped)

export const startWorkloadRequest = z.object({
  writeRateBytesPerS: z.number().int().positive().nullable().default(1024 * 1024),
  blockSizeBytes: z
    .number()
    .int()
    .refine((n) => n >= 512 && n <= 1024 * 1024 && n % 512 === 0, 'block size must be a multiple of 512 B up to 1 MiB')
    .default(4096),
  pattern: z.enum(['random', 'sequential']).default('random'),
  readShare: z.number().min(0).max(1).default(0),
  depth: z.number().int().min(1).max(64).default(2),
  /** Only the first this many bytes of the volume are used (bounds what a long-running demo writes). */
  rangeBytes: z.number().int().positive().nullable().default(null),
});
export type StartWorkloadRequest = z.input<typeof startWorkloadRequest>;

export const workloadStatus = z.object({
  volume: z.string(),
  running: z.boolean(),
  options: startWorkloadRequest,
  writes: z.number(),
  reads: z.number(),
  bytesWritten: z.number(),
  errors: z.number(),
  lastError: z.string().nullable(),
  verify: z.object({ checked: z.number(), indeterminate: z.number(), lost: z.number(), at: z.string() }).nullable(),
});
export type WorkloadStatus = z.infer<typeof workloadStatus>;
