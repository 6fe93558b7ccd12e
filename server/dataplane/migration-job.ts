/**
 * A migration job: moves a volume from its source plex to a target plex while the application
 * keeps writing, then switches the volume to the target.
 *
 * Invariants (kept by every path below, including recovery after `kill -9`):
 *
 * 1. The source plex is authoritative until the switch. The switch happens only with writes
 *    quiesced and every region proven equal, and it is recorded in the job's state file before
 *    writes resume. After the switch the source is detached (no writes) but kept until commit.
 * 2. `dirty` holds the regions that must still be copied. The dirty-region log (DRL) on disk is a
 *    superset of `dirty`, of every region with a write in flight, and of every region written
 *    since both plexes were last flushed (see dirty-region-log.ts). Recovery sets `dirty` to the
 *    DRL, so it re-copies only what it cannot prove clean.
 * 3. A copy of region r counts only if no application write to r was in flight at any moment
 *    between the copy's read of the source and its write to the target. Each write bumps
 *    `generation[r]` when it starts and when it ends; a copy compares the generation before and
 *    after, and when it moved (or a write is still in flight) the region goes back into `dirty`.
 *    This is the re-mark approach to the write-versus-copy race: nothing blocks the writer.
 * 4. Pre-copy: application writes go to the source only and put their regions in `dirty`.
 *    Mirror: application writes go to both plexes, so a copied region stays copied; invariant 3
 *    still covers a write that races the copy of its region. Any write that did not reach the
 *    target (it began before the mirror was attached) puts its regions in `dirty`.
 * 5. After the switch, writes to the (now primary) target are logged in a second DRL, the
 *    rollback log, so a rollback before commit copies exactly those regions back.
 * 6. An I/O fault on the target never fails an application write (the volume drops the mirror
 *    and the regions go back into `dirty`), and before the switch it never touches the source.
 *    A failed copy or mirrored write is retried after a backoff (the target plex re-attached);
 *    the job fails, source authoritative, once the faults persist: ENOSPC or a failed flush at
 *    once (after a failed fsync the target's unflushed data cannot be trusted), otherwise after
 *    FAULT_RETRIES failed rounds in a row or on one region, or MAX_FAULT_ROUNDS in all. A source
 *    read error fails the same way: no acknowledged write is lost, the copy cannot go on.
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { crashPoint, type CrashPointName } from './crash-points';
import { BlockIoError } from './block-device';
import { DirtyRegionLog } from './dirty-region-log';
import { DataFault, FaultPolicy } from './fault-policy';
import { isFinalPhase, JobStateFile, removeDurably, type JobOptions, type JobPhase, type PassRecord, type PersistedState } from './job-state';
import { JobTelemetry, type JobSample } from './job-telemetry';
import { Plex } from './plex';
import { RegionActivity } from './region-activity';
import { RegionBitmap } from './region-bitmap';
import { TokenBucket } from './token-bucket';
import type { Volume, WriteObserver } from './volume';

export type { JobOptions, JobPhase, NonConvergencePolicy, PassRecord, Strategy, VerifyResult } from './job-state';
export type { JobSample } from './job-telemetry';
export { DataFault } from './fault-policy';

const COPY_CHUNK_REGIONS = 16;
const CHECKPOINT_INTERVAL_MS = 1000;
const HOT_REGION_MS = 3000;
const KEPT_PASSES = 500;
/** How much longer than its pause budget a cutover may hold writes before it gives up. */
const CUTOVER_MARGIN_MS = 1000;
/** The crash point reached once a final phase is recorded. */
const FINISH_POINTS: Partial<Record<JobPhase, CrashPointName>> = {
  committed: 'commit.recorded',
  'rolled-back': 'rollback.recorded',
  cancelled: 'cancel.recorded',
  failed: 'fail.recorded',
};

export class MigrationJob extends EventEmitter<{ sample: [JobSample]; phase: [JobPhase]; error: [Error] }> {
  private state: PersistedState;
  private dirty: RegionBitmap;
  private readonly activity: RegionActivity;
  private readonly copyBucket: TokenBucket;
  private readonly writeBucket: TokenBucket;
  private readonly telemetry: JobTelemetry;
  private readonly faults: FaultPolicy;
  private readonly file: JobStateFile;
  private readonly checkpointIntervalMs: number;
  private readonly logIo: JobOptions['logIo'];
  private rollbackLog: DirtyRegionLog | null = null;
  private loop: Promise<void> | null = null;
  private stopRequested = false;
  private wake: (() => void) | null = null;
  private cutoverRequested = false;
  private sampleTimer: NodeJS.Timeout | null = null;
  private passDirtiedRegions = 0;
  private stalledPasses = 0;
  private bestLeftRegions = Number.POSITIVE_INFINITY;
  /** A fault backoff in progress (invariant 6). */
  private faultBackoff: Promise<void> | null = null;
  /** The commit, rollback or cancel running, if any (exclusive). */
  private controlling: Promise<void> = Promise.resolve();
  /** A copy a given-up cutover left running: nothing copies again before it has ended. */
  private abandoned: Promise<void> | null = null;

