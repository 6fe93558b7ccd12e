/**
 * The arithmetic behind the convergence chart (docs/ui.md §4.1–§4.2), kept out of the React leaf so
 * it can be tested: rows with gaps breaking the lines, the log and linear byte ticks, the spans
 * where application writes come near the copy rate, and the spans with no data.
 */

import type { PredictionSample } from '@/server/engine/prediction';

/** What the chart reads from a stored sample: what the model reads, plus latency and throttle. */
export interface ChartSample extends PredictionSample {
  id: number;
  writeLatencyP50Us: number | null;
  writeLatencyP99Us: number | null;
  throttleBytesPerS: number | null;
}

export interface ChartRow {
  t: number;
  /** Left to copy as drawn: clamped to the floor on a log axis so zero stays visible. */
  left: number | null;
  leftBytes: number | null;
  threshold: number | null;
  copy: number | null;
  write: number | null;
  throttle: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  pass: number | null;
  phase: string | null;
  predicted?: number | null;
}

/** A span with no sample longer than this many sample intervals is a gap (§4.1.4). */
export const GAP_INTERVALS = 3;
const SAMPLE_INTERVAL_MS = 1000;

/**
 * One row per sample, in time order, and one empty row inside every gap so the lines break
 * there instead of bridging it (`connectNulls={false}`). `floor` clamps left bytes for a log axis.
 */
export function chartRows(samples: readonly ChartSample[], floor: number | null): ChartRow[] {
  const rows: ChartRow[] = [];
  let previous: number | null = null;
  const spacing = typicalSpacing(samples);
  for (const s of samples) {
    const t = s.at.getTime();
    if (previous !== null && t - previous > GAP_INTERVALS * spacing) rows.push(emptyRow(previous + spacing));
    previous = t;
    rows.push({
      t,
      left: floor === null ? s.leftBytes : Math.max(floor, s.leftBytes),
      leftBytes: s.leftBytes,
      threshold: s.thresholdBytes,
      copy: s.copyRateBytesPerS,
      write: s.writeRateBytesPerS,
      throttle: s.throttleBytesPerS,
      p50Ms: s.writeLatencyP50Us === null ? null : s.writeLatencyP50Us / 1000,
      p99Ms: s.writeLatencyP99Us === null ? null : s.writeLatencyP99Us / 1000,
      pass: s.pass,
      phase: s.phase,
    });
  }
  return rows;
}

function emptyRow(t: number): ChartRow {
  return { t, left: null, leftBytes: null, threshold: null, copy: null, write: null, throttle: null, p50Ms: null, p99Ms: null, pass: null, phase: null };
}

/** The usual spacing of samples: 1 s raw, more when the server downsampled them. */
function typicalSpacing(samples: readonly ChartSample[]): number {
  if (samples.length < 3) return SAMPLE_INTERVAL_MS;
  const steps: number[] = [];
  for (let i = 1; i < samples.length; i++) steps.push(samples[i]!.at.getTime() - samples[i - 1]!.at.getTime());
  steps.sort((a, b) => a - b);
  return Math.max(SAMPLE_INTERVAL_MS, steps[Math.floor(steps.length / 2)]!);
}

/** Spans with no data longer than the gap rule, including from the newest sample to `now` (§4.1.4). */
export function gapSpans(samples: readonly ChartSample[], now: number): { x1: number; x2: number }[] {
  const spans: { x1: number; x2: number }[] = [];
  const spacing = typicalSpacing(samples);
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!.at.getTime();
    const b = samples[i]!.at.getTime();
    if (b - a > GAP_INTERVALS * spacing) spans.push({ x1: a, x2: b });
  }
  const last = samples.at(-1)?.at.getTime();
  if (last !== undefined && now - last > GAP_INTERVALS * spacing) spans.push({ x1: last, x2: now });
  return spans;
}

/** Spans where application writes ran at 90% of the copy rate or more: passes stop shrinking there (§4.2.4). */
export function nearCopySpans(samples: readonly ChartSample[]): { x1: number; x2: number }[] {
  const spans: { x1: number; x2: number }[] = [];
  let start: number | null = null;
  let end = 0;
  for (const s of samples) {
    const near = s.writeRateBytesPerS > 0 && s.writeRateBytesPerS >= 0.9 * s.copyRateBytesPerS;
    const t = s.at.getTime();
    if (near) {
      if (start === null) start = t;
      end = t;
    } else if (start !== null) {
      spans.push({ x1: start, x2: Math.max(end, t) });
      start = null;
    }
  }
  if (start !== null) spans.push({ x1: start, x2: end === start ? start + SAMPLE_INTERVAL_MS : end });
  return spans;
}

/** Log-axis ticks at powers of two between floor and top, at most `count` of them (§4.2.2). */
export function logTicks(floor: number, top: number, count = 6): number[] {
  const low = Math.ceil(Math.log2(Math.max(1, floor)));
  const high = Math.floor(Math.log2(Math.max(2, top)));
  const step = Math.max(1, Math.ceil((high - low + 1) / count));
  const ticks: number[] = [];
  for (let e = high; e >= low; e -= step) ticks.unshift(2 ** e);
  return ticks;
}

/** Linear ticks from 0 in binary-friendly steps (…, 256 MiB, 512 MiB, 1 GiB, …), about `count` of them. */
export function linearTicks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0];
  const rough = max / count;
  const power = 2 ** Math.floor(Math.log2(rough));
  const step = [1, 2, 4].map((m) => m * power).find((s) => s >= rough) ?? power * 4;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(v);
  return ticks;
}

/** Decimal-friendly linear ticks for milliseconds: 0, 1, 2, 5, 10, 20, 50… steps. */
export function decimalTicks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0];
  const rough = max / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? power * 10;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}
