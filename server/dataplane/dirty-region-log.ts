/**
 * The dirty-region log (DRL), as VxVM keeps one: a bitmap on the agent's disk in which a set
 * bit means "this region may differ between the plexes of the migration". The invariant:
 *
 *   A region's bit is durable on disk before any application write to that region is
 *   acknowledged, and it is cleared on disk only after the copy that made the plexes equal is
 *   durable on the target and no write to the region has started since that copy began.
 *
 * So after a crash at any moment, every region that can differ has its bit set, and recovery
 * re-copies exactly the set bits. Marks are batched: every mark that arrives while a flush is
 * being written waits for the next flush, which writes them all with one fdatasync. Clears are
 * lazy: they reach the disk with the next flush. A torn write of the bitmap leaves each sector
 * old or new; old sectors only have more bits set (clears are the only thing a sector can lose,
 * and an unflushed mark belongs to a write not yet acknowledged).
 *
 * File layout: a 4 KiB header (magic, version, region size, region count) then the bitmap.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { RegionBitmap } from './region-bitmap';

const MAGIC = 'TERNDRL1';
const HEADER_BYTES = 4096;
const PAGE_BYTES = 4096;

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A flush failure is reported to whoever awaits it; never as an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export class DirtyRegionLog {
  /** What the log should say: the durable bits plus marks and minus clears not yet flushed. */
  private readonly memory: RegionBitmap;
  /** What the disk says. */
  private durable: RegionBitmap;
  /** The image being written right now, if a flush is running. */
  private inFlight: RegionBitmap | null = null;
  private next: Deferred | null = null;
  private running = false;
  flushes = 0;

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    readonly regionCount: number,
    readonly regionSizeBytes: number,
    bits: RegionBitmap,
  ) {
    this.memory = bits.copy();
    this.durable = bits;
  }

  /** Opens an existing log, or creates one with every bit set (`initial: 'all'`) or none. */
  static async open(file: string, regionCount: number, regionSizeBytes: number, initial: 'all' | 'none' = 'none'): Promise<DirtyRegionLog> {
    let handle: FileHandle;
    try {
      handle = await open(file, 'r+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const bits = new RegionBitmap(regionCount);
      if (initial === 'all') bits.fill();
      handle = await open(file, 'wx+', 0o600);
      const header = Buffer.alloc(HEADER_BYTES);
      header.write(MAGIC, 0, 'latin1');
      header.writeUInt32LE(1, 8);
      header.writeUInt32LE(regionSizeBytes, 12);
      header.writeDoubleLE(regionCount, 16);
      await handle.write(header, 0, HEADER_BYTES, 0);
      await handle.write(bits.bits, 0, bits.bits.length, HEADER_BYTES);
      await handle.sync();
      return new DirtyRegionLog(file, handle, regionCount, regionSizeBytes, bits);
    }
    const header = Buffer.alloc(HEADER_BYTES);
    await handle.read(header, 0, HEADER_BYTES, 0);
    if (header.toString('latin1', 0, 8) !== MAGIC) {
      await handle.close();
      throw new Error(`${file} is not a Tern dirty-region log`);
    }
    const storedRegionSize = header.readUInt32LE(12);
    const storedCount = header.readDoubleLE(16);
    if (storedRegionSize !== regionSizeBytes || storedCount !== regionCount) {
      await handle.close();
      throw new Error(`${file} describes ${storedCount} regions of ${storedRegionSize} B, not ${regionCount} of ${regionSizeBytes} B`);
    }
    const bits = new RegionBitmap(regionCount);
    await handle.read(bits.bits, 0, bits.bits.length, HEADER_BYTES);
    return new DirtyRegionLog(file, handle, regionCount, regionSizeBytes, new RegionBitmap(regionCount, bits.bits));
  }

  /** The regions the log names: what recovery must re-copy. */
  snapshot(): RegionBitmap {
    return this.memory.copy();
  }

  get count(): number {
    return this.memory.count;
  }

  /** Whether the log names a region (marked, or cleared but not yet flushed). */
  has(region: number): boolean {
    return this.memory.has(region);
  }

  /** Marks regions first..last; resolves once the marks are durable. */
  mark(first: number, last: number): Promise<void> {
    let needsFlush = false;
    for (let region = first; region <= last; region++) {
      this.memory.add(region);
      const onDisk = this.durable.has(region) && (this.inFlight === null || this.inFlight.has(region));
      if (!onDisk) needsFlush = true;
    }
    return needsFlush ? this.scheduleFlush() : Promise.resolve();
  }

  /** Clears regions in memory; the disk follows with the next flush. */
  clear(regions: Iterable<number>) {
    for (const region of regions) this.memory.delete(region);
  }

  /** Writes every pending mark and clear. */
  flush(): Promise<void> {
    return this.scheduleFlush();
  }

  async close() {
    await this.flush().catch(() => undefined);
    await this.handle.close();
  }

  private scheduleFlush(): Promise<void> {
    if (!this.next) this.next = deferred();
    const waiter = this.next.promise;
    if (!this.running) {
      this.running = true;
      // Let every mark issued in this turn of the event loop join the same flush.
      setImmediate(() => void this.run());
    }
    return waiter;
  }

  private async run() {
    while (this.next) {
      const batch = this.next;
      this.next = null;
      const image = this.memory.copy();
      this.inFlight = image;
      try {
        await this.writeChangedPages(image);
        await this.handle.datasync();
        this.durable = image;
        this.flushes++;
        batch.resolve();
      } catch (error) {
        batch.reject(error);
      } finally {
        this.inFlight = null;
      }
    }
    this.running = false;
  }

  private async writeChangedPages(image: RegionBitmap) {
    const bytes = image.bits;
    for (let start = 0; start < bytes.length; start += PAGE_BYTES) {
      const end = Math.min(bytes.length, start + PAGE_BYTES);
      let changed = false;
      for (let i = start; i < end; i++) {
        if (bytes[i] !== this.durable.bits[i]) {
          changed = true;
          break;
        }
      }
      if (changed) await this.handle.write(bytes, start, end - start, HEADER_BYTES + start);
    }
  }
}
