'use client';
/**
 * The evacuation burndown (docs/ui.md §4.3): bytes left on the source arrays (thick, stepping down at
 * each commit) and left to copy (thin), the copied-but-not-switched gap between them shaded, the
 * predicted line with its P10–P90 band, the plan at approval dotted, closed-window bands, the
 * now line, the predicted-finish bracket and annotations (a ▲ where "left" went up). The
 * wizard's Review draws it from the plan alone. Nothing animates; gaps stay gaps.
 */
import { useId, useMemo, type ReactElement } from 'react';
import { Area, CartesianGrid, ComposedChart, Line, ReferenceArea, ReferenceLine, Tooltip, XAxis, YAxis, type TooltipContentProps } from 'recharts';
import { linearTicks } from '@/components/charts/chart-data';
import {
  burndownRows,
  closedSpans,
  predictedBand,
  timeTicks,
  type ActualPoint,
  type BurndownRow,
  type LeftPoint,
  type MaintenanceWindow,
  type Percentiles,
} from '@/components/evacuations/burndown-data';
import { byteUnitFor, formatBytes, formatBytesInUnit, formatPercent, formatTimeOfDay } from '@/components/format';
import { cn } from '@/components/ui/cn';

export interface BurndownAnnotation {
  t: number;
  /** The flag text: "Paused (bob)", "Limit 150 → 200 MiB/s". */
  label: string;
  /** Hover and list text, with actor and reason. */
  detail?: string;
  /** "Left" went up here (rollback, scope added): drawn with ▲. */
  up?: boolean;
}

const MARGIN = { top: 18, right: 16, bottom: 0, left: 0 };
const TICK = { fontSize: 11, fill: 'var(--color-muted-foreground)' };
const AXIS = { stroke: 'var(--color-border)' };

