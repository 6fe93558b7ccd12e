'use client';
/**
 * The convergence chart (docs/ui.md §4.2): panel A "Left to copy before the switch" with the switch
 * threshold, pass bands and flags, growth markers, the predicted continuation and the cutover
 * pause, beside the pass ladder; panel B copy rate against application writes; panel C write
 * latency. The panels share one time axis and one cursor (`syncId`); one tooltip tells the
 * whole moment. Lines are measurements (`linear`, `stepAfter`), gaps stay gaps, nothing animates.
 */
import { useId, useMemo, useState, type ReactElement, type ReactNode } from 'react';
import { CartesianGrid, ComposedChart, Line, ReferenceArea, ReferenceLine, Tooltip, XAxis, YAxis, type TooltipContentProps } from 'recharts';
import {
  byteUnitFor,
  formatBytes,
  formatBytesInUnit,
  formatCopyVsWrites,
  formatDuration,
  formatLatency,
  formatRate,
  formatRelative,
  formatTimeOfDay,
} from '@/components/format';
import { Button } from '@/components/ui/button';
import { cn } from '@/components/ui/cn';
import { chartRows, decimalTicks, gapSpans, linearTicks, logTicks, nearCopySpans, type ChartRow, type ChartSample } from './chart-data';
import { PassLadder, type LadderBar } from './pass-ladder';

export interface ConvergencePass {
  pass: number;
  startedAt: string;
  bytesAtStart: number;
  redirtiedBytes: number | null;
  redirtiedRegions: number | null;
  peakWriteRateBytesPerS: number | null;
  running: boolean;
}

export interface ConvergenceModel {
  strategy: 'precopy' | 'mirror';
  pauseBudgetMs: number;
  cutoverPauseMs: number | null;
  passes: readonly ConvergencePass[];
  prediction: {
    condition: string;
    thresholdBytes: number | null;
    copyRateBytesPerS: number | null;
    nextPasses: readonly { pass: number; bytes: number }[];
    switchBytes: number | null;
    switchPauseMs: number | null;
    etaS: { p10: number; p50: number; p90: number | null } | null;
    points: readonly { at: Date; leftBytes: number }[];
  } | null;
}

const SYNC_ID = 'convergence';
const Y_WIDTH = 76;
const MARGIN = { top: 16, right: 12, bottom: 0, left: 0 };
const TICK = { fontSize: 11, fill: 'var(--color-muted-foreground)' };
const AXIS = { stroke: 'var(--color-border)' };
const AFTER_SWITCH = ['cutting-over', 'verifying', 'verified', 'committed', 'rolling-back'];

