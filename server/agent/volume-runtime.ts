/**
 * The host's live volumes: one data-plane Volume per configured volume (what NBD serves and what
 * migrations move), and the migration jobs running on them. The volume configuration in the data
 * folder follows each job: the target plex is recorded as `syncing` before the job starts, as
 * `active` (and the source `detached`) once the job has switched, and the source is removed only
 * after the job commits. The job's state file is the authority on which plex is authoritative
 * (server/dataplane/job-state.ts); the configuration follows it, so a crash between the two is
 * repaired at start: a restarted agent first reconciles each volume's configuration with the
 * newest job of that volume, then opens each volume on the plex its configuration names (one
 * volume that cannot be opened stays offline, with the reason, and the others are served), and
 * resumes every unfinished job (and every job that failed after its switch, so that its rollback
 * log keeps logging) from its state file and logs. An action on a job is answered only once the
 * configuration follows it, so the console's clean-up never meets a plex the agent still lists.
 *
 * A job that cannot resume never leaves a volume served from a stale plex and never lets writes
 * go unlogged: before its switch it is recorded as failed (source authoritative) or, failing
 * that, its dirty-region log is removed (a later resume re-copies everything); after its switch
 * the volume is served from the target and its rollback log is removed (a later rollback copies
 * every region back).
 *
 * Commands are fenced by lease epoch (docs/testing.md §7): each job keeps, in its state file, the
 * highest epoch a console command for it carried. A command from an older epoch comes from a
 * console replica that has lost the migration to another (it was paused or partitioned past its
 * lease), so it is refused before it touches anything; a command without an epoch (an older
 * console) passes and leaves the mark as it is. The agent learns an epoch from the first command
 * made under it, so until the new owner commands, an older one is taken as if it came in time.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { crashPoint, type CrashPointName } from '../dataplane/crash-points';
import { authoritativePlex, isFinalPhase, JobStateFile, removeDurably, type PersistedState } from '../dataplane/job-state';
import { MigrationJob, type JobOptions, type JobPhase, type JobSample } from '../dataplane/migration-job';
import { Plex } from '../dataplane/plex';
import type { MigrationAction, MigrationStatus, StartMigrationRequest, VolumeReport } from '../protocol/agent-api';
import { startMigrationRequest } from '../protocol/agent-api';
import type { Logger } from './log';
import { AgentRefusal, type VolumeManager } from './volume-manager';
import { MeteredVolume } from './write-rates';

/** Jobs a restarted agent takes up again: unfinished ones, and those that failed after the switch (their rollback log). */
function needsResume(state: Pick<PersistedState, 'phase' | 'switched'>): boolean {
  return !isFinalPhase(state.phase) || (state.phase === 'failed' && state.switched);
}

/** The final phase each action leads to, so a repeated action on a job that ended by it is answered as done. */
const ENDED_BY: Partial<Record<MigrationAction, JobPhase>> = { commit: 'committed', rollback: 'rolled-back', cancel: 'cancelled' };

/** The crash point reached once the configuration follows a job into a phase. */
const CONFIG_POINTS: Partial<Record<JobPhase, CrashPointName>> = {
  verifying: 'config.switched',
  committed: 'config.committed',
  'rolled-back': 'config.rolled-back',
  cancelled: 'config.cancelled',
  failed: 'config.failed',
};

type Plexes = VolumeReport['plexes'];

/**
 * The plexes a volume's configuration must list for a job in the state it records: the plexes
 * the job does not touch stay as they are; then the authoritative plex active and, while the
 * other may still be needed, the other syncing (before the switch) or detached (after it).
 */
