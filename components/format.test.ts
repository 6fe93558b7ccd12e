import { describe, expect, it } from 'vitest';
import {
  byteUnitFor,
  formatAbsolute,
  formatBytes,
  formatBytesInUnit,
  formatCopyVsWrites,
  formatEta,
  formatLatency,
  formatTimeOfDay,
  formatBytesExact,
  formatCount,
  formatDuration,
  formatPercent,
  formatRate,
  formatRelative,
  formatSignedBytes,
  formatStopwatch,
  formatUsedOfTotal,
  middleTruncate,
} from './format';

const nbsp = (text: string) => text.replace(/ /g, '\u00a0');

describe('formatBytes (docs/ui.md §5.1)', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1_536, '1.50 KiB'],
    [13_002_342_400, '12.1 GiB'],
    [549_755_813_888, '512 GiB'],
    [1_072_693_248, '1,023 MiB'],
    [4_617_948_836_659, '4.20 TiB'],
  ])('%d bytes → %s', (bytes, expected) => {
    expect(formatBytes(bytes)).toBe(nbsp(expected));
  });

  it('uses KiB with a capital K and a non-breaking space', () => {
    expect(formatBytes(2048)).toBe('2.00\u00a0KiB');
  });

  it('moves to the next unit instead of showing 1,024 of the smaller one', () => {
    expect(formatBytes(1024 ** 3 - 1)).toBe(nbsp('1.00 GiB'));
  });

  it('keeps the digit rule after rounding', () => {
    expect(formatBytes(9.996 * 1024 ** 2)).toBe(nbsp('10.0 MiB'));
    expect(formatBytes(99.97 * 1024 ** 2)).toBe(nbsp('100 MiB'));
  });

  it('never uses SI units', () => {
    for (const bytes of [1_000, 1_000_000, 1e9, 1e12, 1e15]) expect(formatBytes(bytes)).toMatch(/(B|KiB|MiB|GiB|TiB|PiB)$/);
  });
});

describe('signed, exact and rate forms', () => {
  it('uses a real minus and a plus', () => {
    expect(formatSignedBytes(1.2 * 1024 ** 3)).toBe(nbsp('+1.20 GiB'));
    expect(formatSignedBytes(-512 * 1024 ** 2)).toBe(nbsp('\u2212512 MiB'));
  });
  it('gives the exact byte count for tooltips', () => {
    expect(formatBytesExact(1_099_511_627_776)).toBe('1,099,511,627,776 bytes');
  });
  it('formats rates with /s', () => {
    expect(formatRate(612 * 1024 ** 2)).toBe(nbsp('612 MiB/s'));
    expect(formatRate(2.4 * 1024 ** 3)).toBe(nbsp('2.40 GiB/s'));
    expect(formatRate(0)).toBe(nbsp('0 B/s'));
  });
});

describe('formatCount and formatPercent', () => {
  it('groups and pluralises', () => {
    expect(formatCount(1240, 'volume')).toBe('1,240 volumes');
    expect(formatCount(1, 'volume')).toBe('1 volume');
    expect(formatCount(2, 'plex', 'plexes')).toBe('2 plexes');
  });
  it('floors, and never says 0% or 100% when it is not', () => {
    expect(formatPercent(0, 100)).toBe('0%');
    expect(formatPercent(0.2, 100)).toBe('<1%');
    expect(formatPercent(78.9, 100)).toBe('78%');
    expect(formatPercent(99.99, 100)).toBe('99%');
    expect(formatPercent(100, 100)).toBe('100%');
    expect(formatPercent(5, 0)).toBe('—');
  });
});

describe('formatDuration (docs/ui.md §5.5)', () => {
  it.each([
    [400, '<1 s'],
    [45_000, '45 s'],
    [200_000, '3 min 20 s'],
    [130_000, '2 min 10 s'],
    [120_000, '2 min'],
    [12 * 60_000 + 30_000, '12 min'],
    [(2 * 60 + 5) * 60_000, '2 h 05 min'],
    [(3 * 24 + 4) * 3_600_000, '3 d 4 h'],
  ])('%d ms → %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  it('has a stopwatch form', () => {
    expect(formatStopwatch(12_000)).toBe('0:12');
    expect(formatStopwatch((12 * 60 + 5) * 1000)).toBe('12:05');
    expect(formatStopwatch((3600 + 2 * 60 + 5) * 1000)).toBe('1:02:05');
  });
});