  private constructor(
    readonly volume: Volume,
    readonly source: Plex,
    readonly target: Plex,
    private readonly drl: DirtyRegionLog,
    state: PersistedState,
    stateDir: string,
    options: Pick<JobOptions, 'checkpointIntervalMs' | 'logIo'>,
  ) {
    super();
    this.state = state;
    this.dirty = drl.snapshot();
    this.activity = new RegionActivity(volume.regionCount);
    this.copyBucket = new TokenBucket(state.throttleBytesPerS);
    this.writeBucket = new TokenBucket(state.writeThrottleBytesPerS);
    this.telemetry = new JobTelemetry(volume);
    this.faults = new FaultPolicy(volume.regionSizeBytes);
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS;
    this.logIo = options.logIo;
    // A state-file write nobody awaited failed: the job's listener logs it (never an unhandled 'error').
    this.file = new JobStateFile(stateDir, state.id, (error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
  }

  static stateFileFor(stateDir: string, id: string) {
    return JobStateFile.path(stateDir, id);
  }

  /** A job's recorded status from its state file, without opening it (for jobs that have ended). */
  static async recordedStatus(stateDir: string, id: string) {
    const state = await JobStateFile.read(stateDir, id);
    return { ...state, regionsTotal: state.regionsTotal ?? 0, regionsDirty: 0, sample: null };
  }

  static exists(stateDir: string, id: string): Promise<boolean> {
    return JobStateFile.exists(stateDir, id);
  }

  /** Starts a new migration of `volume` to the target LUN. */
  static async start(volume: Volume, options: JobOptions): Promise<MigrationJob> {
    if (volume.observer) throw new Error(`volume ${volume.name} already has a migration running`);
    const target = await Plex.open({ ...options.target, state: 'syncing' });
    const paths = new JobStateFile(options.stateDir, options.id, () => undefined);
    const drl = await DirtyRegionLog.open(paths.drlFile, volume.regionCount, volume.regionSizeBytes, 'all', { io: options.logIo });
    const state: PersistedState = {
      version: 1,
      id: options.id,
      volume: volume.name,
      strategy: options.strategy,
      originalStrategy: options.strategy,
      source: { name: volume.primary.name, lunId: volume.primary.lunId, lunPath: volume.primary.lunPath },
      target: options.target,
      phase: 'copying',
      switched: false,
      pass: 0,
      paused: false,
      throttleBytesPerS: options.throttleBytesPerS ?? null,
      writeThrottleBytesPerS: null,
      pauseBudgetMs: options.pauseBudgetMs ?? 100,
      stallPasses: options.stallPasses ?? 3,
      nonConvergencePolicy: options.nonConvergencePolicy ?? 'switch-to-mirror',
      cutover: options.cutover ?? 'auto',
      bytesCopied: 0,
      passes: [],
      verify: null,
      result: null,
      error: null,
      createdAt: new Date().toISOString(),
      switchedAt: null,
      cutoverPauseMs: null,
      restarts: 0,
      recopiedAfterRestartRegions: [],
      regionsTotal: volume.regionCount,
      faultsRetried: 0,
      lastFault: null,
      ...(options.leaseEpoch === undefined ? {} : { leaseEpoch: options.leaseEpoch }),
    };
    const job = new MigrationJob(volume, volume.primary, target, drl, state, options.stateDir, options);
    await job.persist('job.started');
    job.attach();
    return job;
  }

  /**
   * Resumes a job after an agent restart from its state file and DRL. The caller opens the
   * volume with its source plex as primary; if the job had switched, the target becomes primary.
   */
  static async resume(volume: Volume, stateDir: string, id: string, options: Pick<JobOptions, 'checkpointIntervalMs' | 'logIo'> = {}): Promise<MigrationJob> {
    const state = await JobStateFile.read(stateDir, id);
    const paths = new JobStateFile(stateDir, id, () => undefined);
    const source = volume.primary.lunPath === state.source.lunPath ? volume.primary : await Plex.open({ ...state.source, state: 'active' });
    const target = await Plex.open({ ...state.target, state: state.switched ? 'active' : 'syncing' });
    const drl = await DirtyRegionLog.open(paths.drlFile, volume.regionCount, volume.regionSizeBytes, 'all', { io: options.logIo });
    const job = new MigrationJob(volume, source, target, drl, state, stateDir, options);
    state.restarts += 1;
    state.recopiedAfterRestartRegions.push(job.dirty.count);
    if (state.phase === 'cutting-over') state.phase = state.pass === 0 ? 'copying' : 'converging';
    if (state.switched) {
      volume.primary = target;
      source.state = 'detached';
      // The rollback log exists from before the switch; one that is missing was removed because
      // it could not be written (logFailed): every region counts as written since the switch.
      job.rollbackLog = await DirtyRegionLog.open(paths.rollbackLogFile, volume.regionCount, volume.regionSizeBytes, 'all', { io: options.logIo, kind: 'rollback-log' });
      if (state.phase === 'rolling-back') state.phase = 'verified';
    }
    await job.persist();
    job.attach();
    return job;
  }

  get id() {
    return this.state.id;
  }

  get phase(): JobPhase {
    return this.state.phase;
  }

  get status() {
    return {
      ...this.state,
      regionsTotal: this.volume.regionCount,
      regionsDirty: this.dirty.count,
      sample: this.telemetry.last,
    };
  }

  /** The last samples, oldest first (at most 600). */
  get samples(): readonly JobSample[] {
    return this.telemetry.samples;
  }

  /** The highest console lease epoch seen for this job, or undefined before any. */
  get leaseEpoch(): number | undefined {
    return this.state.leaseEpoch;
  }

  /**
   * Raises the lease-epoch mark (never lowers it) and resolves once it is in the state file, so an
   * agent restarted after acknowledging a command still refuses older epochs. The mark is set
   * before the first await: a command that arrives meanwhile is already judged against it.
   */
  async raiseLeaseEpoch(epoch: number): Promise<void> {
    // Equal or lower: the mark is set already, but perhaps still on its way to disk.
    if (this.state.leaseEpoch !== undefined && epoch <= this.state.leaseEpoch) return this.file.settled();
    this.state.leaseEpoch = epoch;
    await this.persist('job.control-recorded');
  }

  // ---- control ------------------------------------------------------------------------------

  // The controls take effect at once and resolve once the state file records them, so whoever
  // acknowledges a control after awaiting it (the agent's API) never acknowledges one a crash forgets.

  setThrottle(bytesPerS: number | null): Promise<void> {
    this.state.throttleBytesPerS = bytesPerS;
    this.copyBucket.setRate(bytesPerS);
    return this.file.writeAwaitable(this.state, 'job.control-recorded');
  }

  pause(): Promise<void> {
    this.requireActive('pause');
    this.state.paused = true;
    return this.file.writeAwaitable(this.state, 'job.control-recorded');
  }

  resume(): Promise<void> {
    this.requireActive('resume');
    this.state.paused = false;
    const written = this.file.writeAwaitable(this.state, 'job.control-recorded');
    this.wake?.();
    return written;
  }
  /** Cuts over as soon as possible: at the end of the current pass, whatever is left. */
  cutoverNow() {
    if (this.state.switched || !this.isActive()) throw new Error(`cannot cut over: the job is ${this.state.phase}`);
    this.cutoverRequested = true;
    this.wake?.();
  }

  /**
   * Commit, rollback and cancel run one at a time (a console retrying one while it runs, or two
   * consoles, must not interleave them), and each judges the job only once the copy loop has
   * stopped: a cutover, or a failure, may complete while it waits.
   */
  private exclusive(control: () => Promise<void>): Promise<void> {
    const run = this.controlling.then(control);
    this.controlling = run.catch(() => undefined);
    return run;
  }

  /** Releases the source: the migration is final. Only after the switch and a passed verification. */
  commit(): Promise<void> {
    return this.exclusive(() => this.commitNow());
  }

  private async commitNow(): Promise<void> {
    if (!this.state.switched || this.state.phase !== 'verified') throw new Error(`cannot commit: the job is ${this.state.phase}; commit is possible once verified`);
    if (this.state.verify && !this.state.verify.ok) throw new Error('cannot commit: verification found mismatched regions; roll back instead');
    // The volume lives on the target's open file: once the source is released, a target whose file
    // is gone would lose it all at the next restart. Rolling back copies it to the source.
    const gone = await this.target.goneFromPath();
    if (gone) throw new Error(`cannot commit: the target is not safe to keep: ${gone}; roll back instead, while the agent still has the file open`);
    await this.finish('committed', 'committed: the volume lives on the target; the source LUN can be released');
  }

  /**
   * Before the switch: drops the target, source untouched. After the switch (verified, or failed
   * after it): copies back every region written since the switch (every region when the rollback
   * log was lost) while the application goes on writing to the target, then again what it wrote
   * meanwhile (up to three passes), then holds writes only to copy the last of it, flushes the
   * source, records the rollback, and resumes writes on the source. A rollback that fails leaves
   * the target authoritative, says why and may be tried again.
   */
  rollback(): Promise<void> {
    return this.exclusive(() => this.rollbackNow());
  }

  private async rollbackNow(): Promise<void> {
    const refuse = () => {
      if (['committed', 'rolled-back', 'cancelled'].includes(this.state.phase)) return `the job is ${this.state.phase}`;
      if (this.state.phase === 'failed' && !this.state.switched) return 'the job failed before its switch: the source is authoritative, there is nothing to roll back';
      return null;
    };
    const before = refuse();
    if (before) throw new Error(`cannot roll back: ${before}`);
    await this.stopLoop();
    const after = refuse();
    if (after) throw new Error(`cannot roll back: ${after}`);
    if (!this.state.switched) {
      this.volume.mirrors = this.volume.mirrors.filter((plex) => plex !== this.target);
      await this.finish('rolled-back', 'rolled back before cutover: the source was authoritative throughout');
      return;
    }
    const previous = { phase: this.state.phase, result: this.state.result };
    this.setPhase('rolling-back');
    await this.persist('rollback.begun');
    let held = false;
    try {
      const changed = this.state.rollbackLogLost || !this.rollbackLog ? allRegions(this.volume.regionCount) : this.rollbackLog.snapshot();
      // With writes going on: a region written during a pass is copied again by the next one.
      let pending = changed;
      let since = this.activity.generations();
      for (let pass = 0; pass < 3 && pending.count > 0; pass++) {
        for (const region of pending) await this.copyRegionRange(region, region, this.target, this.source);
        pending = this.activity.changedSince(since);
        since = this.activity.generations();
      }
      const pauseStarted = performance.now();
      await this.volume.pauseWrites();
      held = true;
      const last = this.activity.changedSince(since);
      for (const region of pending) last.add(region);
      for (const region of last) await this.copyRegionRange(region, region, this.target, this.source);
      await this.syncPlex(this.source);
      await crashPoint('rollback.copied-back');
      // The commit point of the rollback: recorded before the source takes a write.
      this.state.switched = false;
      const what = this.state.rollbackLogLost ? `every region (${changed.count}) copied back, the rollback log having been lost` : `${changed.count} region(s) written since the switch were copied back`;
      try {
        await this.finish('rolled-back', `rolled back after cutover: ${what}, the last ${last.count} with writes held (${Math.round(performance.now() - pauseStarted)} ms pause)`);
      } catch (error) {
        this.state.switched = true;
        throw error;
      }
      // Writes are still held: the source takes none before the rollback is on disk.
      this.volume.primary = this.source;
      this.source.state = 'active';
      this.target.state = 'detached';
    } catch (error) {
      this.state.phase = previous.phase;
      this.state.result = `rollback failed, the target stays authoritative: ${(error as Error).message}`;
      this.file.writeSoon(this.state);
      this.emit('phase', this.state.phase);
      // A rollback asked during verification stopped it: verification goes on.
      if (this.isActive()) void this.run();
      throw error;
    } finally {
      if (held) this.volume.resumeWrites();
    }
  }

  /** Stops a job that has not switched, keeping the source; after the switch use rollback. */
  cancel(): Promise<void> {
    return this.exclusive(async () => {
      const refuse = () => {
        if (this.state.switched) return 'cannot cancel after cutover: commit or roll back';
        if (!this.isActive()) return `cannot cancel: the job is ${this.state.phase}`;
        return null;
      };
      const before = refuse();
      if (before) throw new Error(before);
      await this.stopLoop();
      const after = refuse();
      if (after) {
        if (this.isActive()) void this.run(); // the cutover completed meanwhile: verification goes on
        throw new Error(after);
      }
      await this.cancelNow();
    });
  }

  private async cancelNow(): Promise<void> {
    this.volume.mirrors = this.volume.mirrors.filter((plex) => plex !== this.target);
    await this.finish('cancelled', 'cancelled: the source stays authoritative, the target is detached');
  }

  /** Runs the copy until the job rests (verified, ready-and-manual, or a final phase). */
  run(): Promise<void> {
    this.loop ??= this.copyLoop().catch(async (error: unknown) => {
      await this.fail(error as Error);
    });
    return this.loop;
  }

  /** Resolves once the job reaches one of the phases. */
  async until(...phases: JobPhase[]): Promise<JobPhase> {
    if (phases.includes(this.state.phase)) return this.state.phase;
    return new Promise((resolve) => {
      const listener = (phase: JobPhase) => {
        if (phases.includes(phase)) {
          this.off('phase', listener);
          resolve(phase);
        }
      };
      this.on('phase', listener);
    });
  }

  /** Detaches the job from its volume (agent shutdown); state and DRL stay for resume. */
  async close() {
    await this.stopLoop();
    this.detach();
    await this.drl.close();
    await this.rollbackLog?.close();
  }

  // ---- the copy ---------------------------------------------------------------------------------

  private isActive() {
    return !isFinalPhase(this.state.phase);
  }

  private requireActive(action: string) {
    if (!this.isActive()) throw new Error(`cannot ${action}: the job is ${this.state.phase}`);
  }

  private attach() {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the observer's methods are the job's
    const job = this;
    const observer: WriteObserver = {
      async beforeWrite(first, last) {
        if (job.state.writeThrottleBytesPerS !== null) await job.writeBucket.take((last - first + 1) * job.volume.regionSizeBytes);
        job.activity.writeStarted(first, last);
        try {
          if (job.state.switched) {
            if (!job.state.rollbackLogLost) await job.rollbackLog?.mark(first, last);
          } else if (job.isActive()) {
            await job.drl.mark(first, last);
          }
        } catch (error) {
          try {
            await job.logFailed(error);
          } catch (fatal) {
            job.activity.writeEnded(first, last);
            throw fatal;
          }
        }
      },
      afterWrite(first, last, mirrored, failed) {
        // Whether the write reached the target decides, not the strategy now: a write that began
        // before a pre-copy turned into a mirror went to the source alone. A failed write may
        // have changed part of the source: the region is copied again.
        const reachedTarget = mirrored.includes(job.target);
        job.activity.writeEnded(first, last);
        for (let region = first; region <= last; region++) {
          if (!job.state.switched && (failed || !reachedTarget) && job.dirty.add(region)) job.passDirtiedRegions++;
        }
      },
      mirrorFailed(plex, error: BlockIoError) {
        // The application's write succeeded on the source; the regions went back into `dirty`.
        if (plex === job.target) job.noteFault(job.dataFault(plex, error.io?.op ?? 'write', error, error.io?.offset ?? null));
      },
    };
    this.volume.observer = observer;
    if (!this.state.switched && this.state.strategy === 'mirror' && this.isActive()) this.volume.mirrors = [this.target];
    this.sampleTimer = setInterval(() => this.sample(), 1000).unref();
  }

  /**
   * A dirty-region mark failed (the agent's disk: EIO, ENOSPC, a failed flush). The write may
   * still go on once a crash can no longer trust the log: the log's file is removed (a job that
   * resumes without its DRL re-copies every region, and one that resumes switched without its
   * rollback log copies every region back). Before the switch the job then fails, source
   * authoritative; after it the job goes on and a rollback copies every region back. When even
   * the removal fails, the write fails with both reasons.
   */
  private async logFailed(error: unknown): Promise<void> {
    const why = (error as Error).message;
    const switched = this.state.switched;
    const file = switched ? this.file.rollbackLogFile : this.file.drlFile;
    try {
      await removeDurably(file);
    } catch (removal) {
      throw new BlockIoError('EIO', `the migration's ${switched ? 'rollback' : 'dirty-region'} log ${file} cannot be written (${why}) nor removed (${(removal as Error).message}); the write is refused so that a crash cannot lose it`);
    }
    if (switched) {
      if (this.state.rollbackLogLost) return;
      this.state.rollbackLogLost = true;
      this.state.lastFault = `the rollback log cannot be written (${why}); a rollback will copy every region back`;
      this.file.writeSoon(this.state);
      return;
    }
    void this.fail(new Error(`the dirty-region log on the agent's disk cannot be written (${why})`, { cause: error }));
  }

  private stopSampling() {
    if (this.sampleTimer) clearInterval(this.sampleTimer);
    this.sampleTimer = null;
  }

  private detach() {
    this.stopSampling();
    if (this.volume.observer) this.volume.observer = null;
    this.volume.mirrors = this.volume.mirrors.filter((plex) => plex !== this.target);
  }

  private async stopLoop() {
    this.stopRequested = true;
    this.wake?.();
    await this.loop?.catch(() => undefined);
    this.loop = null;
    this.stopRequested = false;
  }

  private async copyLoop(): Promise<void> {
    while (!this.stopRequested && this.isActive()) {
      if (this.state.switched) {
        if (this.state.phase === 'verifying' || !this.state.verify) await this.verify();
        return; // rests in `verified` until commit or roll back
      }
      if (this.state.paused) {
        await this.sleep(1000);
        continue;
      }
      await this.runPass();
      if (this.stopRequested || !this.isActive()) return;
      const leftBytes = this.dirty.count * this.volume.regionSizeBytes;
      const converged = this.state.strategy === 'mirror' ? this.dirty.count === 0 : leftBytes <= this.thresholdBytes();
      if (converged || this.cutoverRequested) {
        if (this.state.cutover === 'manual' && !this.cutoverRequested) {
          this.setPhase('ready');
          await this.sleep(250); // keep the dirty set small while waiting for the operator
          continue;
        }
        try {
          if (await this.switchToTarget()) continue;
          // Given up: a target that did not answer in time is a fault like any other (invariant 6).
          this.noteFault(new DataFault('target', 'write', 'EIO', null, this.target, this.state.result ?? 'the cutover gave up'));
          if (this.faultBackoff) await this.unlessStopped(this.faultBackoff);
        } catch (error) {
          // A copy fault in the cutover's last copy: writes resumed on the source, the regions
          // are dirty again; retry like any copy fault. A flush fault fails the job.
          if (!(error instanceof DataFault) || error.op === 'flush') throw error;
          this.noteFault(error);
          if (this.faultBackoff) await this.unlessStopped(this.faultBackoff);
          continue;
        }
      } else if (this.state.strategy === 'precopy') {
        await this.checkConvergence();
      }
    }
  }

  /** One sweep over the dirty regions, in order; regions dirtied behind the cursor wait for the next pass. */
  private async runPass() {
    if (this.abandoned) {
      if (!(await this.unlessStopped(this.abandoned))) return;
      this.abandoned = null;
    }
    const record: PassRecord = { pass: this.state.pass, startedAt: new Date().toISOString(), dirtyRegionsAtStart: this.dirty.count, copiedRegions: 0, redirtiedRegions: 0 };
    this.passDirtiedRegions = 0;
    if (this.state.phase !== 'ready') this.setPhase(this.state.pass === 0 || this.state.strategy === 'mirror' ? 'copying' : 'converging');
    let cursor = 0;
    let lastCheckpoint = performance.now();
    const inFlight = new Set<Promise<void>>();
    while (!this.stopRequested && !this.state.paused && this.isActive()) {
      const first = this.dirty.next(cursor);
      if (first < 0) break;
      let last = first;
      while (last + 1 < this.volume.regionCount && last - first + 1 < this.chunkRegions() && this.dirty.has(last + 1)) last++;
      // Tokens first, so that a pause or a stop takes effect before the chunk starts, not after
      // a queue of throttled chunks has drained.
      const length = Math.min(this.volume.sizeBytes, (last + 1) * this.volume.regionSizeBytes) - first * this.volume.regionSizeBytes;
      if (!(await this.copyBucket.take(length, () => this.stopRequested || this.state.paused || !this.isActive()))) break;
      cursor = last + 1;
      for (let region = first; region <= last; region++) this.dirty.delete(region);
      record.copiedRegions += last - first + 1;
      // Copy I/O yields to the application: one chunk at a time while it is writing.
      const concurrency = this.volume.writesInFlight > 2 ? 1 : 4;
      const copy = this.copyRegionRange(first, last, this.source, this.target)
        .catch((error: unknown) => {
          if (!(error instanceof DataFault)) throw error;
          this.noteFault(error);
        })
        .finally(() => inFlight.delete(copy));
      inFlight.add(copy);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
      const backoff = this.faultBackoff;
      if (backoff) {
        // The failed regions are dirty again; the next pass copies them after the backoff (which
        // may end, and the field go back to null, while the copies in flight finish).
        await Promise.all(inFlight);
        await this.unlessStopped(backoff);
      }
      // Checkpoint the progress into the DRL now and then, so a crash mid-pass re-copies only
      // what was not yet proven clean, not the whole pass.
      if (performance.now() - lastCheckpoint >= this.checkpointIntervalMs) {
        await Promise.all(inFlight);
        await this.cleanDrl();
        await crashPoint('job.checkpoint-drl-flushed');
        await this.persist('job.checkpoint-recorded');
        lastCheckpoint = performance.now();
      }
    }
    await Promise.all(inFlight);
    record.redirtiedRegions = this.passDirtiedRegions;
    await this.cleanDrl();
    if (record.dirtyRegionsAtStart === 0 && record.copiedRegions === 0) return; // nothing to copy: not a pass
    this.state.passes.push(record);
    if (this.state.passes.length > KEPT_PASSES) this.state.passes.splice(0, this.state.passes.length - KEPT_PASSES);
    this.state.pass += 1;
    await this.persist('job.pass-recorded');
  }

  /** Copies regions first..last from one plex to another; puts them back in `dirty` if a write raced the copy. */
  private async copyRegionRange(first: number, last: number, from: Plex, to: Plex) {
    const regionSize = this.volume.regionSizeBytes;
    const offset = first * regionSize;
    const length = Math.min(this.volume.sizeBytes, (last + 1) * regionSize) - offset;
    const before = this.activity.copyStarted(first, last);
    try {
      const data = await from.read(offset, length).catch((error: unknown) => {
        throw this.dataFault(from, 'read', error, offset);
      });
      await to.write(offset, data).catch((error: unknown) => {
        throw this.dataFault(to, 'write', error, offset);
      });
      this.state.bytesCopied += length;
      this.telemetry.copied(length);
      this.faults.succeeded();
    } catch (error) {
      for (let region = first; region <= last; region++) this.dirty.add(region);
      throw error;
    } finally {
      for (const region of this.activity.copyEnded(first, last, before)) {
        if (this.dirty.add(region)) this.passDirtiedRegions++;
      }
    }
  }

  /**
   * Clears DRL bits of regions proven equal: flush both plexes, then clear what no write touched
   * meanwhile. Regions written in the last few seconds keep their bit, as VxVM's DRL keeps active
   * regions marked: the next write there would only have to mark them again, and wait for it.
   */
  private async cleanDrl() {
    const candidates: { region: number; generation: number }[] = [];
    const quietSince = performance.now() - HOT_REGION_MS;
    const activity = this.activity;
    for (const region of this.drl.snapshot()) {
      if (activity.writtenSince(region, quietSince)) continue;
      if (!this.dirty.has(region) && !activity.copying.has(region) && !activity.writing(region)) candidates.push({ region, generation: activity.generationOf(region) });
    }
    if (candidates.length === 0) return;
    await Promise.all([this.syncPlex(this.target), this.syncPlex(this.source)]);
    this.drl.clear(candidates.filter(({ region, generation }) => activity.generationOf(region) === generation && !this.dirty.has(region) && !activity.writing(region)).map(({ region }) => region));
    await this.drl.flush().catch((error: unknown) => {
      throw new Error(`the dirty-region log on the agent's disk cannot be written (${(error as Error).message})`, { cause: error });
    });
  }

  /** Chunks of up to 16 regions, smaller under a low throttle so a chunk is at most ~¼ s of copying. */
  private chunkRegions(): number {
    const rate = this.copyBucket.rate;
    if (rate === null) return COPY_CHUNK_REGIONS;
    return Math.max(1, Math.min(COPY_CHUNK_REGIONS, Math.floor(rate / 4 / this.volume.regionSizeBytes)));
  }

  private thresholdBytes(): number {
    const rate = this.telemetry.copyRateBytesPerS || this.state.throttleBytesPerS || 50 * 1024 * 1024;
    return Math.max(this.volume.regionSizeBytes, (rate * this.state.pauseBudgetMs) / 1000);
  }

  /** Pre-copy: if the dirty set has not shrunk for `stallPasses` passes, apply the policy. */
  private async checkConvergence() {
    const left = this.dirty.count;
    if (left < this.bestLeftRegions) {
      this.bestLeftRegions = left;
      this.stalledPasses = 0;
      return;
    }
    this.stalledPasses += 1;
    if (this.stalledPasses < this.state.stallPasses) return;
    const leftBytes = left * this.volume.regionSizeBytes;
    const reason = `not converging: ${left} regions (${leftBytes} B) still dirty after ${this.stalledPasses} passes without shrinking; writes outpace the copy`;
    this.stalledPasses = 0;
    this.bestLeftRegions = Number.POSITIVE_INFINITY;
    switch (this.state.nonConvergencePolicy) {
      case 'switch-to-mirror':
        this.state.strategy = 'mirror';
        this.state.result = `${reason}; switched to mirror`;
        this.volume.mirrors = [this.target];
        break;
      case 'throttle-writes': {
        const limit = Math.max(1024 * 1024, Math.floor((this.telemetry.copyRateBytesPerS || 10 * 1024 * 1024) / 2));
        this.state.writeThrottleBytesPerS = limit;
        this.writeBucket.setRate(limit);
        this.state.result = `${reason}; application writes throttled to ${limit} B/s`;
        break;
      }
      case 'stop':
        this.volume.mirrors = this.volume.mirrors.filter((plex) => plex !== this.target);
        await this.finish('failed', `${reason}; stopped with the source intact`, reason);
        return;
    }
    await this.persist();
  }

  /**
   * The cutover: quiesce writes, copy what is left, flush the target, record the switch, then
   * resume writes on the target. Writes are held at most the pause budget plus CUTOVER_MARGIN_MS:
   * past that (too much left, or a target that does not answer) the cutover gives up, resumes
   * writes on the source and says why; a copy still in flight then finishes in the background and
   * the copy loop waits for it before copying again. Returns whether the switch happened.
   */
  private async switchToTarget(): Promise<boolean> {
    // A target whose file was removed or replaced takes writes that a restart would not find.
    const gone = await this.target.goneFromPath();
    if (gone) throw new Error(`cannot cut over to the target: ${gone}`);
    this.setPhase('cutting-over');
    // Everything that need not happen with writes held happens before: the rollback log exists
    // and the target is flushed, so the pause holds only the last copy, a small flush and the
    // state-file write that records the switch.
    this.rollbackLog ??= await DirtyRegionLog.open(this.file.rollbackLogFile, this.volume.regionCount, this.volume.regionSizeBytes, 'none', { io: this.logIo, kind: 'rollback-log' });
    await Promise.all([this.syncPlex(this.target), this.syncPlex(this.source)]);
    const started = performance.now();
    const deadline = started + this.state.pauseBudgetMs + CUTOVER_MARGIN_MS;
    await this.volume.pauseWrites();
    let switched = false;
    try {
      await crashPoint('cutover.writes-held');
      // With writes quiesced nothing races the copy.
      for (let region = this.dirty.next(0); region >= 0; region = this.dirty.next(0)) {
        let last = region;
        while (last + 1 < this.volume.regionCount && last - region + 1 < COPY_CHUNK_REGIONS && this.dirty.has(last + 1)) last++;
        for (let r = region; r <= last; r++) this.dirty.delete(r);
        // Not throttled: the application is waiting.
        if (!(await this.beforeDeadline(this.copyRegionRange(region, last, this.source, this.target), deadline))) return this.giveUpCutover(started, 'copying the regions left');
      }
      // Both plexes flushed: after the switch a flush reaches the target only, and the source must
      // hold every write acknowledged before it (a rollback serves it again; power loss must not
      // leave it differing outside the rollback log).
      const flushed = Promise.all([this.syncPlex(this.target), this.syncPlex(this.source)]).then(() => undefined);
      if (!(await this.beforeDeadline(flushed, deadline))) return this.giveUpCutover(started, 'flushing the target');
      await crashPoint('cutover.target-flushed');
      this.state.switched = true;
      this.state.switchedAt = new Date().toISOString();
      this.state.cutoverPauseMs = Math.round(performance.now() - started);
      this.state.phase = 'verifying';
      try {
        await this.persist('cutover.switch-recorded'); // the commit point of the switch
      } catch (error) {
        await this.undoSwitchRecord(error);
        throw error;
      }
      this.volume.mirrors = [];
      this.volume.primary = this.target;
      this.target.state = 'active';
      this.source.state = 'detached';
      switched = true;
    } finally {
      this.volume.resumeWrites();
    }
    if (switched) {
      this.emit('phase', 'verifying');
      this.cutoverRequested = false;
    }
    return switched;
  }

  /** Whether `work` finished before `deadline`; if not, it goes on as the abandoned work the copy loop waits for. */
  private async beforeDeadline(work: Promise<void>, deadline: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()))));
    const outcome = await Promise.race([work.then(() => true as const), late]).finally(() => clearTimeout(timer));
    if (!outcome) this.abandoned = work.catch(() => undefined);
    return outcome;
  }

  /** The cutover held writes as long as it may: resume them on the source and say why (switchToTarget). */
  private giveUpCutover(started: number, doing: string): false {
    const left = this.dirty.count;
    const heldMs = Math.round(performance.now() - started);
    this.state.cutoversAbandoned = (this.state.cutoversAbandoned ?? 0) + 1;
    let next = 'the copy goes on and the cutover is tried again';
    if (this.state.strategy === 'precopy') {
      // A mirror never lets the dirty set grow, so the next attempt has only the last writes to copy.
      this.state.strategy = 'mirror';
      this.volume.mirrors = [this.target];
      next = 'switched to mirror so that the next attempt has little to copy';
    }
    this.state.result = `cutover gave up after holding writes ${heldMs} ms (pause budget ${this.state.pauseBudgetMs} ms) while ${doing}, ${left} region(s) left: writes resumed on the source; ${next}`;
    this.state.lastFault = this.state.result;
    this.state.phase = this.state.pass === 0 ? 'copying' : 'converging';
    this.file.writeSoon(this.state);
    this.emit('phase', this.state.phase);
    return false;
  }

  /**
   * The state file could not record the switch; whether the disk holds the old or the new record
   * is unknown. Writes are still held: record `switched: false` again, or failing that remove the
   * state file (a restart then opens the volume on the source, as its configuration says), before
   * they resume on the source. While neither can be written, writes stay held: no acknowledged
   * write may land on a plex a restart would not serve.
   */
  private async undoSwitchRecord(error: unknown) {
    this.state.switched = false;
    this.state.switchedAt = null;
    this.state.cutoverPauseMs = null;
    this.state.phase = this.state.pass === 0 ? 'copying' : 'converging';
    this.state.lastFault = `the switch could not be recorded (${(error as Error).message})`;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.persist();
        return;
      } catch {
        try {
          await removeDurably(this.file.file);
          return;
        } catch (removal) {
          if (attempt % 10 === 0 && this.listenerCount('error') > 0) this.emit('error', new Error(`job ${this.state.id}: writes stay held until the state file can be fixed: ${(removal as Error).message}`));
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    }
  }

  /** Block-checksum comparison of source and target, skipping regions written since the switch. */
  private async verify() {
    this.setPhase('verifying');
    const regionSize = this.volume.regionSizeBytes;
    const mismatched: number[] = [];
    let compared = 0;
    let skipped = 0;
    for (let region = 0; region < this.volume.regionCount && !this.stopRequested; region++) {
      const offset = region * regionSize;
      const length = Math.min(this.volume.sizeBytes - offset, regionSize);
      const generation = this.activity.generationOf(region);
      const changed = () => this.rollbackLog?.has(region) || this.activity.generationOf(region) !== generation || this.activity.writing(region);
      if (changed()) {
        skipped++;
        continue;
      }
      const [a, b] = await Promise.all([this.source.read(offset, length), this.target.read(offset, length)]);
      if (changed()) {
        skipped++;
        continue;
      }
      compared++;
      if (!digest(a).equals(digest(b))) mismatched.push(region);
    }
    if (this.stopRequested) return;
    this.state.verify = { regionsCompared: compared, regionsSkipped: skipped, mismatchedRegions: mismatched.slice(0, 100), ok: mismatched.length === 0, finishedAt: new Date().toISOString() };
    this.state.phase = 'verified';
    await this.persist('verify.recorded');
    this.emit('phase', 'verified');
  }

  /**
   * Records a final phase, then lets go of the volume (a job that failed after the switch keeps
   * logging writes in its rollback log, so a rollback copies back every write the target took
   * since). When the record cannot be written the job stays as it was and the error is thrown,
   * unless `whatever` (a failure: the job cannot go on either way, and its state file still
   * says it runs, so a restart resumes it from its logs).
   */
  private async finish(phase: JobPhase, result: string, error?: string, whatever = false) {
    const before = { phase: this.state.phase, result: this.state.result, error: this.state.error };
    this.state.phase = phase;
    this.state.result = result;
    if (error) this.state.error = error;
    try {
      await this.persist(FINISH_POINTS[phase]);
    } catch (failure) {
      if (!whatever) {
        Object.assign(this.state, before);
        throw failure;
      }
      if (this.listenerCount('error') > 0) this.emit('error', failure as Error);
    }
    if (phase === 'failed' && this.state.switched) this.stopSampling();
    else this.detach();
    this.emit('phase', phase);
    if (phase === 'committed' || phase === 'rolled-back' || phase === 'cancelled') {
      await this.drl.close().catch(() => undefined);
      await this.rollbackLog?.close().catch(() => undefined);
      await this.file.removeLogs();
    }
  }

  private async fail(error: Error) {
    if (!this.isActive()) return;
    this.stopRequested = true;
    this.volume.mirrors = this.volume.mirrors.filter((plex) => plex !== this.target);
    const message = this.state.switched ? `${error.message} (after cutover: the target is authoritative; roll back or fix and retry)` : `${error.message}; source intact`;
    await this.finish('failed', message, message, true);
    if (!this.state.switched) {
      // Nothing reads or writes the target any more once the copy has stopped.
      void (this.loop ?? Promise.resolve()).then(() => this.target.close()).catch(() => undefined);
    }
    // The failure is in the job's state; the event is for a listener's log, not a throw.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** A failed LUN operation of the job, named by the plex's role. */
  private dataFault(plex: Plex, op: DataFault['op'], error: unknown, offset: number | null): DataFault {
    return DataFault.of(plex, plex === this.source ? 'source' : 'target', op, error, offset);
  }

  private async syncPlex(plex: Plex) {
    await plex.sync().catch((error: unknown) => {
      throw this.dataFault(plex, 'flush', error, null);
    });
  }

  /**
   * Records a failed copy or mirrored write (invariant 6). Faults during a backoff belong to its
   * round. A transient fault starts a backoff, after which a mirror re-attaches the target; a
   * persistent one fails the job with the fault as the reason.
   */
  private noteFault(fault: DataFault) {
    if (this.faultBackoff || !this.isActive() || this.stopRequested) return;
    const decision = this.faults.decide(fault);
    this.state.lastFault = fault.message;
    if ('fail' in decision) {
      void this.fail(decision.fail);
      return;
    }
    this.state.faultsRetried = (this.state.faultsRetried ?? 0) + 1;
    this.file.writeSoon(this.state);
    this.volume.mirrors = this.volume.mirrors.filter((plex) => plex !== this.target);
    this.faultBackoff = new Promise<void>((resolve) => setTimeout(resolve, decision.backoffMs)).then(async () => {
      // A stalled target's late writes land before anything is copied to it again.
      await this.volume.settled(this.target);
      this.faultBackoff = null;
      if (this.isActive() && !this.stopRequested && !this.state.switched && this.state.strategy === 'mirror') {
        this.target.state = 'syncing';
        this.volume.mirrors = [this.target];
      }
    });
  }

  private setPhase(phase: JobPhase) {
    if (this.state.phase === phase) return;
    this.state.phase = phase;
    this.emit('phase', phase);
  }

  /** Waits for `work` unless the job is stopped first (a cancel must not wait for a stalled LUN); says whether it finished. */
  private async unlessStopped(work: Promise<unknown>): Promise<boolean> {
    let done = false;
    void work.finally(() => {
      done = true;
      this.wake?.();
    });
    while (!done && !this.stopRequested) await this.sleep(1000);
    return done;
  }

  private sleep(ms: number) {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Writes the state file (job-state.ts); `point` is the crash point reached once it is durable. */
  private persist(point?: CrashPointName): Promise<void> {
    return this.file.write(this.state, point);
  }

  private sample() {
    const sample = this.telemetry.take({
      phase: this.state.phase,
      pass: this.state.pass,
      paused: this.state.paused,
      strategy: this.state.strategy,
      regionsDirty: this.dirty.count,
      bytesCopied: this.state.bytesCopied,
      throttleBytesPerS: this.state.throttleBytesPerS,
      thresholdBytes: () => this.thresholdBytes(),
    });
    this.emit('sample', sample);
  }
}

function allRegions(count: number): RegionBitmap {
  const bits = new RegionBitmap(count);
  bits.fill();
  return bits;
}

function digest(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}
