/**
 * Wraps the device the application writes to and records, for every write, when it finished
 * and how long it took, on the benchmark's clock (performance.now()). The latency is the one the
 * application sees from the volume: it includes a wait at the cutover gate, which the volume's
 * own writeStats does not (its timer starts after the gate).
 */
import type { BlockDevice } from '../server/dataplane/block-device';
import { quantile } from './stats';

export interface WriteWindow {
  writes: number;
  iops: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export class WriteRecorder implements BlockDevice {
  private finishedAtMs: number[] = [];
  private latenciesMs: number[] = [];

  constructor(private readonly device: BlockDevice) {}

  get sizeBytes() {
    return this.device.sizeBytes;
  }

  read(offset: number, length: number) {
    return this.device.read(offset, length);
  }

  async write(offset: number, data: Buffer, options?: { fua?: boolean }) {
    const started = performance.now();
    await this.device.write(offset, data, options);
    const finished = performance.now();
    this.finishedAtMs.push(finished);
    this.latenciesMs.push(finished - started);
  }

  flush() {
    return this.device.flush();
  }

  trim(offset: number, length: number, options?: { fua?: boolean }) {
    return this.device.trim(offset, length, options);
  }

  writeZeroes(offset: number, length: number, options?: { fua?: boolean; mayTrim?: boolean }) {
    return this.device.writeZeroes(offset, length, options);
  }

  /** Writes that finished in [fromMs, toMs): rate and latency. */
  window(fromMs: number, toMs: number): WriteWindow {
    const latencies: number[] = [];
    // Completion times are pushed in order, so the window is a contiguous slice.
    for (let i = lowerBound(this.finishedAtMs, fromMs); i < this.finishedAtMs.length && this.finishedAtMs[i]! < toMs; i++) latencies.push(this.latenciesMs[i]!);
    latencies.sort((a, b) => a - b);
    const seconds = Math.max(0.001, (toMs - fromMs) / 1000);
    return { writes: latencies.length, iops: latencies.length / seconds, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), maxMs: latencies.at(-1) ?? null };
  }
}

function lowerBound(ascending: readonly number[], value: number): number {
  let low = 0;
  let high = ascending.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (ascending[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
