/**
 * Owns the convergence model (docs/architecture.md, docs/ui.md §3.9.3–§3.9.4): from a migration's recent samples
 * and its passes, whether a pre-copy converges, what its next passes will copy, when it switches
 * and how long the switch pauses writes; for a mirror, when the resync ends. Pure arithmetic: no
 * I/O, so the engine, the API and tests share it.
 *
 * The pre-copy model is Clark et al.'s: a pass that copies B bytes at copy rate c takes B / c
 * seconds, during which writes at rate w dirty about B · w / c bytes, so each pass is the last
 * one times r = w / c. The switch happens once what is left copies within the pause budget,
 * i.e. falls to the threshold T = budget × c (or the agent's own threshold when it reports one).
 */

/** What the model reads from a stored sample. */
export interface PredictionSample {
  at: Date;
  phase: string;
  pass: number;
  leftBytes: number;
  thresholdBytes: number | null;
  copyRateBytesPerS: number;
  writeRateBytesPerS: number;
}

/** A completed pass, in bytes. */
export interface PredictionPass {
  pass: number;
  bytesAtStart: number;
  redirtiedBytes: number;
}

export interface PredictionInput {
  strategy: 'precopy' | 'mirror';
  /** The console state: only running states get an ETA. */
  state: string;
  volumeSizeBytes: number;
  /** Samples in time order; the model reads the last `RATE_WINDOW_S` seconds of them. */
  samples: readonly PredictionSample[];
  passes: readonly PredictionPass[];
  pauseBudgetMs: number;
}

export type PredictionCondition =
  | 'estimating' // too little data for a basis
  | 'converging' // pre-copy passes shrink, or a mirror resync runs
  | 'not-converging' // pre-copy: writes keep up with the copy
  | 'ready' // what is left already fits the pause budget
  | 'stalled' // running, but nothing copied for the whole window
  | 'paused'
  | 'not-running'; // before the copy, after the switch, or ended

export interface Prediction {
  condition: PredictionCondition;
  /** Mean rates over the window (bytes/s); null without samples. */
  copyRateBytesPerS: number | null;
  writeRateBytesPerS: number | null;
  /** What shrinks the left bytes: copy − writes for pre-copy, copy for mirror. */
  netRateBytesPerS: number | null;
  leftBytes: number | null;
  thresholdBytes: number | null;
  /** Pre-copy: how many times smaller each pass is than the last (c / w); null when writes are idle. */
  shrinkFactor: number | null;
  /** The pass running now, and the passes there will be in all, counting it ("pass 2 of about 6"). */
  pass: number | null;
  totalPassesEstimate: number | null;
  /** Pre-copy: the bytes each predicted pass after the running one will copy. */
  nextPasses: { pass: number; bytes: number }[];
  /** Pre-copy: what the final stop-and-copy moves, and the pause that costs. */
  switchBytes: number | null;
  switchPauseMs: number | null;
  /** What `cut over now` would pause writes for: left ÷ copy rate. */
  pauseIfSwitchedNowMs: number | null;
  /** Seconds from the newest sample until the switch (pre-copy) or the end of the resync (mirror). */
  etaS: { p10: number; p50: number; p90: number | null } | null;
  /** The predicted left-to-copy line: from the newest sample to the switch, at pass boundaries. */
  points: { at: Date; leftBytes: number }[];
  /** Seconds of samples the rates come from. */
  basisS: number;
}

/** Rates are read from this many seconds before the newest sample. */
export const RATE_WINDOW_S = 60;
/** Less than this much data, and no completed pass, is no basis for an ETA (docs/ui.md §5.6). */
export const MIN_BASIS_S = 30;
/** The spread of the ETA comes from the net rate of blocks of this many seconds. */
const BLOCK_S = 5;
/** More predicted passes than this means "not in any useful time". */
const MAX_PASSES = 50;

const RUNNING = ['copying', 'syncing', 'ready'];
const COPY_PHASES = ['copying', 'converging', 'ready'];

const empty = (condition: PredictionCondition): Prediction => ({
  condition,
  copyRateBytesPerS: null,
  writeRateBytesPerS: null,
  netRateBytesPerS: null,
  leftBytes: null,
  thresholdBytes: null,
  shrinkFactor: null,
  pass: null,
  totalPassesEstimate: null,
  nextPasses: [],
  switchBytes: null,
  switchPauseMs: null,
  pauseIfSwitchedNowMs: null,
  etaS: null,
  points: [],
  basisS: 0,
});

/** The q-quantile (0..1) of sorted values, interpolated linearly between neighbours. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  const low = sorted[below] ?? 0;
  const high = sorted[above] ?? low;
  return low + (high - low) * (position - below);
}

const mean = (values: readonly number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;

/** Time to reach `threshold` from `left` with passes that shrink by `ratio`, at `copyRate`; the pass sizes walked. */
function geometric(left: number, threshold: number, ratio: number, copyRate: number) {
  const sizes: number[] = [];
  let size = left;
  let seconds = 0;
  while (size > threshold && sizes.length < MAX_PASSES) {
    sizes.push(size);
    seconds += size / copyRate;
    size *= ratio;
  }
  return { seconds, sizes, final: size, converges: size <= threshold };
}

