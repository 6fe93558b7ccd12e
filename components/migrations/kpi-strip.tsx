/**
 * The KPI strip of the migration detail (docs/ui.md §3.9.4): left to copy, switch at, copy against
 * writes, app write p99, pause if switched now, ETA. Figures come from the newest sample (live)
 * and the engine's prediction; when the agent is unreachable they show muted "as of" values.
 */
import type { ReactNode } from 'react';
import { formatBytes, formatCopyVsWrites, formatEta, formatLatency, formatPercent, formatRate, formatTimeOfDay } from '@/components/format';
import { cn } from '@/components/ui/cn';
import type { MigrationDetail, MigrationSample } from './types';

type Tone = 'normal' | 'warning' | 'danger' | 'attention';

export function KpiStrip({ migration: m, newest, stale, now }: { migration: MigrationDetail; newest: MigrationSample | null; stale: boolean; now: number }) {
  const p = m.prediction;
  const precopy = m.strategy === 'precopy';
  const left = newest?.leftBytes ?? null;
  const copy = newest?.copyRateBytesPerS ?? null;
  const writes = newest?.writeRateBytesPerS ?? null;
  const threshold = newest?.thresholdBytes ?? p.thresholdBytes;
  const running = p.condition !== 'not-running' && !['cutting-over', 'verifying', 'verified', 'committing', 'completed', 'failed', 'cancelled', 'rolled-back'].includes(m.state);
  const pass = m.passes.find((x) => x.pass === newest?.pass);
  const pauseNowMs = left !== null && p.copyRateBytesPerS ? (left / p.copyRateBytesPerS) * 1000 : null;
  const asOf = stale && newest ? `as of ${formatTimeOfDay(newest.at, true)}` : undefined;

  const ratioTone: Tone = copy === null || writes === null || writes === 0 ? 'normal' : writes >= copy ? 'danger' : copy / writes < 1.5 ? 'warning' : 'normal';
  const eta = etaCell(m, running, now);

  return (
    <div className={cn('grid grid-cols-2 gap-px overflow-hidden rounded-lg border bg-border sm:grid-cols-3 xl:grid-cols-6', stale && '[&_[data-value]]:text-muted-foreground')}>
      <Cell testId="kpi-left-to-copy" data={{ 'data-value-bytes': left ?? '' }} title={precopy ? 'Left to copy' : 'Out of sync'} value={left === null ? '—' : formatBytes(left)} note={asOf}>
        {precopy ? (pass ? `pass ${pass.pass} began with ${formatBytes(pass.bytesAtStart)}` : null) : left !== null ? `${formatPercent(Math.max(0, m.volumeSizeBytes - left), m.volumeSizeBytes)} of ${formatBytes(m.volumeSizeBytes)} in sync` : null}
      </Cell>
      <Cell title="Switch at" value={precopy ? (threshold === null ? '—' : `≤ ${formatBytes(threshold)}`) : 'in sync'}>
        {precopy ? `${formatLatency(m.pauseBudgetMs)} at the current copy rate` : 'mirror: no pause needed'}
      </Cell>
      <Cell title="Copy vs writes" value={copy === null ? '—' : formatRate(copy)} tone={ratioTone} note={asOf}>
        {writes === null || copy === null ? null : `vs ${formatRate(writes)} · ${formatCopyVsWrites(copy, writes)}`}
      </Cell>
      <Cell title="App write p99" value={newest?.writeLatencyP99Us != null ? formatLatency(newest.writeLatencyP99Us / 1000) : '—'} note={asOf}>
        {newest?.writeLatencyP50Us != null ? `p50 ${formatLatency(newest.writeLatencyP50Us / 1000)} · no baseline recorded` : 'no writes measured'}
      </Cell>
      <Cell
        testId="kpi-pause-now"
        data={{ 'data-value-ms': pauseNowMs === null ? '' : Math.round(pauseNowMs) }}
        title="Pause if switched now"
        value={!precopy ? '—' : pauseNowMs === null ? '—' : `~${formatLatency(pauseNowMs)}`}
        tone={precopy && pauseNowMs !== null && pauseNowMs > m.pauseBudgetMs ? 'warning' : 'normal'}
      >
        {!precopy ? 'a mirror detaches without copying' : pauseNowMs !== null && pauseNowMs > m.pauseBudgetMs ? `over budget (${formatLatency(m.pauseBudgetMs)})` : `budget ${formatLatency(m.pauseBudgetMs)}`}
      </Cell>
      <Cell testId="kpi-eta" data={{ 'data-eta-p50-s': p.etaS ? Math.round(p.etaS.p50) : '' }} title="ETA" value={eta.text} tone={eta.tone} hint={eta.hint}>
        {eta.sub}
      </Cell>
    </div>
  );
}

function etaCell(m: MigrationDetail, running: boolean, now: number): { text: string; tone: Tone; sub?: string; hint?: string } {
  const p = m.prediction;
  if (m.state === 'ready' && m.cutoverPolicy.mode === 'manual') return { text: 'Waiting for you', tone: 'attention', sub: 'press Cut over now' };
  if (m.state === 'verified') return { text: 'Waiting for you', tone: 'attention', sub: 'commit or roll back' };
  if (!running) return { text: '—', tone: 'normal' };
  if (p.condition === 'estimating') return { text: 'Estimating…', tone: 'normal', sub: 'under 30 s of data' };
  if (p.condition === 'stalled') return { text: 'Stalled', tone: 'warning', sub: 'nothing copied for a minute' };
  if (p.condition === 'not-converging') return { text: "Won't converge", tone: 'warning', sub: 'writes keep up with the copy' };
  if (!p.etaS) return { text: '—', tone: 'normal' };
  const at = now + p.etaS.p50 * 1000;
  const range = p.etaS.p90 === null ? 'no upper bound' : `${formatTimeOfDay(now + p.etaS.p10 * 1000)}–${formatTimeOfDay(now + p.etaS.p90 * 1000)}`;
  const more = m.strategy === 'precopy' ? `; ${p.nextPasses.length} more ${p.nextPasses.length === 1 ? 'pass' : 'passes'} predicted` : '';
  return {
    text: formatEta(p.etaS),
    tone: 'normal',
    sub: `≈ ${formatTimeOfDay(at)}`,
    hint: `≈ ${formatTimeOfDay(at, true)} (${range}), from the last ${Math.round(p.basisS)} s of rates${more}`,
  };
}

function Cell({
  title,
  value,
  children,
  tone = 'normal',
  note,
  hint,
  testId,
  data,
}: {
  title: string;
  value: string;
  children?: ReactNode;
  tone?: Tone;
  note?: string;
  hint?: string;
  testId?: string;
  data?: Record<string, string | number>;
}) {
  return (
    <div className="bg-card px-3 py-2" data-testid={testId} title={hint} {...data}>
      <p className="text-xs text-muted-foreground">{title}</p>
      <p
        data-value
        className={cn(
          'text-lg font-semibold tabular-nums',
          tone === 'warning' && 'text-amber-700 dark:text-amber-400',
          tone === 'danger' && 'text-red-700 dark:text-red-400',
          tone === 'attention' && 'text-violet-700 dark:text-violet-300',
        )}
      >
        {value}
      </p>
      {children ? <p className="truncate text-xs text-muted-foreground">{children}</p> : null}
      {note ? <p className="text-[11px] text-muted-foreground">{note}</p> : null}
    </div>
  );
}
