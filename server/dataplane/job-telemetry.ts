/**
 * A migration job's telemetry: one sample a second (phase, progress, copy and write rates, write
 * latency, the pre-copy threshold, a predicted time to converge), the last 600 kept for the
 * agent's API and its push to the console (server/agent/sample-push.ts).
 */
import type { JobPhase, Strategy } from './job-state';
import type { Volume } from './volume';

export interface JobSample {
  at: string;
  phase: JobPhase;
  pass: number;
  paused: boolean;
  regionsTotal: number;
  regionsSynced: number;
  regionsDirty: number;
  leftBytes: number;
  thresholdBytes: number | null;
  bytesCopied: number;
  copyRateBytesPerS: number;
  writeRateBytesPerS: number;
  writeLatencyP50Ms: number | null;
  writeLatencyP99Ms: number | null;
  throttleBytesPerS: number | null;
  predictedConvergeS: number | null;
}

/** What a sample reads off the job when it is taken. */
export interface JobView {
  phase: JobPhase;
  pass: number;
  paused: boolean;
  strategy: Strategy;
  regionsDirty: number;
  bytesCopied: number;
  throttleBytesPerS: number | null;
  /** The pre-copy threshold, computed with the copy rate this sample has just measured. */
  thresholdBytes(): number;
}

const KEPT_SAMPLES = 600;

export class JobTelemetry {
  readonly samples: JobSample[] = [];
  last: JobSample | null = null;
  /** The copy rate the last sample measured. */
  copyRateBytesPerS = 0;
  private copiedSinceSample = 0;
  private lastSampleAt = performance.now();

  constructor(private readonly volume: Volume) {}

  /** Counts bytes the copy wrote to the other plex. */
  copied(bytes: number) {
    this.copiedSinceSample += bytes;
  }

  take(job: JobView): JobSample {
    const now = performance.now();
    const seconds = Math.max(0.001, (now - this.lastSampleAt) / 1000);
    this.lastSampleAt = now;
    this.copyRateBytesPerS = Math.round(this.copiedSinceSample / seconds);
    this.copiedSinceSample = 0;
    const writes = this.volume.writeStats.take();
    const writeRate = Math.round(writes.bytes / Math.max(0.001, writes.seconds));
    const leftBytes = job.regionsDirty * this.volume.regionSizeBytes;
    const netRate = this.copyRateBytesPerS - (job.strategy === 'precopy' ? writeRate : 0);
    const sample: JobSample = {
      at: new Date().toISOString(),
      phase: job.phase,
      pass: job.pass,
      paused: job.paused,
      regionsTotal: this.volume.regionCount,
      regionsSynced: this.volume.regionCount - job.regionsDirty,
      regionsDirty: job.regionsDirty,
      leftBytes,
      thresholdBytes: job.strategy === 'precopy' ? Math.round(job.thresholdBytes()) : null,
      bytesCopied: job.bytesCopied,
      copyRateBytesPerS: this.copyRateBytesPerS,
      writeRateBytesPerS: writeRate,
      writeLatencyP50Ms: writes.p50Ms,
      writeLatencyP99Ms: writes.p99Ms,
      throttleBytesPerS: job.throttleBytesPerS,
      predictedConvergeS: leftBytes === 0 ? 0 : netRate > 0 ? Math.round(leftBytes / netRate) : null,
    };
    this.last = sample;
    this.samples.push(sample);
    if (this.samples.length > KEPT_SAMPLES) this.samples.shift();
    return sample;
  }
}
