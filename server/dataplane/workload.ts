/**
 * A synthetic application: writes (and reads) blocks at a set rate, each write carrying content
 * derived from its offset and a sequence number, like the NBD reference test client, so that a
 * verifier can later prove every acknowledged write is present.
 *
 * The writer keeps, per block, the last acknowledged sequence number and the sequence number of
 * a write still in flight. A block's content on the device must then be the acknowledged write,
 * or (if a write was in flight when the device crashed) that in-flight write; anything else,
 * including an older write, is a lost write.
 */
import { TokenBucket } from './token-bucket';

export interface BlockTarget {
  readonly sizeBytes: number;
  read(offset: number, length: number): Promise<Buffer>;
  write(offset: number, data: Buffer, options?: { fua?: boolean }): Promise<void>;
}

export interface WorkloadOptions {
  blockSizeBytes?: number;
  /** Bytes written per second; null writes as fast as acknowledgements come back. */
  writeRateBytesPerS?: number | null;
  pattern?: 'random' | 'sequential';
  /** Fraction of operations that are reads (0..1). */
  readShare?: number;
  /** Operations in flight at once. */
  depth?: number;
  /** Only blocks inside [offset, offset + length) are used. */
  range?: { offset: number; length: number };
  seed?: number;
}

const MAGIC = 0x5445524e; // "TERN"
const HEADER_BYTES = 24;

/** The content of write number `sequence` at `offset`: a header, then bytes derived from both. */
export function blockContent(offset: number, sequence: number, size: number): Buffer {
  const block = Buffer.allocUnsafe(size);
  block.writeUInt32LE(MAGIC, 0);
  block.writeUInt32LE(size, 4);
  block.writeDoubleLE(offset, 8);
  block.writeDoubleLE(sequence, 16);
  let x = (offset / size + sequence * 2654435761) >>> 0 || 1;
  for (let i = HEADER_BYTES; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block.writeUInt32LE(x >>> 0, i);
  }
  return block;
}

/** Reads the sequence number a block carries, or null when it holds no valid workload write. */
export function sequenceOf(block: Buffer, offset: number): number | null {
  if (block.length < HEADER_BYTES || block.readUInt32LE(0) !== MAGIC || block.readDoubleLE(8) !== offset) return null;
  const sequence = block.readDoubleLE(16);
  return blockContent(offset, sequence, block.length).equals(block) ? sequence : null;
}

export interface WorkloadStats {
  writes: number;
  reads: number;
  bytesWritten: number;
  errors: number;
  lastError: string | null;
}

export class Workload {
  readonly acknowledged = new Map<number, number>();
  readonly inFlight = new Map<number, number>();
  /** Writes that failed (the device went away): they may or may not have reached it. */
  readonly uncertain: [offset: number, sequence: number][] = [];
  readonly stats: WorkloadStats = { writes: 0, reads: 0, bytesWritten: 0, errors: 0, lastError: null };
  private readonly bucket: TokenBucket;
  private readonly blockSize: number;
  private readonly firstBlock: number;
  private readonly blockCount: number;
  private sequence = 0;
  private cursor = 0;
  private random: () => number;
  private running: Promise<void>[] = [];
  private stopped = false;