export function ConvergenceChart({
  model,
  samples,
  domain,
  now,
  className,
}: {
  model: ConvergenceModel;
  samples: readonly ChartSample[];
  /** The x-domain in epoch ms, from the selected window. */
  domain: [number, number];
  /** "Now" for the no-data band; the frozen moment while live is paused. */
  now: number;
  className?: string;
}) {
  const precopy = model.strategy === 'precopy';
  const [scale, setScale] = useState<'log' | 'linear'>(precopy ? 'log' : 'linear');
  const hatchId = useId().replace(/:/g, '');
  const log = scale === 'log';

  const inView = useMemo(() => samples.filter((s) => s.at.getTime() >= domain[0] && s.at.getTime() <= domain[1]), [samples, domain]);
  const newest = inView.at(-1);
  const threshold = model.prediction?.thresholdBytes ?? newest?.thresholdBytes ?? null;
  const predicted = useMemo(() => model.prediction?.points ?? [], [model.prediction]);

  // Y domain of panel A: top 1.2 × the largest value in view; the log floor is threshold ÷ 16.
  const largest = Math.max(1, ...inView.map((s) => s.leftBytes), ...predicted.map((p) => p.leftBytes), threshold ?? 0);
  const top = largest * 1.2;
  const floor = log ? Math.max(4096, Math.min((threshold ?? largest / 1024) / 16, largest / 64)) : 0;

  const rows = useMemo(() => {
    const measured = chartRows(inView, log ? floor : null);
    const last = measured.at(-1);
    // Predicted points past the right edge stay: the axis clips the line there.
    const future = predicted
      .filter((p) => p.at.getTime() > (last?.t ?? 0))
      .map((p) => ({ ...emptyRow(p.at.getTime()), predicted: log ? Math.max(floor, p.leftBytes) : p.leftBytes }));
    // The predicted line starts on the newest measured point.
    if (last && future.length) last.predicted = last.left;
    return [...measured, ...future];
  }, [inView, predicted, log, floor]);

  const passStarts = model.passes
    .map((p, i) => ({ ...p, t: Date.parse(p.startedAt), previous: model.passes[i - 1] }))
    .filter((p) => p.t >= domain[0] && p.t <= domain[1]);
  const passBands = passStarts.map((p, i) => ({ pass: p.pass, x1: p.t, x2: passStarts[i + 1]?.t ?? Math.min(domain[1], newest?.at.getTime() ?? domain[1]) }));
  // A migration waiting in Ready runs many tiny passes: flag only those at least 4% of the axis
  // apart (always the newest), and drop the alternating bands when they would be slivers.
  const minGap = (domain[1] - domain[0]) * 0.04;
  const flagged = new Set<number>();
  let lastFlag = Number.POSITIVE_INFINITY;
  for (const p of [...passStarts].reverse()) {
    if (lastFlag - p.t >= minGap || grewBy(p)) {
      flagged.add(p.pass);
      lastFlag = p.t;
    }
  }
  const showBands = passBands.length <= 24;
  const switchSample = inView.find((s) => AFTER_SWITCH.includes(s.phase));
  const width = domain[1] - domain[0];
  const pauseBand = switchSample
    ? { x1: switchSample.at.getTime(), x2: switchSample.at.getTime() + Math.max(model.cutoverPauseMs ?? 0, width * 0.004) }
    : null;
  const gaps = gapSpans(inView, Math.min(now, domain[1]));
  const nearCopy = nearCopySpans(inView);

  const rateMax = Math.max(1, ...inView.map((s) => Math.max(s.copyRateBytesPerS, s.writeRateBytesPerS, s.throttleBytesPerS ?? 0))) * 1.2;
  const rateUnit = byteUnitFor(rateMax);
  const latencyMax = Math.max(1, ...inView.map((s) => (s.writeLatencyP99Us ?? 0) / 1000)) * 1.2;

  const timeTicks = evenTicks(domain, 6);
  const withSeconds = width <= 15 * 60_000;
  const xAxis = (show: boolean) => (
    <XAxis
      dataKey="t"
      type="number"
      scale="time"
      domain={domain}
      ticks={timeTicks}
      allowDataOverflow
      tickFormatter={(t: number) => formatTimeOfDay(t, withSeconds)}
      tick={show ? TICK : false}
      height={show ? 22 : 4}
      axisLine={AXIS}
      tickLine={AXIS}
    />
  );
  // Horizontal gridlines only, 1 px at 8% foreground (§4.1.10).
  const grid = <CartesianGrid vertical={false} stroke="var(--color-foreground)" strokeOpacity={0.08} />;
  const sharedBands = (
    <>
      {gaps.map((g) => (
        <ReferenceArea key={`gap-${g.x1}`} x1={g.x1} x2={g.x2} fill={`url(#${hatchId})`} fillOpacity={1} ifOverflow="hidden" />
      ))}
      {pauseBand ? <ReferenceArea x1={pauseBand.x1} x2={pauseBand.x2} fill="var(--color-limit)" fillOpacity={0.25} ifOverflow="hidden" /> : null}
    </>
  );
  const hatch = (
    <defs>
      <pattern id={hatchId} width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
        <line x1="0" y1="0" x2="0" y2="6" stroke="var(--color-gap)" strokeWidth="2" />
      </pattern>
    </defs>
  );

  const leftTicks = log ? logTicks(floor, top) : linearTicks(top);
  const leftUnit = byteUnitFor(top);
  const ladder = ladderBars(model, newest?.leftBytes ?? null, threshold);

  return (
    <div
      data-testid="convergence-chart"
      data-samples={inView.length}
      data-last-left={newest?.leftBytes ?? ''}
      data-last-at={newest?.at.toISOString() ?? ''}
      data-last-sample-t={newest?.at.toISOString() ?? ''}
      data-pass={newest?.pass ?? ''}
      className={cn('space-y-1', className)}
    >
      <section aria-label="Left to copy before the switch">
        <div className="flex flex-wrap items-center gap-x-3 gap-y-1 pr-2 text-xs">
          <span className="font-medium">{precopy ? 'Left to copy before the switch' : 'Out of sync (left to copy)'}</span>
          <Legend swatch="var(--color-left)" label={precopy ? 'Left to copy' : 'Out of sync'} value={newest ? formatBytes(newest.leftBytes) : '—'} />
          {precopy ? <Legend swatch="var(--color-limit)" dash="6 4" label="Switch threshold" value={threshold === null ? '—' : formatBytes(threshold)} /> : null}
          {predicted.length > 1 ? <Legend swatch="var(--color-left)" dash="4 3" faint label="Predicted" /> : null}
          <span className="ml-auto inline-flex items-center gap-1">
            <span className="text-muted-foreground">Y scale</span>
            <Button size="xs" variant={log ? 'secondary' : 'ghost'} aria-pressed={log} onClick={() => setScale('log')}>
              log
            </Button>
            <Button size="xs" variant={!log ? 'secondary' : 'ghost'} aria-pressed={!log} onClick={() => setScale('linear')}>
              linear
            </Button>
          </span>
        </div>
        <div className="flex gap-2">
          <div className="min-w-0 flex-1" aria-hidden>
            <ComposedChart data={rows} syncId={SYNC_ID} margin={MARGIN} responsive style={{ width: '100%', height: 240 }}>
              {hatch}
              {grid}
              {passBands.map((band) =>
                showBands && band.pass % 2 === 1 ? <ReferenceArea key={`band-${band.pass}`} x1={band.x1} x2={band.x2} fill="var(--color-band)" fillOpacity={1} ifOverflow="hidden" /> : null,
              )}
              {sharedBands}
              {xAxis(true)}
              <YAxis
                type="number"
                scale={log ? 'log' : 'linear'}
                domain={[log ? floor : 0, top]}
                ticks={leftTicks}
                allowDataOverflow
                width={Y_WIDTH}
                tick={TICK}
                tickFormatter={(v: number) => (log ? formatBytes(v) : formatBytesInUnit(v, leftUnit))}
                axisLine={AXIS}
                tickLine={AXIS}
              />
              {passStarts
                .filter((p) => flagged.has(p.pass))
                .map((p) => (
                  <ReferenceLine
                    key={`flag-${p.pass}`}
                    x={p.t}
                    stroke="var(--color-reference)"
                    strokeOpacity={0.5}
                    ifOverflow="hidden"
                    label={<FlagLabel text={grew(p) ? `▲ P${p.pass}` : `P${p.pass}`} warn={grew(p)} title={passTitle(p)} />}
                  />
                ))}
              {precopy && threshold !== null ? (
                <ReferenceLine
                  y={Math.max(threshold, floor)}
                  stroke="none"
                  ifOverflow="hidden"
                  label={{ value: `Switch threshold ${formatBytes(threshold)} (${formatLatency(model.pauseBudgetMs)} pause)`, position: 'insideBottomRight', fontSize: 11, fill: 'var(--color-limit)' }}
                />
              ) : null}
              {pauseBand && model.cutoverPauseMs !== null ? (
                <ReferenceLine x={pauseBand.x1} stroke="none" label={{ value: `Paused ${formatLatency(model.cutoverPauseMs)}`, position: 'insideTopLeft', fontSize: 11, fill: 'var(--color-limit)' }} />
              ) : null}
              {log ? <ReferenceLine y={floor} stroke="none" label={{ value: '0 — all copied', position: 'insideBottomLeft', fontSize: 10, fill: 'var(--color-muted-foreground)' }} /> : null}
              {precopy ? (
                <Line dataKey="threshold" type="stepAfter" stroke="var(--color-limit)" strokeWidth={1.5} strokeDasharray="6 4" dot={false} isAnimationActive={false} connectNulls={false} />
              ) : null}
              <Line dataKey="left" type="linear" stroke="var(--color-left)" strokeWidth={2} dot={false} isAnimationActive={false} connectNulls={false} />
              <Line dataKey="predicted" type="linear" stroke="var(--color-left)" strokeOpacity={0.6} strokeWidth={2} strokeDasharray="4 3" dot={false} isAnimationActive={false} connectNulls />
              <Tooltip content={({ active, payload }) => <MomentTooltip active={active} payload={payload} model={model} samples={inView} now={now} />} isAnimationActive={false} cursor={{ stroke: 'var(--color-muted-foreground)', strokeWidth: 1 }} />
            </ComposedChart>
          </div>
          {precopy ? <PassLadder bars={ladder} threshold={threshold} domain={[log ? floor : 0, top]} log={log} height={240} /> : null}
        </div>
      </section>

      <section aria-label="Copy rate and application writes">
        <div className="flex flex-wrap items-center gap-x-3 text-xs">
          <span className="font-medium">Copy rate and application writes</span>
          <Legend swatch="var(--color-copy)" label="Copy" value={newest ? formatRate(newest.copyRateBytesPerS) : '—'} />
          <Legend swatch="var(--color-write)" dash="3 2" label="App writes" value={newest ? formatRate(newest.writeRateBytesPerS) : '—'} />
          {newest?.throttleBytesPerS ? <Legend swatch="var(--color-reference)" dash="4 3" label="Throttle" value={formatRate(newest.throttleBytesPerS)} /> : null}
          {nearCopy.length ? <span className="inline-flex items-center gap-1 text-amber-700 dark:text-amber-400"><span aria-hidden className="inline-block size-2.5 rounded-sm bg-amber-400/40" />writes near the copy rate</span> : null}
        </div>
        <div aria-hidden style={{ marginRight: precopy ? 188 : 0 }}>
          <ComposedChart data={rows} syncId={SYNC_ID} margin={{ ...MARGIN, top: 6 }} responsive style={{ width: '100%', height: 120 }}>
            {hatch}
            {grid}
            {nearCopy.map((s) => (
              <ReferenceArea key={`near-${s.x1}`} x1={s.x1} x2={s.x2} fill="#f59e0b" fillOpacity={0.12} ifOverflow="hidden" />
            ))}
            {sharedBands}
            {xAxis(false)}
            <YAxis type="number" domain={[0, rateMax]} ticks={linearTicks(rateMax, 3)} allowDataOverflow width={Y_WIDTH} tick={TICK} tickFormatter={(v: number) => `${formatBytesInUnit(v, rateUnit)}/s`} axisLine={AXIS} tickLine={AXIS} />
            <Line dataKey="throttle" type="stepAfter" stroke="var(--color-reference)" strokeWidth={1.5} strokeDasharray="4 3" dot={false} isAnimationActive={false} connectNulls={false} />
            <Line dataKey="copy" type="linear" stroke="var(--color-copy)" strokeWidth={2} dot={false} isAnimationActive={false} connectNulls={false} />
            <Line dataKey="write" type="linear" stroke="var(--color-write)" strokeWidth={2} strokeDasharray="3 2" dot={false} isAnimationActive={false} connectNulls={false} />
            <Tooltip content={() => null} isAnimationActive={false} cursor={{ stroke: 'var(--color-muted-foreground)', strokeWidth: 1 }} />
          </ComposedChart>
        </div>
      </section>

      <section aria-label="Application write latency">
        <div className="flex flex-wrap items-center gap-x-3 text-xs">
          <span className="font-medium">Application write latency</span>
          <Legend swatch="var(--color-latency)" label="p99" value={newest?.writeLatencyP99Us != null ? formatLatency(newest.writeLatencyP99Us / 1000) : '—'} />
          <Legend swatch="var(--color-latency)" thin label="p50" value={newest?.writeLatencyP50Us != null ? formatLatency(newest.writeLatencyP50Us / 1000) : '—'} />
        </div>
        <div aria-hidden style={{ marginRight: precopy ? 188 : 0 }}>
          <ComposedChart data={rows} syncId={SYNC_ID} margin={{ ...MARGIN, top: 6 }} responsive style={{ width: '100%', height: 120 }}>
            {hatch}
            {grid}
            {sharedBands}
            {xAxis(true)}
            <YAxis type="number" domain={[0, latencyMax]} ticks={decimalTicks(latencyMax, 3)} allowDataOverflow width={Y_WIDTH} tick={TICK} tickFormatter={(v: number) => formatLatency(v)} axisLine={AXIS} tickLine={AXIS} />
            <Line dataKey="p50Ms" type="linear" stroke="var(--color-latency)" strokeWidth={1} dot={false} isAnimationActive={false} connectNulls={false} />
            <Line dataKey="p99Ms" type="linear" stroke="var(--color-latency)" strokeWidth={2} dot={false} isAnimationActive={false} connectNulls={false} />
            <Tooltip content={() => null} isAnimationActive={false} cursor={{ stroke: 'var(--color-muted-foreground)', strokeWidth: 1 }} />
          </ComposedChart>
        </div>
      </section>
    </div>
  );
}

