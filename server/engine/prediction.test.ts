/** The convergence model against figures worked out by hand. */
import { describe, expect, it } from 'vitest';
import { predict, quantile, type PredictionInput, type PredictionSample } from './prediction';

const MiB = 1024 ** 2;
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

/** One sample a second for `seconds`, rates per second from `rates(i)`; the last one carries `leftBytes`. */
function samples(seconds: number, rates: (i: number) => { copy: number; writes: number }, last: Partial<PredictionSample> = {}): PredictionSample[] {
  return Array.from({ length: seconds }, (_, i) => ({
    at: new Date(T0 + i * 1000),
    phase: 'converging',
    pass: 1,
    leftBytes: 500 * MiB,
    thresholdBytes: 10 * MiB,
    copyRateBytesPerS: rates(i).copy * MiB,
    writeRateBytesPerS: rates(i).writes * MiB,
    ...(i === seconds - 1 ? last : {}),
  }));
}

const precopy = (over: Partial<PredictionInput>): PredictionInput => ({
  strategy: 'precopy',
  state: 'copying',
  volumeSizeBytes: 1024 * MiB,
  samples: [],
  passes: [{ pass: 0, bytesAtStart: 1024 * MiB, redirtiedBytes: 256 * MiB }],
  pauseBudgetMs: 100,
  ...over,
});

describe('predict, pre-copy', () => {
  // copy 100 MiB/s, writes 25 MiB/s: each pass is a quarter of the last; threshold 10 MiB.
  const steady = samples(60, () => ({ copy: 100, writes: 25 }), { leftBytes: 160 * MiB });

  it('predicts the next passes, the switch and its pause from the running pass', () => {
    const p = predict(precopy({ samples: steady }));
    expect(p.condition).toBe('converging');
    expect(p.shrinkFactor).toBe(4);
    // Pass 1 began with the 256 MiB pass 0 left: then 64 MiB, 16 MiB, and 4 MiB fits under 10 MiB.
    expect(p.nextPasses).toEqual([
      { pass: 2, bytes: 64 * MiB },
      { pass: 3, bytes: 16 * MiB },
    ]);
    expect(p.totalPassesEstimate).toBe(4);
    expect(p.switchBytes).toBe(4 * MiB);
    expect(p.switchPauseMs).toBeCloseTo(40);
    expect(p.pauseIfSwitchedNowMs).toBeCloseTo(1600);
    expect(p.netRateBytesPerS).toBe(75 * MiB);
  });

  it('takes the ETA from the geometric walk of what is left: 160 MiB in 1.6 s, 40 MiB in 0.4 s, then 10 MiB fits', () => {
    const p = predict(precopy({ samples: steady }));
    expect(p.etaS?.p50).toBeCloseTo(2);
    expect(p.etaS?.p10).toBeCloseTo(2);
    expect(p.etaS?.p90).toBeCloseTo(2);
    expect(p.points.map((point) => [(point.at.getTime() - T0) / 1000, point.leftBytes / MiB])).toEqual([
      [59, 160],
      [60.6, 40],
      [61, 10],
    ]);
  });

  it('widens the ETA by the spread of the net rate over 5 s blocks', () => {
    // Half the blocks write 25 MiB/s, half 50: mean writes 37.5, r = 0.375.
    // P50: 160 (1.6 s), 60 (0.6 s), 22.5 (0.225 s), then 8.44 fits: 2.425 s.
    // Fastest decile net 75 → writes 25: 2.0 s. Slowest decile net 50 → writes 50: 1.6+0.8+0.4+0.2 = 3.0 s.
    const mixed = samples(60, (i) => ({ copy: 100, writes: i < 30 ? 25 : 50 }), { leftBytes: 160 * MiB });
    const p = predict(precopy({ samples: mixed }));
    expect(p.etaS?.p10).toBeCloseTo(2.0);
    expect(p.etaS?.p50).toBeCloseTo(2.425);
    expect(p.etaS?.p90).toBeCloseTo(3.0);
  });

  it('says a pre-copy will not converge when writes keep up with the copy', () => {
    const p = predict(precopy({ samples: samples(60, () => ({ copy: 100, writes: 120 })) }));
    expect(p.condition).toBe('not-converging');
    expect(p.etaS).toBeNull();
    expect(p.nextPasses).toEqual([]);
    expect(p.shrinkFactor).toBeCloseTo(100 / 120);
  });

  it('withholds the ETA with under 30 s of samples and no completed pass', () => {
    const p = predict(precopy({ samples: samples(10, () => ({ copy: 100, writes: 25 })), passes: [] }));
    expect(p.condition).toBe('estimating');
    expect(p.etaS).toBeNull();
    expect(p.copyRateBytesPerS).toBe(100 * MiB);
  });

  it('is ready when what is left already fits the pause', () => {
    const p = predict(precopy({ samples: samples(60, () => ({ copy: 100, writes: 25 }), { leftBytes: 8 * MiB }) }));
    expect(p.condition).toBe('ready');
    expect(p.switchPauseMs).toBeCloseTo(80);
    expect(p.etaS?.p50).toBe(0);
  });

  it('calls a copy that moved nothing for the whole window stalled', () => {
    const p = predict(precopy({ samples: samples(60, () => ({ copy: 0, writes: 25 })) }));
    expect(p.condition).toBe('stalled');
    expect(p.pauseIfSwitchedNowMs).toBeNull();
  });

  it('gives a paused migration its last rates but no ETA', () => {
    const p = predict(precopy({ state: 'paused', samples: steady }));
    expect(p.condition).toBe('paused');
    expect(p.etaS).toBeNull();
    expect(p.leftBytes).toBe(160 * MiB);
  });

  it('derives the threshold from the pause budget when the sample has none', () => {
    const p = predict(precopy({ samples: samples(60, () => ({ copy: 200, writes: 50 }), { thresholdBytes: null, leftBytes: 100 * MiB }) }));
    expect(p.thresholdBytes).toBe(20 * MiB); // 100 ms × 200 MiB/s
  });
});

describe('predict, mirror', () => {
  it('divides what is out of sync by the copy rate: writes go to both copies', () => {
    const mirror = samples(60, () => ({ copy: 100, writes: 80 }), { leftBytes: 300 * MiB, thresholdBytes: null });
    const p = predict({ strategy: 'mirror', state: 'syncing', volumeSizeBytes: 1024 * MiB, samples: mirror, passes: [], pauseBudgetMs: 100 });
    expect(p.condition).toBe('converging');
    expect(p.netRateBytesPerS).toBe(100 * MiB);
    expect(p.etaS?.p50).toBeCloseTo(3);
    expect(p.nextPasses).toEqual([]);
    expect(p.points.at(-1)).toEqual({ at: new Date(T0 + 62_000), leftBytes: 0 });
  });
});

describe('quantile', () => {
  it('interpolates between neighbours', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10], 0.9)).toBe(10);
  });
});