  constructor(
    private target: BlockTarget,
    private readonly options: WorkloadOptions = {},
  ) {
    this.blockSize = options.blockSizeBytes ?? 4096;
    const range = options.range ?? { offset: 0, length: target.sizeBytes };
    this.firstBlock = Math.ceil(range.offset / this.blockSize);
    this.blockCount = Math.floor((range.offset + range.length) / this.blockSize) - this.firstBlock;
    if (this.blockCount <= 0) throw new Error(`the workload range holds no ${this.blockSize} B block`);
    this.bucket = new TokenBucket(options.writeRateBytesPerS ?? null);
    let seed = (options.seed ?? Date.now()) >>> 0 || 1;
    this.random = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 4294967296;
    };
  }

  /** Continues on another connection to the same device (after the agent restarted, say). */
  retarget(target: BlockTarget) {
    this.target = target;
  }

  setRate(writeRateBytesPerS: number | null) {
    this.bucket.setRate(writeRateBytesPerS);
  }

  start() {
    this.stopped = false;
    const depth = this.options.depth ?? 1;
    for (let i = 0; i < depth; i++) this.running.push(this.worker());
  }

  async stop() {
    this.stopped = true;
    await Promise.all(this.running);
    this.running = [];
  }

  private nextBlock(): number {
    const block = this.options.pattern === 'sequential' ? this.cursor++ % this.blockCount : Math.floor(this.random() * this.blockCount);
    return (this.firstBlock + block) * this.blockSize;
  }

  private async worker() {
    while (!this.stopped) {
      const offset = this.nextBlock();
      if (this.random() < (this.options.readShare ?? 0)) {
        await this.target.read(offset, this.blockSize).then(
          () => this.stats.reads++,
          (error: unknown) => this.recordError(error),
        );
        continue;
      }
      await this.bucket.take(this.blockSize);
      if (this.stopped) break;
      // One write per block at a time, so "in flight" is a single sequence number per block and
      // the last acknowledged write is the last one written. Checked after the wait above, with
      // no await between the check and the claim: other workers may have claimed it meanwhile.
      if (this.inFlight.has(offset)) continue;
      const sequence = ++this.sequence;
      this.inFlight.set(offset, sequence);
      try {
        await this.target.write(offset, blockContent(offset, sequence, this.blockSize));
        this.acknowledged.set(offset, sequence);
        this.stats.writes++;
        this.stats.bytesWritten += this.blockSize;
      } catch (error) {
        this.uncertain.push([offset, sequence]);
        this.recordError(error);
        // The device is gone or failing: back off instead of spinning.
        await new Promise((resolve) => setTimeout(resolve, 20));
      } finally {
        this.inFlight.delete(offset);
      }
      if (this.options.writeRateBytesPerS === undefined || this.options.writeRateBytesPerS === null) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private recordError(error: unknown) {
    this.stats.errors++;
    this.stats.lastError = (error as Error).message;
  }

  /** What a verifier needs, as plain data (to hand to another process or keep across a crash). */
  ledger(): WriteLedger {
    return { blockSizeBytes: this.blockSize, acknowledged: [...this.acknowledged], inFlight: [...this.inFlight, ...this.uncertain] };
  }
}

export interface WriteLedger {
  blockSizeBytes: number;
  acknowledged: [offset: number, sequence: number][];
  inFlight: [offset: number, sequence: number][];
}

export interface VerifyReport {
  checked: number;
  /** Blocks holding a write that was in flight (sent, not acknowledged) at the crash: allowed. */
  indeterminate: number;
  lost: { offset: number; expected: number; found: number | null }[];
}

/** Proves every acknowledged write is on the device (or a newer in-flight one replaced it). */
export async function verifyLedger(target: BlockTarget, ledger: WriteLedger): Promise<VerifyReport> {
  const inFlight = new Map<number, Set<number>>();
  for (const [offset, sequence] of ledger.inFlight) inFlight.set(offset, (inFlight.get(offset) ?? new Set()).add(sequence));
  const report: VerifyReport = { checked: 0, indeterminate: 0, lost: [] };
  const blocks = new Map(ledger.acknowledged);
  for (const offset of inFlight.keys()) if (!blocks.has(offset)) blocks.set(offset, -1);
  for (const [offset, expected] of blocks) {
    const found = sequenceOf(await target.read(offset, ledger.blockSizeBytes), offset);
    report.checked++;
    if (found === expected) continue;
    // A write newer than the acknowledged one that may have landed (in flight, or failed mid-way).
    if (found !== null && found > expected && inFlight.get(offset)?.has(found)) {
      report.indeterminate++;
      continue;
    }
    if (expected === -1) {
      // Never acknowledged: old content is fine too.
      report.indeterminate++;
      continue;
    }
    report.lost.push({ offset, expected, found });
  }
  return report;
}
