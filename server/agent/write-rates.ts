/**
 * Measures each volume's application write rate for the heartbeat: the rate over the last ~10 s
 * and the 95th percentile of 10 s rates over the last hour. It counts acknowledged writes itself
 * (MeteredVolume) rather than reading `Volume.writeStats`, whose `take()` belongs to the running
 * migration job's per-second samples.
 */
import { Volume } from '../dataplane/volume';
import type { VolumeWriteRate } from '../protocol/agent-api';

/** A Volume that also keeps a running total of the bytes of acknowledged application writes. */
export class MeteredVolume extends Volume {
  bytesWritten = 0;

  override async write(offset: number, data: Buffer, options: { fua?: boolean } = {}): Promise<void> {
    await super.write(offset, data, options);
    this.bytesWritten += data.length;
  }
}

const SAMPLE_MS = 1_000;
const CURRENT_WINDOW_SAMPLES = 10;
const HOUR_WINDOWS = 360;

interface Track {
  /** (time in ms, bytesWritten) once a second, the last CURRENT_WINDOW_SAMPLES + 1 of them. */
  samples: { atMs: number; bytes: number }[];
  windowStart: { atMs: number; bytes: number };
  /** Completed 10 s window rates, the last hour's. */
  windows: number[];
}

export class WriteRateMeter {
  private readonly tracks = new Map<string, Track>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly volumes: () => Iterable<MeteredVolume>,
    private readonly clockMs: () => number = () => performance.now(),
  ) {}

  start() {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  stop() {
    clearInterval(this.timer);
  }

  /** Takes one sample of every volume; the timer calls it once a second. */
  sample() {
    const atMs = this.clockMs();
    const seen = new Set<string>();
    for (const volume of this.volumes()) {
      seen.add(volume.name);
      const point = { atMs, bytes: volume.bytesWritten };
      const track = this.tracks.get(volume.name);
      if (!track) {
        this.tracks.set(volume.name, { samples: [point], windowStart: point, windows: [] });
        continue;
      }
      track.samples.push(point);
      if (track.samples.length > CURRENT_WINDOW_SAMPLES + 1) track.samples.shift();
      if (atMs - track.windowStart.atMs >= CURRENT_WINDOW_SAMPLES * SAMPLE_MS) {
        track.windows.push(rate(track.windowStart, point));
        if (track.windows.length > HOUR_WINDOWS) track.windows.shift();
        track.windowStart = point;
      }
    }
    for (const name of this.tracks.keys()) if (!seen.has(name)) this.tracks.delete(name);
  }

  rates(): VolumeWriteRate[] {
    return [...this.tracks].map(([nbdExport, track]) => {
      const first = track.samples[0];
      const last = track.samples.at(-1);
      return {
        nbdExport,
        writeRateBytesPerS: first && last ? rate(first, last) : 0,
        writeRateP95BytesPerS: percentile95(track.windows),
      };
    });
  }
}

function rate(from: { atMs: number; bytes: number }, to: { atMs: number; bytes: number }): number {
  const seconds = (to.atMs - from.atMs) / 1000;
  return seconds > 0 ? Math.round((to.bytes - from.bytes) / seconds) : 0;
}

/** Nearest-rank 95th percentile; null with no complete window yet. */
export function percentile95(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(0.95 * sorted.length) - 1] ?? null;
}
