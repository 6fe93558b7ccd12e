/**
 * The host's live volumes: one data-plane Volume per configured volume (what NBD serves and what
 * migrations move), and the migration jobs running on them. The volume configuration in the data
 * folder follows each job: the target plex is recorded as `syncing` before the job starts, as
 * `active` (and the source `detached`) once the job has switched, and the source is removed only
 * after the job commits. A restarted agent opens each volume on the plex its configuration names
 * and resumes every unfinished job from its state file and dirty-region log.
 *
 * Commands are fenced by lease epoch (TESTING.md §7): each job keeps, in its state file, the
 * highest epoch a console command for it carried. A command from an older epoch comes from a
 * console replica that has lost the migration to another (it was paused or partitioned past its
 * lease), so it is refused before it touches anything; a command without an epoch (an older
 * console) passes and leaves the mark as it is. The agent learns an epoch from the first command
 * made under it, so until the new owner commands, an older one is taken as if it came in time.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { MigrationJob, type JobPhase, type JobSample } from '../dataplane/migration-job';
import { Plex } from '../dataplane/plex';
import type { MigrationAction, MigrationStatus, StartMigrationRequest, VolumeReport } from '../protocol/agent-api';
import { startMigrationRequest } from '../protocol/agent-api';
import type { Logger } from './log';
import { AgentRefusal, type VolumeManager } from './volume-manager';
import { MeteredVolume } from './write-rates';

const FINAL: JobPhase[] = ['committed', 'rolled-back', 'cancelled', 'failed'];

export class VolumeRuntime {
  private readonly volumes = new Map<string, MeteredVolume>();
  private readonly jobs = new Map<string, MigrationJob>();
  /** Jobs that ended before this process started: the console may still ask how they ended. */
  private readonly finished = new Map<string, MigrationStatus>();
  private readonly sampleListeners: (() => void)[] = [];
  readonly jobsDir: string;

  constructor(
    private readonly config: VolumeManager,
    dataDir: string,
    private readonly log: Logger,
  ) {
    this.jobsDir = path.join(dataDir, 'jobs');
  }

  /** Opens every configured volume and resumes unfinished jobs. */
  async open() {
    await mkdir(this.jobsDir, { recursive: true });
    for (const { volume } of this.config.volumes()) await this.openVolume(volume);
    for (const file of await readdir(this.jobsDir)) {
      const match = /^job-(.+)\.json$/.exec(file);
      if (!match?.[1]) continue;
      await this.resumeJob(match[1]).catch((error: unknown) => this.log.error('cannot resume migration', { id: match[1], error: (error as Error).message }));
    }
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
    return volume;
  }

  private async resumeJob(id: string) {
    const status = await MigrationJob.recordedStatus(this.jobsDir, id);
    if (FINAL.includes(status.phase)) {
      this.finished.set(id, describeStatus(status));
      return;
    }
    const volume = await this.device(status.volume);
    if (!volume) throw new Error(`migration ${id} names volume ${status.volume}, which this host no longer has`);
    const job = await MigrationJob.resume(volume, this.jobsDir, id);
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
    const running = [...this.jobs.values()].find((job) => job.volume.name === request.volume && !FINAL.includes(job.phase));
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
    const samples = this.job(id).samples;
    return after ? samples.filter((sample) => sample.at > after) : samples;
  }

  async setThrottle(id: string, bytesPerS: number | null, leaseEpoch?: number): Promise<MigrationStatus> {
    const job = this.job(id);
    await this.fence(job, leaseEpoch);
    await job.setThrottle(bytesPerS);
    return this.describe(job);
  }

  async act(id: string, action: MigrationAction, leaseEpoch?: number): Promise<MigrationStatus> {
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
    const exportName = job.volume.name;
    const update = async (phase: JobPhase) => {
      const config = this.config.findVolume(exportName);
      if (!config) return;
      const others = config.plexes.filter((plex) => plex.lunId !== job.source.lunId && plex.lunId !== job.target.lunId);
      const source = { name: job.source.name, lunId: job.source.lunId, lunPath: job.source.lunPath };
      const target = { name: job.target.name, lunId: job.target.lunId, lunPath: job.target.lunPath };
      if (phase === 'verifying' || phase === 'verified') {
        await this.config.setPlexes(exportName, [...others, { ...target, state: 'active' }, { ...source, state: 'detached' }]);
      } else if (phase === 'committed') {
        await this.config.setPlexes(exportName, [...others, { ...target, state: 'active' }]);
      } else if (phase === 'rolled-back' || phase === 'cancelled' || (phase === 'failed' && !job.status.switched)) {
        await this.config.setPlexes(exportName, [...others, { ...source, state: 'active' }]);
      }
    };
    job.on('phase', (phase) => {
      update(phase).catch((error: unknown) => this.log.error('cannot record the migration in the volume configuration', { id: job.id, phase, error: (error as Error).message }));
    });
    job.on('error', (error) => this.log.error('migration error', { id: job.id, error: error.message }));
  }
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