export function plexesForJob(state: Pick<PersistedState, 'phase' | 'switched' | 'source' | 'target'>, current: Plexes): Plexes {
  const others = current.filter((plex) => plex.lunId !== state.source.lunId && plex.lunId !== state.target.lunId);
  const ref = (plex: PersistedState['source']) => ({ name: plex.name, lunId: plex.lunId, lunPath: plex.lunPath });
  const active = { ...ref(authoritativePlex(state)), state: 'active' as const };
  if (state.phase === 'committed') return [...others, { ...ref(state.target), state: 'active' }];
  if (isFinalPhase(state.phase) && !state.switched) return [...others, active];
  if (state.switched) return [...others, active, { ...ref(state.source), state: 'detached' }];
  return [...others, active, { ...ref(state.target), state: 'syncing' }];
}

function samePlexes(a: Plexes, b: Plexes): boolean {
  const key = (plexes: Plexes) => JSON.stringify([...plexes].sort((x, y) => x.lunId.localeCompare(y.lunId)).map((p) => [p.name, p.lunId, p.lunPath, p.state]));
  return key(a) === key(b);
}

export class VolumeRuntime {
  private readonly volumes = new Map<string, MeteredVolume>();
  private readonly jobs = new Map<string, MigrationJob>();
  /** Jobs that ended before this process started (or could not resume): the console may still ask how they ended. */
  private readonly finished = new Map<string, MigrationStatus>();
  /** Volumes that could not be opened, with the reason: not served. */
  readonly offline = new Map<string, string>();
  private readonly sampleListeners: (() => void)[] = [];
  readonly jobsDir: string;

  constructor(
    private readonly config: VolumeManager,
    dataDir: string,
    private readonly log: Logger,
    /** Tests: how often jobs checkpoint (server/dataplane/job-state.ts). */
    private readonly jobOptions: Pick<JobOptions, 'checkpointIntervalMs'> = {},
  ) {
    this.jobsDir = path.join(dataDir, 'jobs');
  }

  /** Reconciles the configuration with the jobs' records, opens every configured volume and resumes unfinished jobs. */
  async open() {
    await mkdir(this.jobsDir, { recursive: true });
    const records = new Map<string, PersistedState>();
    const unreadable: string[] = [];
    for (const file of await readdir(this.jobsDir)) {
      const id = /^job-(.+)\.json$/.exec(file)?.[1];
      if (!id) continue;
      await JobStateFile.read(this.jobsDir, id).then(
        (state) => records.set(id, state),
        (error: unknown) => {
          const why = `its record ${JobStateFile.path(this.jobsDir, id)} cannot be read (${(error as Error).message})`;
          this.log.error('cannot read a migration record', { id, error: why });
          unreadable.push(id);
          this.finished.set(id, unreadableStatus(id, `the migration cannot go on: ${why}; each volume is served from the plex its configuration names`));
        },
      );
    }
    await this.reconcile(records, unreadable.length > 0);
    for (const { volume } of this.config.volumes()) {
      await this.openVolume(volume).catch((error: unknown) => {
        const reason = (error as Error).message;
        this.offline.set(volume.nbdExport, reason);
        this.log.error('volume offline: cannot open it', { volume: volume.nbdExport, error: reason });
      });
    }
    for (const [id, state] of records) {
      if (!needsResume(state)) {
        this.finished.set(id, describeStatus({ ...state, regionsTotal: state.regionsTotal ?? 0, regionsDirty: 0, sample: null }));
        continue;
      }
      await this.resumeJob(id).catch((error: unknown) => this.cannotResume(state, error));
    }
  }