export function BurndownChart({
  sourceName,
  actual = [],
  planned = [],
  predicted = null,
  window = null,
  annotations = [],
  now,
  startAt,
  height = 260,
  className,
}: {
  /** "ARR-03", or "ARR-03 +1" for several sources. */
  sourceName: string;
  actual?: readonly ActualPoint[];
  planned?: readonly LeftPoint[];
  predicted?: { points: readonly LeftPoint[]; finishAt: Percentiles | null } | null;
  window?: MaintenanceWindow | null;
  annotations?: readonly BurndownAnnotation[];
  /** "Now" in epoch ms (the now line, the window bands); null draws no now line. */
  now: number | null;
  /** Where the x-axis starts: the evacuation's start, or now for a plan. */
  startAt: number;
  height?: number;
  className?: string;
}) {
  const hatchId = useId().replace(/:/g, '');
  const last = actual.at(-1);
  const predictedFrom = predicted?.points[0]?.t ?? now ?? startAt;
  const band = useMemo(() => (predicted ? predictedBand(predicted.points, predicted.finishAt, predictedFrom) : []), [predicted, predictedFrom]);
  const rows = useMemo(() => burndownRows({ actual, planned, predicted: predicted?.points ?? [], band }), [actual, planned, predicted, band]);

  const finishAt = predicted?.finishAt ?? null;
  const endCandidates = [finishAt?.p90, now, last?.t, planned.at(-1)?.t, predicted?.points.at(-1)?.t].filter((v): v is number => typeof v === 'number');
  const rawEnd = Math.max(startAt + 60_000, ...endCandidates);
  const domainEnd = rawEnd + (rawEnd - startAt) * 0.05;
  const domain: [number, number] = [startAt, domainEnd];
  const startBytes = Math.max(1, actual[0]?.leftOnSourceBytes ?? 0, planned[0]?.leftBytes ?? 0, predicted?.points[0]?.leftBytes ?? 0, ...band.map((b) => b.high));
  const top = startBytes * 1.05;
  const unit = byteUnitFor(top);
  const closed = useMemo(() => closedSpans(window, startAt, domainEnd), [window, startAt, domainEnd]);
  const inView = annotations.filter((a) => a.t >= domain[0] && a.t <= domain[1]);
  const withSeconds = domain[1] - domain[0] <= 15 * 60_000;
  const finishLabel = finishAt ? finishRange(finishAt) : null;

  return (
    <div
      data-testid="burndown-chart"
      data-points={actual.length}
      data-last-left={last?.leftOnSourceBytes ?? ''}
      data-left-on-source-bytes={last?.leftOnSourceBytes ?? ''}
      data-left-to-copy-bytes={last?.leftToCopyBytes ?? ''}
      data-predicted-points={predicted?.points.length ?? 0}
      className={cn('space-y-1', className)}
    >
      <div className="flex flex-wrap items-center gap-x-3 gap-y-1 text-xs">
        <span className="font-medium">Bytes left on {sourceName}</span>
        {actual.length ? (
          <>
            <Legend swatch="var(--color-left)" width={2.5} label={`On ${sourceName}`} value={last ? formatBytes(last.leftOnSourceBytes) : undefined} />
            <Legend swatch="var(--color-left)" width={1} faint label="To copy" value={last ? formatBytes(last.leftToCopyBytes) : undefined} />
            <span className="inline-flex items-center gap-1">
              <span aria-hidden className="inline-block h-2.5 w-4 rounded-sm bg-[var(--color-left)] opacity-15" />
              <span className="text-muted-foreground">Copied, awaiting switch or commit</span>
            </span>
          </>
        ) : null}
        {predicted && predicted.points.length > 1 ? (
          <>
            <Legend swatch="var(--color-left)" dash="5 4" faint label="Predicted" />
            {band.length ? (
              <span className="inline-flex items-center gap-1">
                <span aria-hidden className="inline-block h-2.5 w-4 rounded-sm bg-[var(--color-left)] opacity-20" />
                <span className="text-muted-foreground">P10–P90</span>
              </span>
            ) : null}
          </>
        ) : null}
        {planned.length > 1 ? <Legend swatch="var(--color-reference)" dash="1 3" label="Plan at approval" /> : null}
        {closed.length ? (
          <span className="inline-flex items-center gap-1">
            <span aria-hidden className="inline-block h-2.5 w-4 rounded-sm bg-foreground/10" />
            <span className="text-muted-foreground">Window closed</span>
          </span>
        ) : null}
      </div>
      <div role="img" aria-label={summary(sourceName, last, finishLabel)}>
        <ComposedChart data={rows} margin={MARGIN} responsive style={{ width: '100%', height }}>
          <defs>
            <pattern id={hatchId} width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
              <line x1="0" y1="0" x2="0" y2="6" stroke="var(--color-gap)" strokeWidth="2" />
            </pattern>
          </defs>
          <CartesianGrid vertical={false} stroke="var(--color-foreground)" strokeOpacity={0.08} />
          {closed.map((span, i) => (
            <ReferenceArea
              key={`closed-${span.x1}`}
              x1={span.x1}
              x2={span.x2}
              fill="var(--color-foreground)"
              fillOpacity={0.08}
              ifOverflow="hidden"
              label={i === 0 ? { value: 'Window closed — cutovers held', position: 'insideTop', fontSize: 10, fill: 'var(--color-muted-foreground)' } : undefined}
            />
          ))}
          <XAxis
            dataKey="t"
            type="number"
            scale="time"
            domain={domain}
            ticks={timeTicks(domain, 6)}
            allowDataOverflow
            tickFormatter={(t: number) => formatTimeOfDay(t, withSeconds)}
            tick={TICK}
            height={22}
            axisLine={AXIS}
            tickLine={AXIS}
          />
          <YAxis
            type="number"
            domain={[0, top]}
            ticks={linearTicks(top, 4)}
            allowDataOverflow
            width={76}
            tick={TICK}
            tickFormatter={(v: number) => formatBytesInUnit(v, unit)}
            axisLine={AXIS}
            tickLine={AXIS}
          />
          {finishAt ? (
            <>
              <ReferenceArea x1={finishAt.p10} x2={Math.max(finishAt.p90, finishAt.p10 + 1)} y1={0} y2={top * 0.035} fill="var(--color-left)" fillOpacity={0.35} ifOverflow="hidden" />
              <ReferenceLine
                x={finishAt.p50}
                stroke="var(--color-left)"
                strokeOpacity={0.6}
                strokeDasharray="2 2"
                ifOverflow="hidden"
                label={{ value: `finish ${finishLabel}`, position: 'insideBottomLeft', offset: 8, fontSize: 10, fill: 'var(--color-muted-foreground)' }}
              />
            </>
          ) : null}
          <Area dataKey="band" type="linear" stroke="none" fill="var(--color-left)" fillOpacity={0.12} isAnimationActive={false} connectNulls activeDot={false} />
          <Area dataKey="awaiting" type="linear" stroke="none" fill="var(--color-left)" fillOpacity={0.1} isAnimationActive={false} connectNulls={false} activeDot={false} />
          <Line dataKey="planned" type="linear" stroke="var(--color-reference)" strokeWidth={1.5} strokeDasharray="1 3" dot={false} isAnimationActive={false} connectNulls />
          <Line dataKey="predicted" type="linear" stroke="var(--color-left)" strokeOpacity={0.7} strokeWidth={2} strokeDasharray="5 4" dot={false} isAnimationActive={false} connectNulls />
          <Line dataKey="toCopy" type="linear" stroke="var(--color-left)" strokeOpacity={0.7} strokeWidth={1} dot={false} isAnimationActive={false} connectNulls={false} />
          <Line dataKey="onSource" type="stepAfter" stroke="var(--color-left)" strokeWidth={2.5} dot={false} isAnimationActive={false} connectNulls={false} />
          {inView.map((a) => (
            <ReferenceLine key={`a-${a.t}-${a.label}`} x={a.t} stroke="var(--color-reference)" strokeOpacity={0.6} ifOverflow="hidden" label={<Flag text={a.up ? `▲ ${a.label}` : a.label} title={a.detail ?? a.label} warn={Boolean(a.up)} />} />
          ))}
          {now !== null && now > domain[0] && now < domain[1] && actual.length ? (
            <ReferenceLine x={now} stroke="var(--color-muted-foreground)" strokeWidth={1} ifOverflow="hidden" label={{ value: 'now', position: 'insideTopRight', fontSize: 10, fill: 'var(--color-muted-foreground)' }} />
          ) : null}
          <Tooltip content={(props) => <MomentTooltip {...props} startBytes={startBytes} window={window} />} isAnimationActive={false} cursor={{ stroke: 'var(--color-muted-foreground)', strokeWidth: 1 }} />
        </ComposedChart>
      </div>
      {inView.length ? (
        <details className="text-xs text-muted-foreground">
          <summary className="cursor-pointer">Events in view ({inView.length})</summary>
          <ul className="mt-1 space-y-0.5 pl-4">
            {inView.map((a) => (
              <li key={`l-${a.t}-${a.label}`}>
                <span className="tabular-nums">{formatTimeOfDay(a.t, true)}</span> · {a.up ? '▲ ' : ''}
                {a.detail ?? a.label}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </div>
  );
}

/** "03:50–04:40", or "~04:10" when the range is narrow. */
export function finishRange(finishAt: Percentiles): string {
  const low = formatTimeOfDay(finishAt.p10);
  const high = formatTimeOfDay(finishAt.p90);
  return low === high ? `~${formatTimeOfDay(finishAt.p50)}` : `${low}–${high}`;
}

function summary(sourceName: string, last: ActualPoint | undefined, finish: string | null): string {
  const parts = [`Burndown of bytes left on ${sourceName}.`];
  if (last) parts.push(`${formatBytes(last.leftOnSourceBytes)} left on the source, ${formatBytes(last.leftToCopyBytes)} left to copy.`);
  if (finish) parts.push(`Predicted finish ${finish}.`);
  return parts.join(' ');
}

function Flag({ viewBox, text, title, warn }: { viewBox?: { x?: number; y?: number }; text: string; title: string; warn: boolean }): ReactElement {
  const x = viewBox?.x ?? 0;
  const y = viewBox?.y ?? 0;
  return (
    <g>
      <title>{title}</title>
      <text x={x + 3} y={y - 5} fontSize={10} fontWeight={600} fill={warn ? '#d97706' : 'var(--color-muted-foreground)'}>
        {text}
      </text>
    </g>
  );
}

function Legend({ swatch, label, value, dash, faint, width = 2 }: { swatch: string; label: string; value?: string; dash?: string; faint?: boolean; width?: number }) {
  return (
    <span className="inline-flex items-center gap-1">
      <svg aria-hidden width="18" height="6" className="shrink-0">
        <line x1="0" y1="3" x2="18" y2="3" stroke={swatch} strokeWidth={width} strokeDasharray={dash} strokeOpacity={faint ? 0.7 : 1} />
      </svg>
      <span className="text-muted-foreground">{label}</span>
      {value ? <span className="tabular-nums">{value}</span> : null}
    </span>
  );
}

function MomentTooltip({ active, payload, startBytes, window }: Pick<TooltipContentProps, 'active' | 'payload'> & { startBytes: number; window: MaintenanceWindow | null }) {
  const row = payload?.[0]?.payload as BurndownRow | undefined;
  if (!active || !row) return null;
  const lines: [string, string][] = [];
  if (row.onSource !== null) lines.push(['Left on source', `${formatBytes(row.onSource)} (${formatPercent(row.onSource, startBytes)} of start)`]);
  if (row.toCopy !== null) lines.push(['Left to copy', formatBytes(row.toCopy)]);
  if (row.onSource !== null && row.toCopy !== null) lines.push(['Awaiting switch/commit', formatBytes(Math.max(0, row.onSource - row.toCopy))]);
  if (row.predicted !== null) lines.push(['Predicted', formatBytes(row.predicted)]);
  if (row.band) lines.push(['P10–P90', `${formatBytes(row.band[0])} – ${formatBytes(row.band[1])}`]);
  if (row.planned !== null) lines.push(['Plan at approval', formatBytes(row.planned)]);
  if (lines.length === 0) return null;
  const closed = window ? closedSpans(window, row.t, row.t + 1).length > 0 : false;
  return (
    <div className="max-w-80 space-y-1 rounded-md border bg-card px-3 py-2 text-xs shadow-md">
      <p className="font-medium tabular-nums">
        {formatTimeOfDay(row.t, true)}
        {window ? <span className="font-normal text-muted-foreground"> · window {closed ? 'closed' : 'open'}</span> : null}
      </p>
      <dl className="grid grid-cols-[auto_auto] gap-x-3">
        {lines.map(([name, value]) => (
          <div key={name} className="contents">
            <dt className="text-muted-foreground">{name}</dt>
            <dd className="text-right tabular-nums">{value}</dd>
          </div>
        ))}
      </dl>
    </div>
  );
}
