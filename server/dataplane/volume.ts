/**
 * A volume: a virtual block device over one or more plexes, each a full copy on one LUN.
 *
 * Reads come from the primary plex, the authoritative copy. A write goes to the primary and to
 * every mirror plex (a migration's target while it mirrors), and is acknowledged only when the
 * write observer (the running migration job) has made its dirty-region mark durable and every
 * plex has the data; with FUA, once the data is also flushed. A failed write to a mirror never
 * fails the application's write: the mirror is dropped and the observer told why. A failed write
 * to the primary fails the application's write.
 *
 * `pauseWrites()` is the quiesce of a cutover: writes that arrive queue (none fail), writes in
 * flight finish, then the caller switches plexes and calls `resumeWrites()`.
 */
import { BlockIoError, type BlockDevice } from './block-device';
import type { Plex } from './plex';
import { regionsOf } from './region-bitmap';
import { LatencyWindow } from './latency-window';

export interface WriteObserver {
  /** Runs before the data is written; the write is not acknowledged before this resolves. */
  beforeWrite(firstRegion: number, lastRegion: number): Promise<void>;
  /** Runs once the data is written, before the acknowledgement; `mirrored` are the mirrors that got it. */
  afterWrite(firstRegion: number, lastRegion: number, mirrored: readonly Plex[]): void;
  /** A mirror plex failed a write and was dropped. */
  mirrorFailed(plex: Plex, error: BlockIoError): void;
}

const ZERO_CHUNK = Buffer.alloc(1024 * 1024);

export class Volume implements BlockDevice {
  primary: Plex;
  mirrors: Plex[] = [];
  observer: WriteObserver | null = null;
  /** Latency and throughput of application writes, for telemetry. */
  readonly writeStats = new LatencyWindow();

  private inFlightWrites = 0;
  private drained: (() => void) | null = null;
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;

  constructor(
    readonly name: string,
    readonly sizeBytes: number,
    readonly regionSizeBytes: number,
    primary: Plex,
  ) {
    this.primary = primary;
  }

  get regionCount(): number {
    return Math.ceil(this.sizeBytes / this.regionSizeBytes);
  }

  get writesInFlight(): number {
    return this.inFlightWrites;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.check(offset, length, 'EINVAL');
    return this.primary.read(offset, length);
  }

  async write(offset: number, data: Buffer, options: { fua?: boolean } = {}): Promise<void> {
    this.check(offset, data.length, 'ENOSPC');
    if (data.length === 0) return;
    const started = performance.now(); // before the gate: a cutover's pause is part of the latency
    while (this.gate) await this.gate;
    this.inFlightWrites++;
    try {
      const { first, last } = regionsOf(offset, data.length, this.regionSizeBytes);
      const observer = this.observer;
      if (observer) await observer.beforeWrite(first, last);
      const mirrors = this.mirrors;
      const [primaryResult, ...mirrorResults] = await Promise.allSettled([
        this.primary.write(offset, data).then(() => (options.fua ? this.primary.sync() : undefined)),
        ...mirrors.map((plex) => plex.write(offset, data).then(() => (options.fua ? plex.sync() : undefined))),
      ]);
      mirrorResults.forEach((result, index) => {
        const plex = mirrors[index];
        if (result.status === 'rejected' && plex) this.dropMirror(plex, result.reason);
      });
      if (primaryResult?.status === 'rejected') throw primaryResult.reason;
      observer?.afterWrite(first, last, mirrors.filter((_plex, index) => mirrorResults[index]?.status === 'fulfilled'));
      this.writeStats.record(performance.now() - started, data.length);
    } finally {
      this.inFlightWrites--;
      if (this.inFlightWrites === 0) this.drained?.();
    }
  }

  async flush(): Promise<void> {
    const mirrors = this.mirrors;
    const [primaryResult, ...mirrorResults] = await Promise.allSettled([this.primary.sync(), ...mirrors.map((plex) => plex.sync())]);
    mirrorResults.forEach((result, index) => {
      const plex = mirrors[index];
      if (result.status === 'rejected' && plex) this.dropMirror(plex, result.reason);
    });
    if (primaryResult?.status === 'rejected') throw primaryResult.reason;
  }

  async trim(offset: number, length: number, options: { fua?: boolean } = {}): Promise<void> {
    // A trim is a hint; writing zeroes keeps every plex identical, which a hint need not do.
    await this.writeZeroes(offset, length, options);
  }

  async writeZeroes(offset: number, length: number, options: { fua?: boolean } = {}): Promise<void> {
    this.check(offset, length, 'ENOSPC');
    for (let done = 0; done < length; done += ZERO_CHUNK.length) {
      const chunk = Math.min(ZERO_CHUNK.length, length - done);
      await this.write(offset + done, ZERO_CHUNK.subarray(0, chunk), options);
    }
  }

  /** Holds new writes and resolves once the writes in flight have finished. */
  async pauseWrites(): Promise<void> {
    if (!this.gate) this.gate = new Promise<void>((resolve) => (this.openGate = resolve));
    if (this.inFlightWrites > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    this.drained = null;
  }

  resumeWrites() {
    const open = this.openGate;
    this.gate = null;
    this.openGate = null;
    open?.();
  }

  private dropMirror(plex: Plex, reason: unknown) {
    this.mirrors = this.mirrors.filter((mirror) => mirror !== plex);
    plex.state = 'stale';
    const error = reason instanceof BlockIoError ? reason : new BlockIoError('EIO', String(reason));
    this.observer?.mirrorFailed(plex, error);
  }

  private check(offset: number, length: number, errno: 'EINVAL' | 'ENOSPC') {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.sizeBytes) {
      throw new BlockIoError(errno, `${length} B at offset ${offset} is outside volume ${this.name} (${this.sizeBytes} B)`);
    }
  }
}
