/**
 * A sparkline (docs/ui.md §4.5): a small line with no axes, gaps kept as gaps, drawn as plain SVG so a
 * table of them costs no chart library per row. It is `aria-hidden`: the value printed beside it
 * carries the information.
 */
import { cn } from '@/components/ui/cn';

export interface SparkPoint {
  /** Epoch ms. */
  t: number;
  value: number;
}

/**
 * `windowMs` fixes the x-domain to the last window ending at `end` (default: the newest point),
 * so lines of different rows share one time scale; a step longer than `gapMs` breaks the line.
 */
export function Sparkline({
  points,
  windowMs,
  end,
  gapMs = 3_000,
  width = 96,
  height = 24,
  className,
}: {
  points: readonly SparkPoint[];
  windowMs: number;
  end?: number;
  gapMs?: number;
  width?: number;
  height?: number;
  className?: string;
}) {
  const last = end ?? points.at(-1)?.t ?? 0;
  const start = last - windowMs;
  const visible = points.filter((point) => point.t >= start && point.t <= last);
  const max = Math.max(1, ...visible.map((point) => point.value));
  const x = (t: number) => ((t - start) / windowMs) * (width - 2) + 1;
  const y = (value: number) => height - 1 - (value / max) * (height - 2);
  let d = '';
  let previous: SparkPoint | undefined;
  for (const point of visible) {
    const jump = !previous || point.t - previous.t > gapMs;
    d += `${jump ? 'M' : 'L'}${x(point.t).toFixed(1)},${y(point.value).toFixed(1)}`;
    previous = point;
  }
  return (
    <svg aria-hidden width={width} height={height} viewBox={`0 0 ${width} ${height}`} className={cn('shrink-0 overflow-visible', className)}>
      <path d={d} fill="none" stroke="currentColor" strokeWidth={1.5} strokeLinejoin="round" strokeLinecap="round" vectorEffect="non-scaling-stroke" />
    </svg>
  );
}
