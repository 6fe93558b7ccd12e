import { describe, expect, it } from 'vitest';
import { burndownRows, closedSpans, predictedBand, timeTicks, valueAt, windowOpenAt } from './burndown-data';

const MiB = 1024 ** 2;

describe('valueAt', () => {
  const line = [
    { t: 0, leftBytes: 100 },
    { t: 10, leftBytes: 50 },
    { t: 20, leftBytes: 0 },
  ];
  it('interpolates between points and is flat outside them', () => {
    expect(valueAt(line, -5)).toBe(100);
    expect(valueAt(line, 5)).toBe(75);
    expect(valueAt(line, 15)).toBe(25);
    expect(valueAt(line, 99)).toBe(0);
    expect(valueAt([], 3)).toBeNull();
  });
});

describe('predictedBand', () => {
  const from = 1_000_000;
  const points = [
    { t: from, leftBytes: 200 * MiB },
    { t: from + 100_000, leftBytes: 0 },
  ];
  it('reaches zero at the P10 finish on its low edge and at the P90 finish on its high edge', () => {
    const band = predictedBand(points, { p10: from + 50_000, p50: from + 100_000, p90: from + 200_000 }, from, 40);
    expect(band[0]).toEqual({ t: from, low: 200 * MiB, high: 200 * MiB });
    const atP10 = band.find((b) => b.t === from + 50_000);
    expect(atP10?.low).toBe(0);
    expect(atP10?.high).toBeGreaterThan(0);
    expect(band.at(-1)).toEqual({ t: from + 200_000, low: 0, high: 0 });
    for (const b of band) expect(b.low).toBeLessThanOrEqual(b.high);
  });
  it('is empty without a finish range or a line', () => {
    expect(predictedBand(points, null, from)).toEqual([]);
    expect(predictedBand(points.slice(0, 1), { p10: 1, p50: 2, p90: 3 }, from)).toEqual([]);
  });
});

describe('windows', () => {
  const utcClock = (t: number) => new Date(t).getUTCHours() * 60 + new Date(t).getUTCMinutes();
  const at = (hh: number, mm = 0) => Date.UTC(2026, 10, 28, hh, mm);
  it('knows a window that crosses midnight', () => {
    const nightly = { start: '22:00', end: '06:00', timeZone: 'UTC' };
    expect(windowOpenAt(nightly, at(23), utcClock)).toBe(true);
    expect(windowOpenAt(nightly, at(5, 59), utcClock)).toBe(true);
    expect(windowOpenAt(nightly, at(6), utcClock)).toBe(false);
    expect(windowOpenAt(nightly, at(12), utcClock)).toBe(false);
  });
  it('finds the closed spans in the window’s own time zone', () => {
    const spans = closedSpans({ start: '22:00', end: '06:00', timeZone: 'UTC' }, at(4), at(23));
    expect(spans).toEqual([{ x1: at(6), x2: at(22) }]);
    const paris = closedSpans({ start: '22:00', end: '06:00', timeZone: 'Europe/Paris' }, at(4), at(23));
    // 28 Nov: Paris is UTC+1, so the window closes at 05:00 UTC and opens at 21:00 UTC.
    expect(paris).toEqual([{ x1: at(5), x2: at(21) }]);
    expect(closedSpans(null, at(4), at(23))).toEqual([]);
  });
});

describe('burndownRows', () => {
  it('fills actual values at other series’ times as drawn, and breaks the lines in a gap', () => {
    const rows = burndownRows({
      actual: [
        { t: 0, leftOnSourceBytes: 100, leftToCopyBytes: 100 },
        { t: 10_000, leftOnSourceBytes: 100, leftToCopyBytes: 60 },
        { t: 20_000, leftOnSourceBytes: 50, leftToCopyBytes: 40 },
        { t: 90_000, leftOnSourceBytes: 40, leftToCopyBytes: 30 },
      ],
      planned: [{ t: 15_000, leftBytes: 70 }, { t: 50_000, leftBytes: 20 }],
      predicted: [{ t: 90_000, leftBytes: 40 }, { t: 120_000, leftBytes: 0 }],
      band: [],
    });
    const at = (t: number) => rows.find((r) => r.t === t);
    expect(at(15_000)).toMatchObject({ onSource: 100, toCopy: 50, planned: 70, awaiting: [50, 100] });
    // 20 s → 90 s is a gap: an empty row just after 20 s, and the planned point inside it carries no actual values.
    expect(at(25_000)).toMatchObject({ onSource: null, toCopy: null });
    expect(at(50_000)).toMatchObject({ onSource: null, toCopy: null, planned: 20 });
    expect(at(120_000)).toMatchObject({ onSource: null, predicted: 0 });
    expect(rows.map((r) => r.t)).toEqual([...rows.map((r) => r.t)].sort((a, b) => a - b));
  });
});

describe('timeTicks', () => {
  it('picks a round step', () => {
    expect(timeTicks([0, 3_600_000], 6)).toEqual([0, 600_000, 1_200_000, 1_800_000, 2_400_000, 3_000_000, 3_600_000]);
  });
});
