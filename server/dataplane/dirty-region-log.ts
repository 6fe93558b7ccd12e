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
 * A flush that fails (a page write or the fdatasync throws) may have put some of its pages, and
 * so some of its clears, on disk, or none: each sector holds the old image or the failed one.
 * From then on the log counts as durable only the bits set in both images (their intersection),
 * so a mark of a region the failed image cleared is flushed again before it resolves; and the
 * next flush rewrites every page the failed one meant to write, whether or not it changed.
 *
 * File layout: a 4 KiB header (magic, version, region size, region count) then the bitmap.
 */
import { open } from 'node:fs/promises';
import { crashPoint, haltedIo } from './crash-points';
import { RegionBitmap } from './region-bitmap';

const MAGIC = 'TERNDRL1';
const HEADER_BYTES = 4096;
const PAGE_BYTES = 4096;

/** The file calls the log makes; a FileHandle is one. `open()` takes an `io` wrapper of it only so tests can inject I/O faults. */
export interface DrlFile {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<unknown>;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<unknown>;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface DrlOpenOptions {
  /** Test seam, off by default: wraps the opened file (see server/dataplane/dirty-region-log.test.ts). */
  io?: (file: DrlFile) => DrlFile;
  /** Which log this is, for its crash points (crash-points.ts): a migration's DRL or its rollback log. */
  kind?: 'drl' | 'rollback-log';
}

/** Test seam, off by default: wraps the file of every log opened without `options.io` (server/dataplane/power-loss.test.ts records it). */
let openedFileHook: ((file: DrlFile, path: string) => DrlFile) | null = null;
export function setDrlOpenHook(hook: ((file: DrlFile, path: string) => DrlFile) | null) {
  openedFileHook = hook;
}

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
  /** The bits the disk is known to hold: what the last good flush wrote, ANDed with every failed image since. */
  private durable: RegionBitmap;
  /** Offsets of the pages a failed flush meant to write: the disk may hold more bits there than `durable`. */
  private readonly unsure = new Set<number>();
  /** The image being written right now, if a flush is running. */
  private inFlight: RegionBitmap | null = null;
  private next: Deferred | null = null;
  private running = false;
  flushes = 0;

  private constructor(
    readonly file: string,
    private readonly handle: DrlFile,
    readonly regionCount: number,
    readonly regionSizeBytes: number,
    bits: RegionBitmap,
    private readonly kind: 'drl' | 'rollback-log' = 'drl',
  ) {
    this.memory = bits.copy();
    this.durable = bits;
  }

  /** Opens an existing log, or creates one with every bit set (`initial: 'all'`) or none. */
  static async open(file: string, regionCount: number, regionSizeBytes: number, initial: 'all' | 'none' = 'none', options: DrlOpenOptions = {}): Promise<DirtyRegionLog> {
    const hook = openedFileHook;
    const wrap = options.io ?? ((opened: DrlFile) => (hook ? hook(opened, file) : opened));
    let handle: DrlFile;
    try {
      handle = wrap(await open(file, 'r+'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const bits = new RegionBitmap(regionCount);
      if (initial === 'all') bits.fill();
      handle = wrap(await open(file, 'wx+', 0o600));
      const header = Buffer.alloc(HEADER_BYTES);
      header.write(MAGIC, 0, 'latin1');
      header.writeUInt32LE(1, 8);
      header.writeUInt32LE(regionSizeBytes, 12);
      header.writeDoubleLE(regionCount, 16);
      await handle.write(header, 0, HEADER_BYTES, 0);
      await handle.write(bits.bits, 0, bits.bits.length, HEADER_BYTES);
      await handle.sync();
      return new DirtyRegionLog(file, handle, regionCount, regionSizeBytes, bits, options.kind);
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
    return new DirtyRegionLog(file, handle, regionCount, regionSizeBytes, new RegionBitmap(regionCount, bits.bits), options.kind);
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
      const pages = this.pagesToWrite(image);
      try {
        if (haltedIo()) await haltedIo();
        for (const start of pages) await this.handle.write(image.bits, start, Math.min(image.bits.length, start + PAGE_BYTES) - start, HEADER_BYTES + start);
        await crashPoint(`${this.kind}.pages-written`);
        await this.handle.datasync();
        await crashPoint(`${this.kind}.synced`);
        this.durable = image;
        this.unsure.clear();
        this.flushes++;
        batch.resolve();
      } catch (error) {
        // Any of these pages may now be old or new on disk: trust only the bits set in both.
        this.durable = both(this.durable, image);
        for (const start of pages) this.unsure.add(start);
        batch.reject(error);
      } finally {
        this.inFlight = null;
      }
    }
    this.running = false;
  }

  /** The offsets of the pages that differ from `durable`, or that a failed flush left unsure. */
  private pagesToWrite(image: RegionBitmap): number[] {
    const bytes = image.bits;
    const pages: number[] = [];
    for (let start = 0; start < bytes.length; start += PAGE_BYTES) {
      const end = Math.min(bytes.length, start + PAGE_BYTES);
      let changed = this.unsure.has(start);
      for (let i = start; i < end && !changed; i++) if (bytes[i] !== this.durable.bits[i]) changed = true;
      if (changed) pages.push(start);
    }
    return pages;
  }
}

/** The regions set in both bitmaps (a fresh bitmap, so its population count is its own). */
function both(a: RegionBitmap, b: RegionBitmap): RegionBitmap {
  const bytes = new Uint8Array(a.bits.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = a.bits[i]! & b.bits[i]!;
  return new RegionBitmap(a.regionCount, bytes);
}
