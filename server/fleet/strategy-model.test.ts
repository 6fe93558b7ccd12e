import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMs, predictPrecopy, recommendStrategy, type StrategyModelInput } from './strategy-model';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const input = (over: Partial<StrategyModelInput>): StrategyModelInput => ({
  sizeBytes: 512 * MiB,
  writeRateBytesPerS: 0,
  writeRateBasis: 'p95',
  copyRateBytesPerS: 200 * MiB,
  copyRateBasis: 'default',
  ...over,
});

describe('predictPrecopy', () => {
  it('needs one pass and no pause when nothing writes', () => {
    expect(predictPrecopy(512 * MiB, 200 * MiB, 0, 100)).toEqual({ converges: true, passes: 1, switchPauseMs: 0, durationS: 2.56, thresholdBytes: 20 * MiB });
  });

  it('follows the geometric series: 512 GiB at 1.2 GiB/s against 0.4 GiB/s of writes', () => {
    const prediction = predictPrecopy(512 * GiB, 1.2 * GiB, 0.4 * GiB, 100);
    // S / T = 512 / 0.12 ≈ 4267; log₃ 4267 ≈ 7.6 → 8 passes; 512 GiB / 3⁸ left, copied at 1.2 GiB/s.
    expect(prediction.passes).toBe(8);
    expect(prediction.switchPauseMs).toBeCloseTo((512 / 3 ** 8 / 1.2) * 1000, 6);
    expect(prediction.durationS).toBeCloseTo((512 / 1.2) * ((1 - (1 / 3) ** 8) / (1 - 1 / 3)) + prediction.switchPauseMs! / 1000, 6);
  });

  it('does not converge when writes keep up with the copy', () => {
    expect(predictPrecopy(GiB, 100 * MiB, 100 * MiB, 100)).toMatchObject({ converges: false, passes: null, switchPauseMs: null });
    expect(predictPrecopy(GiB, 100 * MiB, 99.9 * MiB, 100)).toMatchObject({ converges: false });
  });

  it('always switches within the pause budget when it converges', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MiB, max: 64 * 1024 * GiB }),
        fc.integer({ min: MiB, max: 4 * GiB }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        (size, copy, share, budgetMs) => {
          const prediction = predictPrecopy(size, copy, copy * share, budgetMs);
          if (!prediction.converges) return;
          expect(prediction.switchPauseMs!).toBeLessThanOrEqual(budgetMs * (1 + 1e-9));
          expect(prediction.passes!).toBeGreaterThanOrEqual(1);
        },
      ),
    );
  });
});

describe('recommendStrategy', () => {
  it('recommends pre-copy when writes are well below the copy rate, stating the numbers', () => {
    const r = recommendStrategy(input({ writeRateBytesPerS: 10 * MiB }));
    expect(r).toMatchObject({ strategy: 'precopy', copyRateBytesPerS: 200 * MiB, limitedByThrottle: false, writeShare: 0.05 });
    expect(r.reason).toBe('Pre-copy: copy ~200 MiB/s (default; no recent migration on this host) vs writes p95 10 MiB/s, ~2 passes, switch pause ~6.4 ms (budget 100 ms).');
  });

  it('chooses mirror when writes are above half the copy rate, though a pre-copy would converge', () => {
    const r = recommendStrategy(input({ writeRateBytesPerS: 120 * MiB, copyRateBasis: 'measured' }));
    expect(r.strategy).toBe('mirror');
    expect(r.precopy.converges).toBe(true);
    expect(r.reason).toMatch(/^Pre-copy would need ~\d+ passes: writes \(p95 120 MiB\/s\) are 60% of the expected copy rate \(~200 MiB\/s \(measured on this host\)\)/);
    expect(r.reason).toMatch(/Auto chooses Mirror\.$/);
  });

  it('chooses mirror when a throttle brings the copy rate down to the writes', () => {
    const r = recommendStrategy(input({ writeRateBytesPerS: 30 * MiB, throttleBytesPerS: 30 * MiB }));
    expect(r).toMatchObject({ strategy: 'mirror', copyRateBytesPerS: 30 * MiB, limitedByThrottle: true, mirror: { durationS: 512 / 30 } });
    expect(r.reason).toBe('Pre-copy would not converge: writes (p95 30 MiB/s) are at or above the expected copy rate (~30 MiB/s (limited by the throttle)). Auto chooses Mirror.');
  });

  it('ignores a throttle above the expected copy rate, and treats unmeasured writes as none', () => {
    const r = recommendStrategy(input({ writeRateBytesPerS: null, writeRateBasis: 'none', throttleBytesPerS: GiB }));
    expect(r).toMatchObject({ strategy: 'precopy', copyRateBytesPerS: 200 * MiB, limitedByThrottle: false, writeRateBytesPerS: 0 });
    expect(r.reason).toContain('vs writes no writes measured yet');
  });
});

describe('formatMs', () => {
  it.each([
    [0, '0 ms'],
    [0.842, '0.84 ms'],
    [3.14, '3.1 ms'],
    [84.4, '84 ms'],
    [1800, '1.8 s'],
  ])('%s ms → %s', (ms, text) => expect(formatMs(ms)).toBe(text));
});
