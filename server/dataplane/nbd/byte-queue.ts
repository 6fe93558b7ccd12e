/**
 * The bytes received on a socket and not yet parsed, kept as the list of chunks the socket
 * delivered. Headers and payloads are sliced out of a chunk without copying; only a message
 * that straddles two chunks is copied, once, into a buffer of exactly its size. Nothing here
 * allocates more than the bytes that have actually arrived.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** How far the first chunk has been consumed. */
  private headOffset = 0;
  /** Bytes available: the sum of the chunks minus headOffset. */
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  clear(): void {
    this.chunks = [];
    this.headOffset = 0;
    this.length = 0;
  }

  /**
   * Removes and returns the next `count` bytes (count <= length): a view into the socket's
   * chunk when they lie in one chunk, else a copy of exactly `count` bytes.
   */
  take(count: number): Buffer {
    if (count > this.length) throw new RangeError(`take(${count}) with ${this.length} bytes queued`);
    const head = this.chunks[0];
    if (head !== undefined && head.length - this.headOffset >= count) {
      const view = head.subarray(this.headOffset, this.headOffset + count);
      this.consume(count);
      return view;
    }
    const copy = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.chunks[0]!;
      const n = Math.min(chunk.length - this.headOffset, count - filled);
      chunk.copy(copy, filled, this.headOffset, this.headOffset + n);
      filled += n;
      this.consume(n);
    }
    return copy;
  }

  /** Drops the next `count` bytes (count <= length). */
  skip(count: number): void {
    if (count > this.length) throw new RangeError(`skip(${count}) with ${this.length} bytes queued`);
    let left = count;
    while (left > 0) {
      const chunk = this.chunks[0]!;
      const n = Math.min(chunk.length - this.headOffset, left);
      this.consume(n);
      left -= n;
    }
  }

  private consume(count: number): void {
    this.headOffset += count;
    this.length -= count;
    const head = this.chunks[0];
    if (head !== undefined && this.headOffset === head.length) {
      this.chunks.shift();
      this.headOffset = 0;
    }
  }
}