function emptyRow(t: number): ChartRow {
  return { t, left: null, leftBytes: null, threshold: null, copy: null, write: null, throttle: null, p50Ms: null, p99Ms: null, pass: null, phase: null };
}

function evenTicks([from, to]: [number, number], count: number): number[] {
  const step = (to - from) / count;
  // Round the step to a whole number of seconds or minutes so ticks read cleanly.
  const units = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400].map((s) => s * 1000);
  const nice = units.find((u) => u >= step) ?? step;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / nice) * nice; t <= to; t += nice) ticks.push(t);
  return ticks;
}

function grew(p: ConvergencePass & { previous?: ConvergencePass }): boolean {
  return p.pass >= 2 && !!p.previous && p.bytesAtStart > p.previous.bytesAtStart;
}

/** Growth worth a flag even among crowded passes: a quarter more than the pass before. */
function grewBy(p: ConvergencePass & { previous?: ConvergencePass }): boolean {
  return grew(p) && !!p.previous && p.bytesAtStart > p.previous.bytesAtStart * 1.25 && p.bytesAtStart - p.previous.bytesAtStart > 1024 * 1024;
}

function passTitle(p: ConvergencePass & { previous?: ConvergencePass }): string {
  const start = formatTimeOfDay(Date.parse(p.startedAt), true);
  if (p.pass === 0) return `Pass 0 started at ${start}: copying the whole volume (${formatBytes(p.bytesAtStart)})`;
  const reason = `Pass ${p.pass} started at ${start} with ${formatBytes(p.bytesAtStart)}`;
  if (grew(p) && p.previous) {
    const regions = p.previous.redirtiedRegions === null ? '' : ` (${p.previous.redirtiedRegions.toLocaleString('en-US')} regions)`;
    const peak = p.previous.peakWriteRateBytesPerS ? ` while writes peaked at ${formatRate(p.previous.peakWriteRateBytesPerS)}` : '';
    return `${reason}, larger than pass ${p.previous.pass} (${formatBytes(p.previous.bytesAtStart)}): ${formatBytes(p.bytesAtStart)}${regions} re-dirtied during pass ${p.previous.pass}${peak}`;
  }
  return `${reason}, re-dirtied by application writes during pass ${p.pass - 1}`;
}