  /** Makes each volume's configuration follow the newest job of that volume (see the top of this file). */
  private async reconcile(records: ReadonlyMap<string, PersistedState>, someUnreadable: boolean) {
    const newest = new Map<string, PersistedState>();
    for (const state of records.values()) {
      const seen = newest.get(state.volume);
      if (!seen || state.createdAt > seen.createdAt || (state.createdAt === seen.createdAt && state.id > seen.id)) newest.set(state.volume, state);
    }
    // A syncing plex that no job names as its target: the agent died after recording it and before
    // the job's state file existed. The migration never started; the LUN is released.
    const targets = new Set([...records.values()].map((state) => state.target.lunId));
    // An unreadable record may be the one naming it: then nothing can be proven an orphan.
    for (const { volume } of someUnreadable ? [] : this.config.volumes()) {
      const orphans = volume.plexes.filter((plex) => plex.state === 'syncing' && !targets.has(plex.lunId));
      if (orphans.length === 0) continue;
      await this.config.setPlexes(volume.nbdExport, volume.plexes.filter((plex) => !orphans.includes(plex)));
      this.log.warn('removed a syncing plex no migration names (the agent stopped while starting one)', { volume: volume.nbdExport, plexes: orphans.map((plex) => plex.name) });
    }
    for (const [exportName, state] of newest) {
      const config = this.config.findVolume(exportName);
      if (!config) continue;
      const plexes = plexesForJob(state, config.plexes);
      if (samePlexes(plexes, config.plexes)) continue;
      await this.config.setPlexes(exportName, plexes);
      this.log.warn('reconciled the volume configuration with its migration record', { volume: exportName, id: state.id, phase: state.phase, switched: state.switched, plexes: plexes.map((plex) => `${plex.name}:${plex.state}`) });
    }
  }

  /** A job that could not resume: never a stale plex served, never a write unlogged (see the top of this file). */
  private async cannotResume(state: PersistedState, error: unknown) {
    const why = `could not resume after a restart: ${(error as Error).message}`;
    this.log.error('cannot resume migration', { id: state.id, volume: state.volume, error: why });
    const file = new JobStateFile(this.jobsDir, state.id, () => undefined);
    let recorded: PersistedState = { ...state, error: why, result: state.switched ? `${why}; the target stays authoritative` : `${why}; source intact` };
    if (state.switched) {
      await removeDurably(file.rollbackLogFile).catch(() => undefined);
      recorded = { ...recorded, rollbackLogLost: true };
    } else {
      recorded = { ...recorded, phase: 'failed' };
      const written = await file.write(recorded).then(
        () => true,
        async () => {
          await removeDurably(file.drlFile).catch(() => undefined);
          return false;
        },
      );
      // Recorded as failed: the target LUN is released, as after any failure before the switch.
      const config = this.config.findVolume(state.volume);
      if (written && config) await this.config.setPlexes(state.volume, plexesForJob(recorded, config.plexes)).catch(() => undefined);
    }
    this.finished.set(state.id, describeStatus({ ...recorded, regionsTotal: recorded.regionsTotal ?? 0, regionsDirty: 0, sample: null }));
  }

  /** The volume behind an NBD export name, opening it if it was created since. */
  async device(exportName: string): Promise<MeteredVolume | undefined> {
    const known = this.volumes.get(exportName);
    if (known) return known;
    const config = this.config.findVolume(exportName);
    return config ? this.openVolume(config) : undefined;
  }

  /** The open volume behind an export name (NBD asks synchronously; volumes open as they are created). */
  openDevice(exportName: string): MeteredVolume | undefined {
    return this.volumes.get(exportName);
  }

  /** Every open volume, for the write-rate meter. */
  openVolumes(): Iterable<MeteredVolume> {
    return this.volumes.values();
  }

  /** Opens volumes created since the last call; the agent calls it after every configuration change. */
  async openNew() {
    for (const { volume } of this.config.volumes()) if (!this.volumes.has(volume.nbdExport)) await this.openVolume(volume);
  }

  exportNames(): string[] {
    return this.config.volumes().map(({ volume }) => volume.nbdExport);
  }

