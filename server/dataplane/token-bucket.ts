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

  /** Resolves true once the bytes may proceed, or false as soon as `cancelled()` says so. */
  async take(bytes: number, cancelled: () => boolean = () => false): Promise<boolean> {
    for (;;) {
      if (cancelled()) return false;
      if (this.bytesPerS === null) return true;
      this.refill();
      if (this.tokens >= bytes || this.tokens >= this.bytesPerS / 4) {
        this.tokens -= bytes;
        return true;
      }
      const waitMs = Math.min(100, ((bytes - this.tokens) / this.bytesPerS) * 1000);
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, waitMs)));
    }
  }

  private refill() {
    const now = performance.now();
    if (this.bytesPerS !== null) this.tokens = Math.min(this.bytesPerS / 4, this.tokens + ((now - this.last) / 1000) * this.bytesPerS);
    this.last = now;
  }
}
