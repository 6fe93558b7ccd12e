/**
 * What a migration job records on the agent's disk, and where: the state file `job-<id>.json`
 * (phase, the switch, passes, verification, controls), the dirty-region log `job-<id>.drl` and,
 * from the cutover on, the rollback log `job-<id>.rollback.drl` (both dirty-region-log.ts).
 *
 * The state file is the authority on which plex of the volume is authoritative: `switched`
 * flips only with writes quiesced, and the volume configuration (server/agent/volume-manager.ts)
 * follows it, never leads it; an agent that starts reconciles the configuration with the state
 * file (server/agent/volume-runtime.ts). The file is replaced whole (durable-file.ts): after a
 * crash it holds its old or its new content. Writes are serialized, each taking the state as it
 * is when its turn comes, so a later write never goes to disk before an earlier one.
 */
import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { crashPoint, haltedIo, type CrashPointName } from './crash-points';
import type { DrlOpenOptions } from './dirty-region-log';
import { writeFileAtomic } from './durable-file';

export type Strategy = 'mirror' | 'precopy';
export type NonConvergencePolicy = 'switch-to-mirror' | 'throttle-writes' | 'stop';
export type JobPhase =
  | 'copying' // pre-copy pass 0, or mirror resync
  | 'converging' // pre-copy passes 1..n
  | 'ready' // converged, waiting for a manual cutover
  | 'cutting-over'
  | 'verifying'
  | 'verified' // switched and verified: waiting for commit or roll back
  | 'rolling-back'
  | 'committed'
  | 'rolled-back'
  | 'cancelled'
  | 'failed';

/** Phases a job never leaves. */
export const FINAL_PHASES: readonly JobPhase[] = ['committed', 'rolled-back', 'cancelled', 'failed'];

export function isFinalPhase(phase: JobPhase): boolean {
  return FINAL_PHASES.includes(phase);
}

export interface JobOptions {
  id: string;
  strategy: Strategy;
  target: { name: string; lunId: string; lunPath: string };
  /** Copy rate limit in bytes/s; null is unlimited. */
  throttleBytesPerS?: number | null;
  /** Pre-copy cuts over when what is left copies within this pause. */
  pauseBudgetMs?: number;
  /** Passes without the dirty set shrinking before the policy applies. */
  stallPasses?: number;
  nonConvergencePolicy?: NonConvergencePolicy;
  cutover?: 'auto' | 'manual';
  /** The console lease epoch the job was started under, if the console sent one. */
  leaseEpoch?: number;
  /** Where the job keeps its state file and logs. */
  stateDir: string;
  /** How often a pass checkpoints its progress into the DRL (ms); tests set 0 to checkpoint after every chunk. */
  checkpointIntervalMs?: number;
  /** Tests: wraps the I/O of the job's dirty-region and rollback logs (dirty-region-log.ts), to fail it. */
  logIo?: DrlOpenOptions['io'];
}

export interface PassRecord {
  pass: number;
  startedAt: string;
  dirtyRegionsAtStart: number;
  copiedRegions: number;
  /** Regions written by the application during the pass, to be copied again. */
  redirtiedRegions: number;
}

export interface VerifyResult {
  regionsCompared: number;
  /** Regions the application wrote after the switch: they differ on purpose. */
  regionsSkipped: number;
  mismatchedRegions: number[];
  ok: boolean;
  finishedAt: string;
}

export interface PlexRef {
  name: string;
  lunId: string;
  lunPath: string;
}