  private async openVolume(config: VolumeReport): Promise<MeteredVolume> {
    const existing = this.volumes.get(config.nbdExport);
    if (existing) return existing;
    const primary = config.plexes.find((plex) => plex.state === 'active') ?? config.plexes[0];
    if (!primary) throw new Error(`volume ${config.nbdExport} has no plex`);
    const plex = await Plex.open({ name: primary.name, lunId: primary.lunId, lunPath: primary.lunPath, state: 'active' });
    const volume = new MeteredVolume(config.nbdExport, config.sizeBytes, config.regionSizeBytes, plex);
    this.volumes.set(config.nbdExport, volume);
    this.offline.delete(config.nbdExport);
    return volume;
  }

  private async resumeJob(id: string) {
    const status = await MigrationJob.recordedStatus(this.jobsDir, id);
    const offline = this.offline.get(status.volume);
    if (offline) throw new Error(`volume ${status.volume} is offline (${offline})`);
    const volume = await this.device(status.volume);
    if (!volume) throw new Error(`migration ${id} names volume ${status.volume}, which this host no longer has`);
    const job = await MigrationJob.resume(volume, this.jobsDir, id, this.jobOptions);
    this.track(job);
    this.log.info('resumed migration', { id, volume: status.volume, phase: job.phase, recopyRegions: job.status.regionsDirty });
    void job.run();
  }

  /** Starts a job; `leaseEpoch` is the console's (an existing job with a newer mark refuses it as stale). */
  async startMigration(input: StartMigrationRequest, leaseEpoch?: number): Promise<MigrationStatus> {
    const request = startMigrationRequest.parse(input);
    const existing = this.jobs.get(request.id);
    if (existing) await this.fence(existing, leaseEpoch);
    if (existing || (await MigrationJob.exists(this.jobsDir, request.id))) {
      throw new AgentRefusal(`a migration with id ${request.id} already exists on this host`, 409, 'migration-exists');
    }
    const config = this.config.findVolume(request.volume);
    if (!config) throw new AgentRefusal(`no volume ${request.volume} on this host`, 404, 'no-volume');
    const running = [...this.jobs.values()].find((job) => job.volume.name === request.volume && needsResume(job.status));
    if (running) throw new AgentRefusal(`volume ${request.volume} is already migrating (migration ${running.id}, ${running.phase})`, 409, 'already-migrating');
    const lun = this.config.findLun(request.targetLunId);
    if (!lun) throw new AgentRefusal(`target LUN ${request.targetLunId} is not mapped to this host`, 409, 'lun-not-mapped');
    const user = this.config.plexOnLun(lun.lunId);
    if (user) throw new AgentRefusal(`target LUN ${lun.wwn} already holds plex ${user.plex} of volume ${user.volume}`, 409, 'lun-in-use');
    if (lun.sizeBytes < config.sizeBytes) {
      throw new AgentRefusal(`target LUN ${lun.wwn} holds ${lun.sizeBytes} B, less than volume ${request.volume} (${config.sizeBytes} B)`, 409, 'lun-too-small');
    }
    const volume = await this.device(request.volume);
    if (!volume) throw new AgentRefusal(`no volume ${request.volume} on this host`, 404, 'no-volume');
    const targetPlex = { name: nextPlexName(config), lunId: lun.lunId, lunPath: lun.path };
    // Record the syncing plex first: a crash from here on finds it in the configuration.
    await this.config.setPlexes(config.nbdExport, [...config.plexes, { ...targetPlex, state: 'syncing' }]);
    await crashPoint('config.target-attached');
    try {
      const job = await MigrationJob.start(volume, {
        id: request.id,
        strategy: request.strategy,
        target: targetPlex,
        throttleBytesPerS: request.throttleBytesPerS,
        pauseBudgetMs: request.pauseBudgetMs,
        stallPasses: request.stallPasses,
        nonConvergencePolicy: request.nonConvergencePolicy,
        cutover: request.cutover,
        leaseEpoch,
        stateDir: this.jobsDir,
        ...this.jobOptions,
      });
      this.track(job);
      void job.run();
      this.log.info('migration started', { id: request.id, volume: request.volume, strategy: request.strategy, target: lun.wwn });
      return this.describe(job);
    } catch (error) {
      await this.config.setPlexes(config.nbdExport, config.plexes);
      throw error;
    }
  }

