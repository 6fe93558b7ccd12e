/** Application write latencies and bytes since the last `take()`, for per-second telemetry. */
export class LatencyWindow {
  private latenciesMs: number[] = [];
  private bytes = 0;
  private writes = 0;
  private since = performance.now();

  record(latencyMs: number, bytes: number) {
    if (this.latenciesMs.length < 100_000) this.latenciesMs.push(latencyMs);
    this.bytes += bytes;
    this.writes += 1;
  }

  take(): { writes: number; bytes: number; seconds: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null } {
    const now = performance.now();
    const sorted = this.latenciesMs.sort((a, b) => a - b);
    const pick = (q: number) => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null) : null);
    const result = { writes: this.writes, bytes: this.bytes, seconds: (now - this.since) / 1000, p50Ms: pick(0.5), p99Ms: pick(0.99), maxMs: sorted.at(-1) ?? null };
    this.latenciesMs = [];
    this.bytes = 0;
    this.writes = 0;
    this.since = now;
    return result;
  }
}
