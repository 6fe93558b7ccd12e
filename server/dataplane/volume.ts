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
 * A mirror that has not answered a write within `mirrorTimeoutMs` is dropped the same way, so a
 * stalled (not failed) target never holds up the application; its late writes are still
 * counted, and `settled(plex)` tells when none is left (a migration re-attaches the plex, or
 * copies to it, only then: a late write landing after a newer copy would undo it).
 *
 * `pauseWrites()` is the quiesce of a cutover: writes that arrive queue (none fail), writes in
 * flight finish, then the caller switches plexes and calls `resumeWrites()`.
 */
import { BlockIoError, type BlockDevice } from './block-device';
import type { Plex } from './plex';
import { regionsOf } from './region-bitmap';
import { LatencyWindow } from './latency-window';
import { haltedIo } from './crash-points';

export interface WriteObserver {
  /**
   * Runs before the data is written; the write is not acknowledged before this resolves. When it
   * rejects, the write fails with that error, nothing is written, and afterWrite is not called.
   */
  beforeWrite(firstRegion: number, lastRegion: number): Promise<void>;
  /**
   * Runs once every plex has answered, before the acknowledgement, for every write whose
   * beforeWrite resolved, whether it succeeded or not: `mirrored` are the mirrors that got the
   * data, `failed` says the primary's write failed (the application gets the error, and what
   * the primary holds there is unknown).
   */
  afterWrite(firstRegion: number, lastRegion: number, mirrored: readonly Plex[], failed: boolean): void;
  /** A mirror plex failed a write and was dropped. */
  mirrorFailed(plex: Plex, error: BlockIoError): void;
}

const ZERO_CHUNK = Buffer.alloc(1024 * 1024);
/** How long a mirror may take to answer a write before it is dropped (the primary answered). */
export const MIRROR_WRITE_TIMEOUT_MS = 2000;

export class Volume implements BlockDevice {
  primary: Plex;
  mirrors: Plex[] = [];
  observer: WriteObserver | null = null;
  /** Latency and throughput of application writes, for telemetry. */
  readonly writeStats = new LatencyWindow();
  mirrorTimeoutMs = MIRROR_WRITE_TIMEOUT_MS;
  /** Mirror writes not yet answered, by plex, including those the volume stopped waiting for. */
  private readonly mirrorWrites = new Map<Plex, Set<Promise<unknown>>>();

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
    if (haltedIo()) await haltedIo();
    this.check(offset, length, 'EINVAL');
    return this.primary.read(offset, length);
  }

  async write(offset: number, data: Buffer, options: { fua?: boolean } = {}): Promise<void> {
    this.check(offset, data.length, 'ENOSPC');
    if (data.length === 0) return;
    const started = performance.now(); // before the gate: a cutover's pause is part of the latency
    while (this.gate) await this.gate;
    if (haltedIo()) await haltedIo();
    this.inFlightWrites++;
    try {
      const { first, last } = regionsOf(offset, data.length, this.regionSizeBytes);
      const observer = this.observer;
      if (observer) await observer.beforeWrite(first, last);
      const mirrors = this.mirrors;
      const [primaryResult, ...mirrorResults] = await Promise.allSettled([
        this.primary.write(offset, data).then(() => (options.fua ? this.primary.sync() : undefined)),
        ...mirrors.map((plex) => this.mirrorWrite(plex, () => plex.write(offset, data).then(() => (options.fua ? plex.sync() : undefined)))),
      ]);
      mirrorResults.forEach((result, index) => {
        const plex = mirrors[index];
        if (result.status === 'rejected' && plex) this.dropMirror(plex, result.reason);
      });
      const failed = primaryResult?.status === 'rejected';
      observer?.afterWrite(
        first,
        last,
        mirrors.filter((_plex, index) => mirrorResults[index]?.status === 'fulfilled'),
        failed,
      );
      if (primaryResult?.status === 'rejected') throw primaryResult.reason;
      this.writeStats.record(performance.now() - started, data.length);
    } finally {
      this.inFlightWrites--;
      if (this.inFlightWrites === 0) this.drained?.();
    }
  }

  async flush(): Promise<void> {
    if (haltedIo()) await haltedIo();
    const mirrors = this.mirrors;
    const [primaryResult, ...mirrorResults] = await Promise.allSettled([this.primary.sync(), ...mirrors.map((plex) => this.mirrorWrite(plex, () => plex.sync()))]);
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

  /** Resolves once every write and flush sent to `plex` as a mirror has answered. */
  async settled(plex: Plex): Promise<void> {
    for (let pending = this.mirrorWrites.get(plex); pending && pending.size > 0; pending = this.mirrorWrites.get(plex)) {
      await Promise.allSettled([...pending]);
    }
  }

  /** A write or flush to a mirror, given up on (rejected) after mirrorTimeoutMs though it goes on. */
  private mirrorWrite(plex: Plex, io: () => Promise<void>): Promise<void> {
    const operation = io();
    let pending = this.mirrorWrites.get(plex);
    if (!pending) this.mirrorWrites.set(plex, (pending = new Set()));
    const tracked = pending;
    tracked.add(operation);
    const forget = () => {
      tracked.delete(operation);
      if (tracked.size === 0 && this.mirrorWrites.get(plex) === tracked) this.mirrorWrites.delete(plex);
    };
    operation.then(forget, forget);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new BlockIoError('EIO', `mirror plex ${plex.name} (${plex.lunPath}) did not answer within ${this.mirrorTimeoutMs} ms`, { op: 'write', offset: null })), this.mirrorTimeoutMs);
    });
    return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
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