  list(): MigrationStatus[] {
    return [...[...this.jobs.values()].map((job) => this.describe(job)), ...this.finished.values()];
  }

  get(id: string): MigrationStatus {
    const finished = this.finished.get(id);
    return finished ?? this.describe(this.job(id));
  }

  /**
   * The status, for the console. A newer lease epoch on the read raises the job's mark (a
   * replica that took the migration over announces itself before it has a command to send); an
   * older one is not refused: a read changes nothing.
   */
  async read(id: string, leaseEpoch?: number): Promise<MigrationStatus> {
    const job = this.finished.has(id) ? undefined : this.job(id);
    if (job && leaseEpoch !== undefined && (job.leaseEpoch === undefined || leaseEpoch > job.leaseEpoch)) await job.raiseLeaseEpoch(leaseEpoch);
    return this.get(id);
  }

  /** Every job's samples, for the push to the console (sample-push.ts). */
  *jobSamples(): Iterable<{ id: string; samples: readonly JobSample[] }> {
    for (const job of this.jobs.values()) yield { id: job.id, samples: job.samples };
  }

  /** Calls listener whenever any job takes a sample. */
  onSample(listener: () => void) {
    this.sampleListeners.push(listener);
  }

  samples(id: string, after?: string) {
    if (this.finished.has(id)) return []; // ended before this process started: no samples here
    const samples = this.job(id).samples;
    return after ? samples.filter((sample) => sample.at > after) : samples;
  }

  async setThrottle(id: string, bytesPerS: number | null, leaseEpoch?: number): Promise<MigrationStatus> {
    const finished = this.finished.get(id);
    if (finished) throw new AgentRefusal(`migration ${id} is ${finished.phase}: its throttle cannot change`, 409, 'invalid-action');
    const job = this.job(id);
    await this.fence(job, leaseEpoch);
    await job.setThrottle(bytesPerS);
    return this.describe(job);
  }

  async act(id: string, action: MigrationAction, leaseEpoch?: number): Promise<MigrationStatus> {
    const finished = this.finished.get(id);
    if (finished) {
      // Ended before this process started (the agent restarted after recording it): the action
      // that ended it is answered again, as it was; any other is refused.
      if (ENDED_BY[action] === finished.phase) return finished;
      throw new AgentRefusal(`migration ${id}: cannot ${action}: the job is ${finished.phase}${finished.error ? ` (${finished.error})` : ''}`, 409, 'invalid-action');
    }
    const job = this.job(id);
    await this.fence(job, leaseEpoch);
    try {
      switch (action) {
        case 'pause':
          await job.pause();
          break;
        case 'resume':
          await job.resume();
          break;
        case 'cutover':
          job.cutoverNow();
          break;
        case 'commit':
          await job.commit();
          break;
        case 'rollback':
          await job.rollback();
          break;
        case 'cancel':
          await job.cancel();
          break;
      }
    } catch (error) {
      if (error instanceof AgentRefusal) throw error;
      throw new AgentRefusal(`migration ${id}: ${(error as Error).message}`, 409, 'invalid-action');
    }
    // Answered once the configuration follows (the console may release a LUN right after).
    await this.followJob(job);
    return this.describe(job);
  }

  async close() {
    for (const job of this.jobs.values()) await job.close().catch(() => undefined);
  }