/** A flag at the top of a pass boundary: "P3", or "▲ P4" in amber when the pass grew; hover gives why. */
function FlagLabel({ viewBox, text, title, warn }: { viewBox?: { x?: number; y?: number }; text: string; title: string; warn: boolean }): ReactElement {
  const x = viewBox?.x ?? 0;
  const y = viewBox?.y ?? 0;
  return (
    <g>
      <title>{title}</title>
      <text x={x + 3} y={y + 10} fontSize={10} fontWeight={600} fill={warn ? '#d97706' : 'var(--color-muted-foreground)'}>
        {text}
      </text>
    </g>
  );
}

function Legend({ swatch, label, value, dash, faint, thin }: { swatch: string; label: string; value?: string; dash?: string; faint?: boolean; thin?: boolean }) {
  return (
    <span className="inline-flex items-center gap-1">
      <svg aria-hidden width="18" height="6" className="shrink-0">
        <line x1="0" y1="3" x2="18" y2="3" stroke={swatch} strokeWidth={thin ? 1 : 2} strokeDasharray={dash} strokeOpacity={faint ? 0.6 : 1} />
      </svg>
      <span className="text-muted-foreground">{label}</span>
      {value ? <span className="tabular-nums">{value}</span> : null}
    </span>
  );
}

/** The ladder's bars: passes done, the running one (filled to what is left), the predicted ones, and the switch. */
function ladderBars(model: ConvergenceModel, leftNow: number | null, threshold: number | null): LadderBar[] {
  const bars: LadderBar[] = model.passes.map((p, i) => {
    const previous = model.passes[i - 1];
    return {
      label: String(p.pass),
      bytes: p.bytesAtStart,
      filledBytes: p.running ? (leftNow ?? p.bytesAtStart) : p.bytesAtStart,
      kind: p.running ? 'running' : p.pass >= 2 && previous && p.bytesAtStart > previous.bytesAtStart ? 'grew' : 'done',
      title: `Pass ${p.pass}: ${formatBytes(p.bytesAtStart)} to copy${p.running && leftNow !== null ? `, ${formatBytes(leftNow)} left now` : ''}`,
    };
  });
  const prediction = model.prediction;
  if (prediction && prediction.condition === 'converging') {
    for (const next of prediction.nextPasses) bars.push({ label: String(next.pass), bytes: next.bytes, filledBytes: 0, kind: 'predicted', title: `Pass ${next.pass}, predicted: about ${formatBytes(next.bytes)}` });
  }
  if (prediction?.switchBytes != null && threshold !== null && (prediction.condition === 'converging' || prediction.condition === 'ready')) {
    bars.push({
      label: 'switch',
      bytes: prediction.switchBytes,
      filledBytes: 0,
      kind: 'switch',
      title: `Switch: about ${formatBytes(prediction.switchBytes)} copied with writes paused${prediction.switchPauseMs !== null ? ` (~${formatLatency(prediction.switchPauseMs)})` : ''}`,
    });
  }
  return bars;
}

