/** The convergence chart's arithmetic: gaps, ticks and the spans it shades. */
import { describe, expect, it } from 'vitest';
import { chartRows, gapSpans, linearTicks, logTicks, nearCopySpans, type ChartSample } from './chart-data';

const MiB = 1024 ** 2;
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const sample = (second: number, over: Partial<ChartSample> = {}): ChartSample => ({
  id: second + 1,
  at: new Date(T0 + second * 1000),
  phase: 'converging',
  pass: 1,
  leftBytes: 64 * MiB,
  thresholdBytes: 8 * MiB,
  copyRateBytesPerS: 100 * MiB,
  writeRateBytesPerS: 20 * MiB,
  writeLatencyP50Us: 500,
  writeLatencyP99Us: 3000,
  throttleBytesPerS: null,
  ...over,
});

describe('chartRows', () => {
  it('breaks the line with an empty row where samples stop for more than 3 intervals', () => {
    const rows = chartRows([sample(0), sample(1), sample(2), sample(10), sample(11)], null);
    expect(rows.map((r) => r.left === null)).toEqual([false, false, false, true, false, false]);
    expect(rows[3]?.t).toBe(T0 + 3000);
    expect(rows[0]?.p99Ms).toBe(3);
  });

  it('clamps zero to the floor on a log axis but keeps the real value', () => {
    const [row] = chartRows([sample(0, { leftBytes: 0 })], MiB / 2);
    expect(row).toMatchObject({ left: MiB / 2, leftBytes: 0 });
  });
});

describe('spans', () => {
  it('finds the no-data spans, up to now', () => {
    expect(gapSpans([sample(0), sample(1), sample(2), sample(10), sample(11)], T0 + 12_000)).toEqual([{ x1: T0 + 2000, x2: T0 + 10_000 }]);
    expect(gapSpans([sample(0), sample(1), sample(2)], T0 + 30_000)).toEqual([{ x1: T0 + 2000, x2: T0 + 30_000 }]);
  });

  it('shades where writes reach 90% of the copy rate', () => {
    const samples = [sample(0), sample(1, { writeRateBytesPerS: 90 * MiB }), sample(2, { writeRateBytesPerS: 120 * MiB }), sample(3), sample(4)];
    expect(nearCopySpans(samples)).toEqual([{ x1: T0 + 1000, x2: T0 + 3000 }]);
  });
});

describe('ticks', () => {
  it('puts log ticks at powers of two, thinned to about six', () => {
    expect(logTicks(4 * MiB, 512 * MiB)).toEqual([4, 8, 16, 32, 64, 128, 256, 512].map((m) => m * MiB).filter((_, i) => i % 2 === 1));
    expect(logTicks(32 * MiB, 100 * MiB)).toEqual([32 * MiB, 64 * MiB]);
  });

  it('steps linear ticks by a power of two', () => {
    expect(linearTicks(1000 * MiB)).toEqual([0, 256, 512, 768].map((m) => m * MiB));
    expect(linearTicks(1024 * MiB)).toEqual([0, 256, 512, 768, 1024].map((m) => m * MiB));
    expect(linearTicks(0)).toEqual([0]);
  });
});