  /**
   * Refuses a command from a lease epoch older than the job's mark, changing nothing; otherwise
   * raises the mark to the command's epoch (durably) before the command acts. The comparison and
   * the raise happen with no await between them, so two commands racing are judged in order.
   */
  private async fence(job: MigrationJob, leaseEpoch: number | undefined): Promise<void> {
    if (leaseEpoch === undefined) return;
    const seen = job.leaseEpoch;
    if (seen !== undefined && leaseEpoch < seen) {
      this.log.warn('refused a command from a stale lease epoch', { id: job.id, leaseEpoch, seen });
      throw new AgentRefusal(
        `lease epoch ${leaseEpoch} is older than epoch ${seen} this agent has seen for migration ${job.id}; another console replica drives it now`,
        409,
        'stale-epoch',
      );
    }
    await job.raiseLeaseEpoch(leaseEpoch);
  }

  private job(id: string): MigrationJob {
    const job = this.jobs.get(id);
    if (!job) throw new AgentRefusal(`no migration ${id} on this host`, 404, 'no-migration');
    return job;
  }

  private describe(job: MigrationJob): MigrationStatus {
    return describeStatus(job.status);
  }

  /** Keeps the volume configuration in step with the job's phase. */
  private track(job: MigrationJob) {
    this.jobs.set(job.id, job);
    job.on('sample', () => {
      for (const listener of this.sampleListeners) listener();
    });
    job.on('phase', (phase) => {
      this.followJob(job).catch((error: unknown) => this.log.error('cannot record the migration in the volume configuration', { id: job.id, phase, error: (error as Error).message }));
    });
    job.on('error', (error) => this.log.error('migration error', { id: job.id, error: error.message }));
  }

  /** Makes the volume's configuration say what the job's record says (plexesForJob). */
  private async followJob(job: MigrationJob) {
    const exportName = job.volume.name;
    const config = this.config.findVolume(exportName);
    if (!config) return;
    const { phase } = job.status;
    const plexes = plexesForJob(job.status, config.plexes);
    if (samePlexes(plexes, config.plexes)) return;
    await this.config.setPlexes(exportName, plexes);
    const point = CONFIG_POINTS[phase === 'verified' ? 'verifying' : phase];
    if (point) await crashPoint(point);
  }
}

/** What the console is told of a job whose record cannot be read: failed, with the reason. */
function unreadableStatus(id: string, error: string): MigrationStatus {
  const unknown = { name: '', lunId: '', lunPath: '' };
  return {
    id,
    volume: '',
    strategy: 'mirror',
    originalStrategy: 'mirror',
    phase: 'failed',
    switched: false,
    pass: 0,
    paused: false,
    source: unknown,
    target: unknown,
    throttleBytesPerS: null,
    bytesCopied: 0,
    regionsTotal: 0,
    regionsDirty: 0,
    passes: [],
    verify: null,
    result: error,
    error,
    cutoverPauseMs: null,
    restarts: 0,
    recopiedAfterRestartRegions: [],
    faultsRetried: 0,
    lastFault: null,
    sample: null,
  };
}

function nextPlexName(volume: VolumeReport): string {
  for (let n = 1; ; n++) {
    const name = `${volume.name}-${String(n).padStart(2, '0')}`;
    if (!volume.plexes.some((plex) => plex.name === name)) return name;
  }
}

function describeStatus(status: MigrationJob['status']): MigrationStatus {
  return {
    id: status.id,
    volume: status.volume,
    strategy: status.strategy,
    originalStrategy: status.originalStrategy,
    phase: status.phase,
    switched: status.switched,
    pass: status.pass,
    paused: status.paused,
    source: status.source,
    target: status.target,
    throttleBytesPerS: status.throttleBytesPerS,
    bytesCopied: status.bytesCopied,
    regionsTotal: status.regionsTotal,
    regionsDirty: status.regionsDirty,
    passes: status.passes.slice(-50),
    verify: status.verify,
    result: status.result,
    error: status.error,
    cutoverPauseMs: status.cutoverPauseMs,
    restarts: status.restarts,
    recopiedAfterRestartRegions: status.recopiedAfterRestartRegions,
    faultsRetried: status.faultsRetried ?? 0,
    lastFault: status.lastFault ?? null,
    sample: status.sample,
  };
}