/** One tooltip for the three panels (§4.2.7). */
function MomentTooltip({ active, payload, model, samples, now }: Pick<TooltipContentProps, 'active' | 'payload'> & { model: ConvergenceModel; samples: readonly ChartSample[]; now: number }) {
  const row = payload?.[0]?.payload as ChartRow | undefined;
  if (!active || !row) return null;
  if (row.leftBytes === null) {
    if (row.predicted == null) return null;
    return (
      <TooltipFrame>
        <p className="font-medium tabular-nums">{formatTimeOfDay(row.t, true)} · predicted</p>
        <p>Left to copy about {formatBytes(row.predicted)}</p>
      </TooltipFrame>
    );
  }
  const pass = model.passes.find((p) => p.pass === row.pass);
  const copy = row.copy ?? 0;
  const write = row.write ?? 0;
  const precopy = model.strategy === 'precopy';
  const prediction = model.prediction;
  const isNewest = samples.at(-1)?.at.getTime() === row.t;
  const lines: [string, string, string?][] = [
    [precopy ? 'Left to copy' : 'Out of sync', formatBytes(row.leftBytes), pass && precopy ? `pass began with ${formatBytes(pass.bytesAtStart)}${pass.bytesAtStart > 0 ? `, ${signedPercent(row.leftBytes, pass.bytesAtStart)}` : ''}` : undefined],
  ];
  if (precopy && row.threshold !== null) lines.push(['Switch threshold', formatBytes(row.threshold), `${formatLatency(model.pauseBudgetMs)} at ${formatRate(copy)}`]);
  lines.push(['Copy rate', formatRate(copy)]);
  lines.push(['App writes', formatRate(write), formatCopyVsWrites(copy, write)]);
  if (precopy) lines.push(['Net shrink, at most', formatRate(Math.max(0, copy - write)), 'copy minus writes']);
  if (precopy && copy > 0) lines.push(['Pause if switched now', `~${formatLatency((row.leftBytes / copy) * 1000)}`, `budget ${formatLatency(model.pauseBudgetMs)}`]);
  if (row.p99Ms !== null) lines.push(['App write p99', formatLatency(row.p99Ms), row.p50Ms !== null ? `p50 ${formatLatency(row.p50Ms)}` : undefined]);
  if (row.throttle) lines.push(['Throttle', formatRate(row.throttle)]);
  return (
    <TooltipFrame>
      <p className="font-medium tabular-nums">
        {formatTimeOfDay(row.t, true)} <span className="font-normal text-muted-foreground">({formatRelative(row.t, now)})</span>
        {row.pass !== null ? ` · pass ${row.pass}` : ''}
      </p>
      <dl className="mt-1 grid grid-cols-[auto_auto] gap-x-3 gap-y-0.5">
        {lines.map(([name, value, note]) => (
          <div key={name} className="contents">
            <dt className="text-muted-foreground">{name}</dt>
            <dd className="tabular-nums">
              {value}
              {note ? <span className="text-muted-foreground"> ({note})</span> : null}
            </dd>
          </div>
        ))}
      </dl>
      {isNewest && prediction ? <p className="mt-1 border-t pt-1">{verdict(model)}</p> : null}
    </TooltipFrame>
  );
}

function verdict(model: ConvergenceModel): string {
  const p = model.prediction;
  if (!p) return '';
  if (p.condition === 'not-converging') return 'At these rates it will not reach the threshold.';
  if (p.condition === 'ready') return 'What is left already fits the pause budget.';
  if (p.condition === 'converging' && p.etaS) {
    const more = p.nextPasses.length;
    const what = model.strategy === 'mirror' ? 'In sync' : 'Reaches the threshold';
    return `${what} in about ${formatDuration(Math.max(1000, p.etaS.p50 * 1000))} at these rates${model.strategy === 'precopy' ? ` (${more} more ${more === 1 ? 'pass' : 'passes'})` : ''}.`;
  }
  if (p.condition === 'estimating') return 'Estimating: not enough data yet.';
  return '';
}

function signedPercent(part: number, whole: number): string {
  const change = Math.round(((part - whole) / whole) * 100);
  return `${change > 0 ? '+' : change < 0 ? '\u2212' : ''}${Math.abs(change)}%`;
}

function TooltipFrame({ children }: { children: ReactNode }) {
  return <div className="max-w-80 rounded-md border bg-card px-3 py-2 text-xs text-card-foreground shadow-md">{children}</div>;
}
