/**
 * Owns the choice between pre-copy and mirror before a migration starts (docs/architecture.md, "Convergence
 * prediction"; docs/ui.md §3.7). Pure arithmetic on three figures — volume size, expected copy rate,
 * measured write rate — so the Migrate dialog and the evacuation planner share it.
 *
 * The pre-copy model is the usual geometric one: pass 0 copies the whole volume in S / c seconds,
 * during which writes at w dirty about S · w / c bytes; each later pass is the previous one times
 * r = w / c. The job switches once what is left copies within the pause budget, i.e. falls to the
 * threshold T = budget × c, so it needs n = ⌈log(S / T) / log(c / w)⌉ passes and the switch pauses
 * writes for S · rⁿ / c. It ignores region granularity (a 4 KiB write dirties a whole region) and
 * thin holes (pass 0 skips them), which err in opposite directions.
 * Auto picks pre-copy only when writes are below half the copy rate: nearer than that, passes
 * shrink slowly and a burst can stall them, while a mirror converges under any write rate.
 */
import { formatBytes } from '@/server/format';

export const DEFAULT_COPY_RATE_BYTES_PER_S = 200 * 1024 * 1024;
export const DEFAULT_PAUSE_BUDGET_MS = 100;
/** Pre-copy is recommended only when writes are below this share of the copy rate. */
export const PRECOPY_MAX_WRITE_SHARE = 0.5;
/** More passes than this is "not in any useful time". */
export const MAX_PRECOPY_PASSES = 30;

export interface StrategyModelInput {
  sizeBytes: number;
  /** The write rate to plan for (the p95 when known); null when nothing was measured. */
  writeRateBytesPerS: number | null;
  /** Where the write rate comes from, for the reason text. */
  writeRateBasis: 'p95' | 'current' | 'none';
  /** The copy rate expected without a throttle. */
  copyRateBytesPerS: number;
  copyRateBasis: 'measured' | 'default';
  /** Where the copy rate was measured, for the reason text: this host's migrations (default) or the fleet's. */
  copyRateScope?: 'host' | 'fleet';
  throttleBytesPerS?: number | null;
  /** What the throttle is, for the reason text ("ARR-03's read budget shared by 8 jobs"); default "the throttle". */
  throttleLabel?: string;
  pauseBudgetMs?: number;
}

export interface PrecopyPrediction {
  converges: boolean;
  /** Passes before the switch, counting pass 0; null when it does not converge. */
  passes: number | null;
  switchPauseMs: number | null;
  /** Seconds from the first copied byte to the switch. */
  durationS: number | null;
  thresholdBytes: number;
}

export interface StrategyRecommendation {
  strategy: 'precopy' | 'mirror';
  /** The copy rate the prediction uses: the expected one, capped by the throttle. */
  copyRateBytesPerS: number;
  copyRateBasis: 'measured' | 'default';
  copyRateScope: 'host' | 'fleet';
  limitedByThrottle: boolean;
  throttleLabel: string;
  writeRateBytesPerS: number;
  writeRateBasis: 'p95' | 'current' | 'none';
  /** w / c. */
  writeShare: number;
  pauseBudgetMs: number;
  precopy: PrecopyPrediction;
  /** A mirror resyncs the volume once, at the copy rate, and never pauses writes. */
  mirror: { durationS: number };
  /** Why, in numbers: the sentence the dialog shows beside "Auto". */
  reason: string;
}

/** The write rate to plan a volume's move for: the hour's p95 when the agent reported one, else the current rate. */
export function planningWriteRate(volume: { writeRateBytesPerS: number | null; writeRateP95BytesPerS: number | null }): {
  writeRateBytesPerS: number | null;
  writeRateBasis: 'p95' | 'current' | 'none';
} {
  if (volume.writeRateP95BytesPerS !== null) return { writeRateBytesPerS: volume.writeRateP95BytesPerS, writeRateBasis: 'p95' };
  if (volume.writeRateBytesPerS !== null) return { writeRateBytesPerS: volume.writeRateBytesPerS, writeRateBasis: 'current' };
  return { writeRateBytesPerS: null, writeRateBasis: 'none' };
}

