/**
 * A token bucket for bytes: `take(n)` resolves when n bytes may proceed. The rate can change
 * while callers wait; `null` means unlimited. Bursts are capped at a quarter second of rate.
 */
export class TokenBucket {
  private tokens = 0;
  private last = performance.now();

  constructor(private bytesPerS: number | null) {}

  get rate(): number | null {
    return this.bytesPerS;
  }

  setRate(bytesPerS: number | null) {
    this.refill();
    this.bytesPerS = bytesPerS;
    if (bytesPerS !== null) this.tokens = Math.min(this.tokens, bytesPerS / 4);
  }

  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (this.bytesPerS === null) return;
      this.refill();
      if (this.tokens >= bytes || this.tokens >= this.bytesPerS / 4) {
        this.tokens -= bytes;
        return;
      }
      const waitMs = Math.min(250, ((bytes - this.tokens) / this.bytesPerS) * 1000);
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, waitMs)));
      if (signal?.aborted) return;
    }
  }

  private refill() {
    const now = performance.now();
    if (this.bytesPerS !== null) this.tokens = Math.min(this.bytesPerS / 4, this.tokens + ((now - this.last) / 1000) * this.bytesPerS);
    this.last = now;
  }
}
