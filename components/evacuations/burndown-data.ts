/**
 * The arithmetic behind the evacuation burndown (docs/ui.md §4.3), kept out of the React leaf so it
 * can be tested: the P10–P90 band around the predicted line, the spans when a maintenance window
 * is closed, the merged rows recharts draws (gaps stay gaps), and the time ticks.
 */

export interface ActualPoint {
  t: number;
  leftOnSourceBytes: number;
  leftToCopyBytes: number;
}

export interface LeftPoint {
  t: number;
  leftBytes: number;
}

export interface Percentiles {
  p10: number;
  p50: number;
  p90: number;
}

export interface MaintenanceWindow {
  start: string;
  end: string;
  timeZone: string;
}

/** A span with no actual point longer than this many intervals is a gap (§4.1.4). */
const GAP_INTERVALS = 3;
/** The evacuation records a point at most every 5 s. */
const POINT_INTERVAL_MS = 5_000;

/** The value of a line at `t`: linear between its points, flat before the first and after the last. */
export function valueAt(points: readonly LeftPoint[], t: number): number | null {
  const first = points[0];
  if (!first) return null;
  if (t <= first.t) return first.leftBytes;
  for (let i = 1; i < points.length; i++) {
    const b = points[i]!;
    if (t <= b.t) {
      const a = points[i - 1]!;
      return b.t === a.t ? b.leftBytes : a.leftBytes + ((b.leftBytes - a.leftBytes) * (t - a.t)) / (b.t - a.t);
    }
  }
  return points.at(-1)!.leftBytes;
}

/**
 * The P10–P90 band around the predicted (P50) line: the P50 path stretched in time from `from`
 * so that it ends at the P10 finish (the low edge) and at the P90 finish (the high edge).
 */
export function predictedBand(points: readonly LeftPoint[], finishAt: Percentiles | null, from: number, samples = 60): { t: number; low: number; high: number }[] {
  if (!finishAt || points.length < 2) return [];
  const span50 = finishAt.p50 - from;
  if (!(span50 > 0)) return [];
  const stretch10 = Math.max(1e-6, (finishAt.p10 - from) / span50);
  const stretch90 = Math.max(stretch10, (finishAt.p90 - from) / span50);
  const end = from + span50 * stretch90;
  const band: { t: number; low: number; high: number }[] = [];
  for (let i = 0; i <= samples; i++) {
    const t = from + ((end - from) * i) / samples;
    const low = valueAt(points, from + (t - from) / stretch10) ?? 0;
    const high = valueAt(points, from + (t - from) / stretch90) ?? 0;
    band.push({ t: Math.round(t), low: Math.min(low, high), high: Math.max(low, high) });
  }
  return band;
}

function minutesOf(text: string): number | null {
  const match = /^(\d{2}):(\d{2})$/.exec(text);
  if (!match) return null;
  const minutes = Number(match[1]) * 60 + Number(match[2]);
  return minutes < 24 * 60 ? minutes : null;
}

/** Whether the window is open at `t`; a window may cross midnight; start = end means always open. */
export function windowOpenAt(window: MaintenanceWindow, t: number, clock = minuteOfDayIn(window.timeZone)): boolean {
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  if (start === null || end === null || start === end) return true;
  const m = clock(t);
  return start < end ? m >= start && m < end : m >= start || m < end;
}

/** A function giving the minute of the day at an instant, in a time zone (the browser's when unknown). */
export function minuteOfDayIn(timeZone: string): (t: number) => number {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  } catch {
    format = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  }
  return (t) => {
    const parts = format.formatToParts(new Date(t));
    const hour = Number(parts.find((p) => p.type === 'hour')?.value ?? 0);
    const minute = Number(parts.find((p) => p.type === 'minute')?.value ?? 0);
    return (hour % 24) * 60 + minute;
  };
}