export function predictPrecopy(sizeBytes: number, copyRateBytesPerS: number, writeRateBytesPerS: number, pauseBudgetMs: number): PrecopyPrediction {
  const c = copyRateBytesPerS;
  const w = writeRateBytesPerS;
  const thresholdBytes = Math.round((pauseBudgetMs / 1000) * c);
  const notConverging = { converges: false, passes: null, switchPauseMs: null, durationS: null, thresholdBytes };
  if (c <= 0 || w >= c) return notConverging;
  if (w <= 0) return { converges: true, passes: 1, switchPauseMs: 0, durationS: sizeBytes / c, thresholdBytes };
  const r = w / c;
  const passes = Math.max(1, Math.ceil(Math.log(sizeBytes / thresholdBytes) / Math.log(1 / r)));
  if (passes > MAX_PRECOPY_PASSES) return notConverging;
  const switchBytes = sizeBytes * r ** passes;
  const switchPauseMs = (switchBytes / c) * 1000;
  const durationS = ((sizeBytes / c) * (1 - r ** passes)) / (1 - r) + switchPauseMs / 1000;
  return { converges: true, passes, switchPauseMs, durationS, thresholdBytes };
}

export function recommendStrategy(input: StrategyModelInput): StrategyRecommendation {
  const pauseBudgetMs = input.pauseBudgetMs ?? DEFAULT_PAUSE_BUDGET_MS;
  const throttle = input.throttleBytesPerS ?? null;
  const limitedByThrottle = throttle !== null && throttle < input.copyRateBytesPerS;
  const c = limitedByThrottle && throttle !== null ? throttle : input.copyRateBytesPerS;
  const w = Math.max(0, input.writeRateBytesPerS ?? 0);
  const precopy = predictPrecopy(input.sizeBytes, c, w, pauseBudgetMs);
  const writeShare = c > 0 ? w / c : Number.POSITIVE_INFINITY;
  const strategy = precopy.converges && writeShare < PRECOPY_MAX_WRITE_SHARE ? 'precopy' : 'mirror';
  const recommendation: Omit<StrategyRecommendation, 'reason'> = {
    strategy,
    copyRateBytesPerS: c,
    copyRateBasis: input.copyRateBasis,
    copyRateScope: input.copyRateScope ?? 'host',
    limitedByThrottle,
    throttleLabel: input.throttleLabel ?? 'the throttle',
    writeRateBytesPerS: w,
    writeRateBasis: input.writeRateBasis,
    writeShare,
    pauseBudgetMs,
    precopy,
    mirror: { durationS: c > 0 ? input.sizeBytes / c : Number.POSITIVE_INFINITY },
  };
  return { ...recommendation, reason: describeRecommendation(recommendation) };
}

/** "Pre-copy: copy ~200 MiB/s (default; …) vs writes p95 1.2 MiB/s, ~3 passes, switch pause ~12 ms (budget 100 ms)." */
export function describeRecommendation(r: Omit<StrategyRecommendation, 'reason'>): string {
  const where = r.copyRateScope === 'fleet' ? 'this fleet' : 'this host';
  const copyBasis = r.limitedByThrottle ? `limited by ${r.throttleLabel}` : r.copyRateBasis === 'measured' ? `measured on ${where}` : `default; no recent migration on ${where}`;
  const copy = `~${formatRate(r.copyRateBytesPerS)} (${copyBasis})`;
  const writes =
    r.writeRateBasis === 'none' ? 'no writes measured yet' : `${r.writeRateBasis === 'p95' ? 'p95' : 'now'} ${formatRate(r.writeRateBytesPerS)}`;
  if (r.strategy === 'precopy') {
    const passes = r.precopy.passes ?? 1;
    return `Pre-copy: copy ${copy} vs writes ${writes}, ~${passes} ${passes === 1 ? 'pass' : 'passes'}, switch pause ~${formatMs(r.precopy.switchPauseMs ?? 0)} (budget ${formatMs(r.pauseBudgetMs)}).`;
  }
  if (!r.precopy.converges) {
    return `Pre-copy would not converge: writes (${writes}) are ${r.writeShare >= 1 ? 'at or above' : 'close to'} the expected copy rate (${copy}). Auto chooses Mirror.`;
  }
  return `Pre-copy would need ~${r.precopy.passes} passes: writes (${writes}) are ${Math.round(r.writeShare * 100)}% of the expected copy rate (${copy}), above the ${PRECOPY_MAX_WRITE_SHARE * 100}% a pre-copy is chosen for. Auto chooses Mirror.`;
}

function formatRate(bytesPerS: number): string {
  return `${formatBytes(Math.round(bytesPerS))}/s`;
}

/** docs/ui.md §5.3: "0.84 ms", "3.1 ms", "84 ms", "1.8 s". */
export function formatMs(ms: number): string {
  if (ms <= 0) return '0 ms';
  if (ms < 1) return `${Number(ms.toPrecision(2))} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}