export interface PersistedState {
  version: 1;
  id: string;
  volume: string;
  strategy: Strategy;
  originalStrategy: Strategy;
  source: PlexRef;
  target: PlexRef;
  phase: JobPhase;
  switched: boolean;
  pass: number;
  paused: boolean;
  throttleBytesPerS: number | null;
  writeThrottleBytesPerS: number | null;
  pauseBudgetMs: number;
  stallPasses: number;
  nonConvergencePolicy: NonConvergencePolicy;
  cutover: 'auto' | 'manual';
  bytesCopied: number;
  passes: PassRecord[];
  verify: VerifyResult | null;
  result: string | null;
  error: string | null;
  createdAt: string;
  switchedAt: string | null;
  cutoverPauseMs: number | null;
  restarts: number;
  /** Regions re-copied after each restart, to prove a resume did not start over. */
  recopiedAfterRestartRegions: number[];
  regionsTotal?: number;
  /** Transient I/O faults the job retried (migration-job.ts, invariant 6), and the last fault it met. */
  faultsRetried?: number;
  lastFault?: string | null;
  /**
   * The highest console lease epoch seen in a command for this job; the agent refuses commands
   * from an older one (server/agent/volume-runtime.ts). Absent before the first such command.
   */
  leaseEpoch?: number;
  /**
   * Set once the rollback log could not be kept (its disk failed): a rollback then copies every
   * region back instead of only the logged ones.
   */
  rollbackLogLost?: boolean;
  /** Cutovers that gave up because they would have held writes too long (migration-job.ts). */
  cutoversAbandoned?: number;
}

/** The plex that holds the volume's authoritative data according to a job's record. */
export function authoritativePlex(state: Pick<PersistedState, 'switched' | 'source' | 'target'>): PlexRef {
  return state.switched ? state.target : state.source;
}

export class JobStateFile {
  readonly file: string;
  readonly drlFile: string;
  readonly rollbackLogFile: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    readonly id: string,
    /** Told of a state-file write that failed and that nobody awaited. */
    private readonly onUnawaitedFailure: (error: Error) => void,
  ) {
    this.file = JobStateFile.path(dir, id);
    this.drlFile = path.join(dir, `job-${id}.drl`);
    this.rollbackLogFile = path.join(dir, `job-${id}.rollback.drl`);
  }

  static path(dir: string, id: string) {
    return path.join(dir, `job-${id}.json`);
  }

  static async read(dir: string, id: string): Promise<PersistedState> {
    const file = JobStateFile.path(dir, id);
    const text = await readFile(file, 'utf8');
    try {
      return JSON.parse(text) as PersistedState;
    } catch (error) {
      throw new Error(`${file} is not valid JSON (${(error as Error).message}); the job cannot resume from it`, { cause: error });
    }
  }

  static async exists(dir: string, id: string): Promise<boolean> {
    return readFile(JobStateFile.path(dir, id)).then(
      () => true,
      () => false,
    );
  }

  /**
   * Writes the state as it is when this write's turn comes; resolves once it is on disk, and once
   * past the crash point `point` (crash-points.ts), when one is named.
   */
  write(state: PersistedState, point?: CrashPointName): Promise<void> {
    const write = this.writing.then(async () => {
      if (haltedIo()) await haltedIo();
      await writeFileAtomic(this.file, JSON.stringify(state, null, 1));
      if (point) await crashPoint(point);
    });
    this.writing = write.catch((error: unknown) => this.onUnawaitedFailure(new Error(`job ${this.id}: cannot write its state file: ${(error as Error).message}`, { cause: error })));
    return write;
  }

  /** write() for callers that do not wait: a failure is reported to onUnawaitedFailure only. */
  writeSoon(state: PersistedState): void {
    this.write(state).catch(() => undefined);
  }

  /** write() whose failure goes to whoever awaits it, and is no unhandled rejection when nobody does. */
  writeAwaitable(state: PersistedState, point?: CrashPointName): Promise<void> {
    const write = this.write(state, point);
    write.catch(() => undefined);
    return write;
  }

  /** Resolves once every write issued so far has settled. */
  settled(): Promise<void> {
    return this.writing;
  }

  /** Deletes the logs of a job that has ended (its state file stays, as its record). */
  async removeLogs(): Promise<void> {
    await rm(this.drlFile, { force: true });
    await rm(this.rollbackLogFile, { force: true });
    await crashPoint('job.logs-removed');
  }
}

/** Removes a file and makes the removal durable (the folder is fsynced). */
export async function removeDurably(file: string): Promise<void> {
  await rm(file, { force: true });
  const folder = await open(path.dirname(file), 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