describe('times (docs/ui.md §5.7)', () => {
  const now = new Date(2026, 10, 28, 14, 3, 12);
  const ago = (ms: number) => new Date(now.getTime() - ms);

  it.each([
    [3_000, 'just now'],
    [42_000, '42 s ago'],
    [5 * 60_000, '5 min ago'],
    [3 * 3_600_000, '3 h ago'],
  ])('%d ms before → %s', (ms, expected) => {
    expect(formatRelative(ago(ms), now)).toBe(expected);
  });

  it('says yesterday with the clock time, then gives the date', () => {
    expect(formatRelative(new Date(2026, 10, 27, 9, 15), now)).toBe('yesterday 09:15');
    expect(formatRelative(new Date(2026, 10, 20, 9, 15, 7), now)).toBe('20 Nov 09:15:07');
  });

  it('handles the future', () => {
    expect(formatRelative(new Date(now.getTime() + 5 * 60_000), now)).toBe('in 5 min');
  });

  it('formats absolute times with the year only when it differs', () => {
    expect(formatAbsolute(now, now)).toBe('28 Nov 14:03:12');
    expect(formatAbsolute(new Date(2025, 0, 2, 3, 4, 5), now)).toBe('2 Jan 2025 03:04:05');
  });
});

describe('middleTruncate (docs/ui.md §5.8)', () => {
  it('keeps the first 5 and last 4 groups of a colon-separated id', () => {
    expect(middleTruncate('60:0a:09:80:4f:11:22:33:44:55:3f:41')).toBe('60:0a:09:80:4f…44:55:3f:41');
  });
  it('shortens long plain WWNs and leaves short ids alone', () => {
    expect(middleTruncate('60e7e5a0123456789abcdef012345678')).toBe('60e7e5a012…345678');
    expect(middleTruncate('lun-01')).toBe('lun-01');
  });
});

describe('formatUsedOfTotal (docs/ui.md §4.4)', () => {
  it('states the unit once when both share it', () => {
    expect(formatUsedOfTotal(6.08 * 1024 ** 4, 7.8 * 1024 ** 4)).toBe('6.08 / 7.80\u00a0TiB');
    expect(formatUsedOfTotal(512 * 1024 ** 3, 7.8 * 1024 ** 4, ' of ')).toBe('512\u00a0GiB of 7.80\u00a0TiB');
  });
});

describe('formatLatency (§5.3)', () => {
  it('uses two significant digits under 1 ms, one decimal to 10 ms, integers to 1 s, then seconds', () => {
    expect(formatLatency(0.84)).toBe('0.84\u00a0ms');
    expect(formatLatency(0.123)).toBe('0.12\u00a0ms');
    expect(formatLatency(3.14)).toBe('3.1\u00a0ms');
    expect(formatLatency(84.4)).toBe('84\u00a0ms');
    expect(formatLatency(1800)).toBe('1.8\u00a0s');
    expect(formatLatency(0)).toBe('0\u00a0ms');
  });
});

describe('formatEta (§5.6)', () => {
  it('shows a point when the spread is tight, rounded by magnitude', () => {
    expect(formatEta({ p10: 500, p50: 540, p90: 580 })).toBe('~9 min');
    expect(formatEta({ p10: 1400, p50: 1500, p90: 1600 })).toBe('~25 min');
    expect(formatEta({ p10: 170, p50: 185, p90: 200 })).toBe('~3 min');
    expect(formatEta({ p10: 7000, p50: 7500, p90: 8000 })).toBe('~2 h 00 min');
    expect(formatEta({ p10: 20, p50: 30, p90: 40 })).toBe('<1 min');
  });
  it('shows a range when the spread is wide, and an open end when the slow case never ends', () => {
    expect(formatEta({ p10: 600, p50: 800, p90: 1080 })).toBe('10–20 min');
    expect(formatEta({ p10: 3000, p50: 4000, p90: 6000 })).toBe('50 min–1 h 45 min');
    expect(formatEta({ p10: 30, p50: 200, p90: 400 })).toBe('<1–7 min');
    expect(formatEta({ p10: 600, p50: 720, p90: null })).toBe('10 min or more');
  });
});

describe('formatCopyVsWrites (§5.2)', () => {
  it('says the ratio in words', () => {
    expect(formatCopyVsWrites(1.2 * 1024 ** 3, 400 * 1024 ** 2)).toBe('copy 3.1× faster');
    expect(formatCopyVsWrites(100, 120)).toBe('writes faster than copy');
    expect(formatCopyVsWrites(100, 0)).toBe('no application writes');
  });
});

describe('axis units (§4.1.3)', () => {
  it('keeps one unit per axis, chosen from the largest value', () => {
    const unit = byteUnitFor(768 * 1024 ** 2);
    expect([0, 256, 512, 768].map((m) => formatBytesInUnit(m * 1024 ** 2, unit))).toEqual(['0\u00a0MiB', '256\u00a0MiB', '512\u00a0MiB', '768\u00a0MiB']);
    expect(formatBytesInUnit(1.5 * 1024 ** 3, byteUnitFor(2 * 1024 ** 3))).toBe('1.5\u00a0GiB');
  });
  it('formats a time of day', () => {
    expect(formatTimeOfDay(new Date(2026, 0, 1, 9, 5, 7), true)).toBe('09:05:07');
    expect(formatTimeOfDay(new Date(2026, 0, 1, 9, 5, 7))).toBe('09:05');
  });
});