/** The spans between `from` and `to` when the window is closed, to the minute. */
export function closedSpans(window: MaintenanceWindow | null, from: number, to: number): { x1: number; x2: number }[] {
  if (!window || !(to > from)) return [];
  const clock = minuteOfDayIn(window.timeZone);
  const step = Math.max(60_000, Math.ceil((to - from) / 3000 / 60_000) * 60_000);
  const spans: { x1: number; x2: number }[] = [];
  let openedAt: number | null = null;
  for (let t = from; t <= to; t += step) {
    const closed = !windowOpenAt(window, t, clock);
    if (closed && openedAt === null) openedAt = t;
    if (!closed && openedAt !== null) {
      spans.push({ x1: openedAt, x2: t });
      openedAt = null;
    }
  }
  if (openedAt !== null) spans.push({ x1: openedAt, x2: to });
  return spans;
}

export interface BurndownRow {
  t: number;
  onSource: number | null;
  toCopy: number | null;
  /** [left to copy, left on source]: the copied data awaiting switch or commit. */
  awaiting: [number, number] | null;
  planned: number | null;
  predicted: number | null;
  band: [number, number] | null;
}

function emptyRow(t: number): BurndownRow {
  return { t, onSource: null, toCopy: null, awaiting: null, planned: null, predicted: null, band: null };
}

/**
 * One row per distinct time, sorted. Actual values are filled in at the other series' times
 * inside the actual range (left on source as a step, left to copy linearly), so the lines are
 * drawn exactly as from their own points; inside a gap they stay null so the lines break there.
 */
export function burndownRows(input: { actual: readonly ActualPoint[]; planned: readonly LeftPoint[]; predicted: readonly LeftPoint[]; band: readonly { t: number; low: number; high: number }[] }): BurndownRow[] {
  const rows = new Map<number, BurndownRow>();
  const row = (t: number) => {
    let r = rows.get(t);
    if (!r) rows.set(t, (r = emptyRow(t)));
    return r;
  };
  const actual = [...input.actual].sort((a, b) => a.t - b.t);
  const gaps: { x1: number; x2: number }[] = [];
  for (let i = 0; i < actual.length; i++) {
    const p = actual[i]!;
    const previous = actual[i - 1];
    if (previous && p.t - previous.t > GAP_INTERVALS * POINT_INTERVAL_MS) {
      gaps.push({ x1: previous.t, x2: p.t });
      row(previous.t + POINT_INTERVAL_MS);
    }
    const r = row(p.t);
    r.onSource = p.leftOnSourceBytes;
    r.toCopy = p.leftToCopyBytes;
  }
  for (const p of input.planned) row(p.t).planned = p.leftBytes;
  for (const p of input.predicted) row(p.t).predicted = p.leftBytes;
  for (const p of input.band) row(p.t).band = [p.low, p.high];

  const sorted = [...rows.values()].sort((a, b) => a.t - b.t);
  const first = actual[0]?.t;
  const last = actual.at(-1)?.t;
  if (first !== undefined && last !== undefined) {
    const toCopyLine = actual.map((p) => ({ t: p.t, leftBytes: p.leftToCopyBytes }));
    let step = 0;
    for (const r of sorted) {
      if (r.t < first || r.t > last || gaps.some((g) => r.t > g.x1 && r.t < g.x2)) continue;
      while (step + 1 < actual.length && actual[step + 1]!.t <= r.t) step += 1;
      if (r.onSource === null) r.onSource = actual[step]!.leftOnSourceBytes;
      if (r.toCopy === null) r.toCopy = valueAt(toCopyLine, r.t);
    }
  }
  for (const r of sorted) if (r.onSource !== null && r.toCopy !== null) r.awaiting = [Math.min(r.toCopy, r.onSource), r.onSource];
  return sorted;
}

/** Time ticks at a round step (1 s … 1 d) giving about `count` ticks across the domain. */
export function timeTicks([from, to]: [number, number], count = 6): number[] {
  const step = (to - from) / count;
  const units = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400].map((s) => s * 1000);
  const nice = units.find((u) => u >= step) ?? Math.ceil(step / 86_400_000) * 86_400_000;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / nice) * nice; t <= to; t += nice) ticks.push(t);
  return ticks;
}