export function predict(input: PredictionInput): Prediction {
  const newest = input.samples.at(-1);
  if (!newest) return empty(input.state === 'paused' ? 'paused' : 'not-running');
  const windowStart = newest.at.getTime() - RATE_WINDOW_S * 1000;
  const window = input.samples.filter((s) => s.at.getTime() > windowStart && COPY_PHASES.includes(s.phase));
  const precopy = input.strategy === 'precopy';
  const left = newest.leftBytes;

  const base = empty('not-running');
  base.leftBytes = left;
  base.pass = newest.pass;
  if (window.length === 0) return { ...base, condition: input.state === 'paused' ? 'paused' : 'not-running' };

  const copy = mean(window.map((s) => s.copyRateBytesPerS));
  const writes = mean(window.map((s) => s.writeRateBytesPerS));
  const net = precopy ? copy - writes : copy;
  const threshold = precopy ? (newest.thresholdBytes ?? (input.pauseBudgetMs / 1000) * copy) : 0;
  const basisS = (window.at(-1)!.at.getTime() - window[0]!.at.getTime()) / 1000 + 1;
  const rates: Prediction = {
    ...base,
    copyRateBytesPerS: copy,
    writeRateBytesPerS: writes,
    netRateBytesPerS: net,
    thresholdBytes: precopy ? threshold : null,
    shrinkFactor: precopy && writes > 0 ? copy / writes : null,
    pauseIfSwitchedNowMs: copy > 0 ? (left / copy) * 1000 : null,
    basisS,
  };

  if (!RUNNING.includes(input.state)) return { ...rates, condition: input.state === 'paused' ? 'paused' : 'not-running' };
  if (precopy && left <= threshold) {
    return { ...rates, condition: 'ready', switchBytes: left, switchPauseMs: rates.pauseIfSwitchedNowMs, totalPassesEstimate: newest.pass + 1, etaS: { p10: 0, p50: 0, p90: 0 } };
  }
  if (copy <= 0) return { ...rates, condition: basisS >= RATE_WINDOW_S ? 'stalled' : 'estimating' };

  const ladder = precopy ? passLadder(input, newest.pass, left, threshold, writes / copy) : null;
  const withLadder: Prediction = ladder
    ? { ...rates, nextPasses: ladder.nextPasses, switchBytes: ladder.switchBytes, switchPauseMs: (ladder.switchBytes / copy) * 1000, totalPassesEstimate: newest.pass + 1 + ladder.nextPasses.length }
    : rates;
  if (precopy && writes >= copy) return { ...withLadder, condition: 'not-converging', nextPasses: [], switchBytes: null, switchPauseMs: null, totalPassesEstimate: null };
  if (basisS < MIN_BASIS_S && input.passes.length === 0) return { ...withLadder, condition: 'estimating' };

  const etaAt = (copyRate: number, writeRate: number): number | null => {
    if (copyRate <= 0) return null;
    if (!precopy) return left / copyRate;
    if (writeRate >= copyRate) return null;
    const walk = geometric(left, threshold, writeRate / copyRate, copyRate);
    return walk.converges ? walk.seconds : null;
  };
  const p50 = etaAt(copy, writes);
  if (p50 === null) return { ...withLadder, condition: 'not-converging' };

  // The spread: the net rate of 5 s blocks, their fastest decile giving P10 and slowest P90,
  // at the window's mean copy rate (for a mirror the net rate is the copy rate).
  const nets = blockRates(window, precopy).sort((a, b) => a - b);
  let p10 = p50;
  let p90: number | null = p50;
  if (nets.length >= 2) {
    const at = (netRate: number) => (precopy ? etaAt(copy, copy - netRate) : etaAt(netRate, 0));
    p10 = Math.min(p50, at(quantile(nets, 0.9)) ?? p50);
    const slow = at(quantile(nets, 0.1));
    p90 = slow === null ? null : Math.max(p50, slow);
  }

  return { ...withLadder, condition: 'converging', etaS: { p10, p50, p90 }, points: continuation(newest.at, left, threshold, precopy ? writes / copy : 0, copy, precopy) };
}

/**
 * The passes after the running one: the running pass began with what the previous pass left
 * (the whole volume for pass 0), and each next one is r times the one before, until one fits
 * under the threshold: that one is the switch, not a pass.
 */
function passLadder(input: PredictionInput, pass: number, left: number, threshold: number, ratio: number) {
  const previous = input.passes.find((p) => p.pass === pass - 1);
  const startedWith = Math.max(left, pass === 0 ? input.volumeSizeBytes : (previous?.redirtiedBytes ?? left));
  const nextPasses: { pass: number; bytes: number }[] = [];
  let size = startedWith * ratio;
  while (size > threshold && nextPasses.length < MAX_PASSES && ratio < 1) {
    nextPasses.push({ pass: pass + 1 + nextPasses.length, bytes: size });
    size *= ratio;
  }
  return { nextPasses, switchBytes: size };
}

/** The net rate (copy − writes, or copy for a mirror) of each consecutive 5 s block of the window. */
function blockRates(window: readonly PredictionSample[], precopy: boolean): number[] {
  const start = window[0]!.at.getTime();
  const blocks = new Map<number, PredictionSample[]>();
  for (const sample of window) {
    const key = Math.floor((sample.at.getTime() - start) / (BLOCK_S * 1000));
    blocks.set(key, [...(blocks.get(key) ?? []), sample]);
  }
  return [...blocks.values()].map((samples) => mean(samples.map((s) => s.copyRateBytesPerS - (precopy ? s.writeRateBytesPerS : 0))));
}

/** The dashed line after the newest sample: left bytes at each predicted pass boundary, then the switch. */
function continuation(from: Date, left: number, threshold: number, ratio: number, copy: number, precopy: boolean) {
  const points = [{ at: from, leftBytes: left }];
  if (!precopy) return [...points, { at: new Date(from.getTime() + (left / copy) * 1000), leftBytes: 0 }];
  const walk = geometric(left, threshold, ratio, copy);
  let t = from.getTime();
  for (const size of walk.sizes) {
    t += (size / copy) * 1000;
    points.push({ at: new Date(t), leftBytes: size * ratio });
  }
  return points;
}
