'use client';
/**
 * Evacuation detail (docs/ui.md §3.11.2): the header with state, targets, who started it and the
 * window status; the bulk controls; the KPI strip; "Safe to decommission" (§3.11.3); the live
 * burndown; target load; the volumes; the timeline. `evacuations.onProgress` pushes each change
 * and the page refetches `get` at most once a second from it (and every 5 s while live anyway).
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { CircleCheck, CircleHelp, CircleX, Download, FileText } from 'lucide-react';
import Link from 'next/link';
import { useEffect, useState } from 'react';
import { BurndownChart, finishRange } from '@/components/charts/burndown-chart';
import { isNotFound, QueryError } from '@/components/data/query-states';
import { ObjectTimeline } from '@/components/events/object-timeline';
import { formatBytes, formatCount, formatDuration, formatPercent, formatRate, formatTimeOfDay } from '@/components/format';
import { NotFoundPanel } from '@/components/not-found-panel';
import { PageHeader } from '@/components/page-header';
import { RelativeTime } from '@/components/relative-time';
import { StateBadge } from '@/components/state-badge';
import { buttonVariants } from '@/components/ui/button';
import { Card, CardContent, CardHeader, CardTitle } from '@/components/ui/card';
import { cn } from '@/components/ui/cn';
import { Skeleton } from '@/components/ui/skeleton';
import { useTRPC } from '@/components/trpc';
import { useNow } from '@/components/use-now';
import { confirmPhrase } from './draft';
import { downloadText, reportCsv } from './csv';
import { EvacuationControls } from './evacuation-controls';
import { EvacuationVolumes } from './evacuation-volumes';
import { EVACUATION_TERMINAL, type EvacuationDetail } from './types';

const REFETCH_MS = 1_000;

export function EvacuationDetailPage({ id }: { id: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const evacuation = useQuery({
    ...trpc.evacuations.get.queryOptions({ id }),
    refetchInterval: (query) => (query.state.data && !EVACUATION_TERMINAL.includes(query.state.data.state) ? 5_000 : false),
  });
  const me = useQuery(trpc.auth.me.queryOptions());
  const live = Boolean(evacuation.data && !EVACUATION_TERMINAL.includes(evacuation.data.state));

  // Each pushed change marks the page stale (no render per push); a one-second tick refetches it.
  const [changed] = useState(() => new Set<string>());
  useSubscription(trpc.evacuations.onProgress.subscriptionOptions({ id, lastEventId: null }, { enabled: live, onData: ({ data }) => void changed.add(data.state) }));
  useEffect(() => {
    const timer = setInterval(() => {
      if (changed.size === 0) return;
      changed.clear();
      void queryClient.invalidateQueries(trpc.evacuations.get.queryFilter({ id }));
    }, REFETCH_MS);
    return () => clearInterval(timer);
  }, [changed, queryClient, trpc, id]);

  if (evacuation.isPending) {
    return (
      <div role="status" aria-label="Loading the evacuation" className="space-y-4">
        <Skeleton className="h-7 w-72" />
        <Skeleton className="h-24" />
        <Skeleton className="h-72" />
      </div>
    );
  }
  if (evacuation.isError) {
    if (isNotFound(evacuation.error)) return <NotFoundPanel title="Evacuation not found" message={`No evacuation with id ${id}.`} listHref="/evacuations" listLabel="Go to evacuations" />;
    return <QueryError error={evacuation.error} onRetry={() => evacuation.refetch()} what="this evacuation" />;
  }
  return <Detail evacuation={evacuation.data} canOperate={me.data?.role === 'operator' || me.data?.role === 'admin'} />;
}

function Detail({ evacuation: e, canOperate }: { evacuation: EvacuationDetail; canOperate: boolean }) {
  const now = useNow();
  const sourceName = confirmPhrase(e.sources.map((s) => s.name));
  const started = e.burndown[0]?.t ?? e.createdAt.getTime();
  const r = e.rollup;
  const terminal = EVACUATION_TERMINAL.includes(e.state);
  const exclusions = e.plan.cannotMove.filter((c) => c.code === 'excluded').map((c) => ({ volume: `${c.hostname}/${c.nbdExport}`, reason: c.reason }));
  const annotations = [{ t: started, label: 'start', detail: `Started by ${e.createdBy}` }];

  return (
    <div className="space-y-4">
      <PageHeader
        title={
          <>
            <span>Evacuation of {e.sources.map((s) => s.name).join(', ')}</span>
            <span data-testid="evacuation-state" data-state={e.state} className="inline-flex">
              <StateBadge type="evacuation" state={e.state} />
            </span>
          </>
        }
        description={
          <>
            <p>
              → {e.targets.map((t) => t.name).join(', ') || '—'} · started <RelativeTime value={e.createdAt} /> by {e.createdBy}
            </p>
            <WindowLine evacuation={e} now={now} />
          </>
        }
        actions={<EvacuationControls evacuation={e} canOperate={canOperate} />}
      />

      {live(e) && r.leftToCopyBytes === 0 && r.leftOnSourceBytes > 0 ? (
        <p className="rounded-md border border-violet-300 bg-violet-50 px-3 py-2 text-sm text-violet-900 dark:border-violet-800 dark:bg-violet-950/60 dark:text-violet-100">
          All copies are done; {formatCount(r.byState.verified ?? 0, 'volume')} await commit.
        </p>
      ) : null}

      <SafeToDecommission evacuation={e} sourceName={sourceName} />

      <div className="grid gap-2 sm:grid-cols-2 lg:grid-cols-5" data-testid="evacuation-kpis">
        <Kpi label={`Left on ${sourceName}`} value={formatBytes(r.leftOnSourceBytes)} detail={`${formatPercent(r.leftOnSourceBytes, r.totalBytes)} of ${formatBytes(r.totalBytes)}`} testId="kpi-left-on-source" raw={r.leftOnSourceBytes} />
        <Kpi label="Left to copy" value={formatBytes(r.leftToCopyBytes)} detail={`${formatBytes(Math.max(0, r.leftOnSourceBytes - r.leftToCopyBytes))} copied, awaiting switch or commit`} testId="kpi-left-to-copy" raw={r.leftToCopyBytes} />
        <Kpi
          label={`Volumes (${r.volumes})`}
          value={`${(r.byState.completed ?? 0).toLocaleString('en-US')} committed`}
          detail={volumeBreakdown(r.byState, r.excluded)}
          testId="kpi-volumes"
          raw={r.byState.completed ?? 0}
        />
        <Kpi label="Rate, last 15 min" value={formatRate(r.rateBytesPerS)} detail={capText(e)} testId="kpi-rate" raw={r.rateBytesPerS} />
        <Kpi
          label={terminal ? 'Finished' : 'Predicted finish'}
          value={terminal ? (e.burndown.at(-1) ? formatTimeOfDay(e.burndown.at(-1)!.t) : '—') : r.predictedFinishAt ? finishRange(r.predictedFinishAt) : 'Estimating…'}
          detail={r.finishAtApproval ? `at approval: ${formatTimeOfDay(r.finishAtApproval)}${drift(r.predictedFinishAt?.p50 ?? null, r.finishAtApproval)}` : undefined}
          testId="kpi-finish"
        />
      </div>

      <Card aria-labelledby="burndown-title">
        <CardHeader>
          <CardTitle id="burndown-title">Bytes left on {sourceName}</CardTitle>
        </CardHeader>
        <CardContent>
          <BurndownChart
            sourceName={sourceName}
            actual={e.burndown}
            planned={e.plannedBurndown}
            predicted={terminal ? null : { points: e.predicted.points, finishAt: e.predicted.finishAt }}
            window={e.window}
            annotations={annotations}
            now={terminal ? null : now || null}
            startAt={Math.min(started, e.plannedBurndown[0]?.t ?? started)}
          />
        </CardContent>
      </Card>

      <Card aria-labelledby="target-load-title">
        <CardHeader>
          <CardTitle id="target-load-title">Targets</CardTitle>
        </CardHeader>
        <CardContent>
          <TargetLoad evacuation={e} />
        </CardContent>
      </Card>

      <Card aria-labelledby="volumes-title">
        <CardHeader>
          <CardTitle id="volumes-title">
            Volumes ({e.migrations.length}
            {exclusions.length ? `, ${exclusions.length} excluded` : ''})
          </CardTitle>
          <ExportCsvButton id={e.id} name={e.sources.map((s) => s.name).join('-')} label="Export CSV" />
        </CardHeader>
        <CardContent className="px-0">
          <EvacuationVolumes migrations={e.migrations} exclusions={exclusions} />
        </CardContent>
      </Card>

      <Card aria-labelledby="timeline-title" className="px-4 py-2">
        <h2 id="timeline-title" className="pt-2 text-sm font-semibold">
          Timeline
        </h2>
        <ObjectTimeline objectKind="evacuation" objectId={e.id} what="this evacuation" />
      </Card>
    </div>
  );
}

const live = (e: EvacuationDetail) => e.state === 'running' || e.state === 'paused';

function volumeBreakdown(byState: Record<string, number>, excluded: number): string {
  const moving = ['preparing', 'syncing', 'copying', 'cutting-over', 'verifying', 'committing'].reduce((sum, s) => sum + (byState[s] ?? 0), 0);
  const parts = [`${moving} moving`, `${(byState.queued ?? 0) + (byState.planned ?? 0)} queued`];
  if (byState.ready) parts.push(`${byState.ready} ready`);
  if (byState.verified) parts.push(`${byState.verified} verified`);
  if (byState.failed) parts.push(`${byState.failed} failed`);
  if (excluded) parts.push(`${excluded} excluded`);
  return parts.join(', ');
}

function capText(e: EvacuationDetail): string | undefined {
  const caps = e.targetLoad.map((t) => t.budgetBytesPerS).filter((b): b is number => b !== null);
  return caps.length ? `cap ${formatRate(caps.reduce((a, b) => a + b, 0))} (targets)` : undefined;
}

function drift(predicted: number | null, approval: number): string {
  if (predicted === null) return '';
  const delta = predicted - approval;
  if (Math.abs(delta) < 60_000) return ' (on plan)';
  return delta < 0 ? ` (${formatDuration(-delta)} ahead)` : ` (${formatDuration(delta)} behind)`;
}

function Kpi({ label, value, detail, testId, raw }: { label: string; value: string; detail?: string; testId: string; raw?: number }) {
  return (
    <div className="rounded-lg border bg-card px-3 py-2" data-testid={testId} data-value={raw}>
      <p className="text-xs text-muted-foreground">{label}</p>
      <p className="text-xl font-semibold tabular-nums">{value}</p>
      {detail ? <p className="text-xs text-muted-foreground">{detail}</p> : null}
    </div>
  );
}

function WindowLine({ evacuation: e, now }: { evacuation: EvacuationDetail; now: number }) {
  if (!e.window || !e.windowState) return <p>No maintenance window: starts and cutovers happen whenever a volume is ready.</p>;
  const ws = e.windowState;
  const held = e.outsideWindow === 'pause' ? 'copying pauses' : 'cutovers wait; copying continues';
  const change = ws.open ? ws.closesAt : ws.opensAt;
  const inText = change && now ? ` ${ws.open ? 'closes' : 'opens'} in ${formatDuration(new Date(change).getTime() - now)}` : '';
  return (
    <p data-testid="window-status" data-open={ws.open}>
      Window {e.window.start}–{e.window.end} ({e.window.timeZone}): {ws.open ? 'open' : 'closed'},{inText} ({ws.open ? `when closed, ${held}` : held})
    </p>
  );
}

function TargetLoad({ evacuation: e }: { evacuation: EvacuationDetail }) {
  if (e.targetLoad.length === 0) return <p className="text-sm text-muted-foreground">No target is receiving volumes.</p>;
  return (
    <div className="space-y-2 text-sm">
      {e.targetLoad.map((t) => (
        <div key={t.arrayId} className="grid grid-cols-[5rem_1fr_1fr_auto] items-center gap-4" data-testid="target-load">
          <span className="font-medium">{t.name}</span>
          <Meter label={`${t.name} jobs`} value={t.runningJobs} max={t.jobLimit} text={`${t.runningJobs}/${t.jobLimit} jobs`} />
          <Meter label={`${t.name} bandwidth`} value={t.bytesPerS} max={t.budgetBytesPerS} text={t.budgetBytesPerS ? `${formatRate(t.bytesPerS)} of ${formatRate(t.budgetBytesPerS)}` : `${formatRate(t.bytesPerS)}, no budget`} />
          <span className="text-xs text-muted-foreground tabular-nums">free after {formatBytes(t.freeAfterBytes)}</span>
        </div>
      ))}
    </div>
  );
}

function Meter({ label, value, max, text }: { label: string; value: number; max: number | null; text: string }) {
  const share = max ? Math.min(1, value / max) : 0;
  return (
    <span className="flex items-center gap-2">
      <span role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={max ?? undefined} aria-valuenow={value} aria-valuetext={text} className="relative h-2 w-28 shrink-0 overflow-hidden rounded-sm bg-capacity-track ring-1 ring-inset ring-foreground/10">
        <span className="absolute inset-y-0 left-0 bg-capacity-used" style={{ width: `${share * 100}%` }} />
      </span>
      <span className="text-xs tabular-nums">{text}</span>
    </span>
  );
}

/** "Safe to decommission" (§3.11.3): green only when every server check passed; an unconfirmed check is never green. */
function SafeToDecommission({ evacuation: e, sourceName }: { evacuation: EvacuationDetail; sourceName: string }) {
  const { safe, checks } = e.safeToDecommission;
  const done = EVACUATION_TERMINAL.includes(e.state);
  return (
    <section
      aria-labelledby="safe-title"
      data-testid="safe-to-decommission"
      data-safe={safe}
      className={cn('rounded-lg border px-4 py-3', safe ? 'border-emerald-300 bg-emerald-50 dark:border-emerald-800 dark:bg-emerald-950/50' : 'bg-card')}
    >
      <div className="flex flex-wrap items-center gap-3">
        {safe ? <CircleCheck aria-hidden className="size-5 text-emerald-600" /> : <CircleHelp aria-hidden className="size-5 text-muted-foreground" />}
        <h2 id="safe-title" className="font-semibold">
          {safe ? `${sourceName} is safe to decommission` : done ? `${sourceName} is not safe to decommission` : `Not yet safe to decommission ${sourceName}`}
        </h2>
        <span className="ml-auto flex gap-2">
          <Link href={`/evacuations/${e.id}/report`} className={buttonVariants({ variant: 'outline', size: 'sm' })}>
            <FileText aria-hidden /> Open report
          </Link>
          <ExportCsvButton id={e.id} name={e.sources.map((s) => s.name).join('-')} label="CSV" />
        </span>
      </div>
      <ul className={cn('mt-2 space-y-1 text-sm', !done && !safe && 'text-muted-foreground')}>
        {checks.map((c) => (
          <li key={c.name} className="flex items-start gap-2" data-testid="safe-check" data-ok={String(c.ok)}>
            {c.ok === true ? (
              <CircleCheck aria-label="passed" className="mt-0.5 size-4 shrink-0 text-emerald-600" />
            ) : c.ok === false ? (
              <CircleX aria-label="failed" className="mt-0.5 size-4 shrink-0 text-red-600" />
            ) : (
              <CircleHelp aria-label="cannot confirm" className="mt-0.5 size-4 shrink-0 text-amber-600" />
            )}
            <span>
              <span className="font-medium text-foreground">{c.name}</span> — {c.detail}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Downloads the report's volume rows as CSV (the same columns as the printable report). */
export function ExportCsvButton({ id, name, label }: { id: string; name: string; label: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  return (
    <span className="inline-flex items-center gap-2">
      <button
        type="button"
        className={buttonVariants({ variant: 'outline', size: 'sm' })}
        onClick={async () => {
          setError(null);
          try {
            const report = await queryClient.fetchQuery(trpc.evacuations.report.queryOptions({ id }));
            downloadText(`evacuation-${name}-volumes.csv`, reportCsv(report.volumes));
          } catch (failure) {
            setError((failure as Error).message);
          }
        }}
      >
        <Download aria-hidden /> {label}
      </button>
      {error ? <span className="text-xs text-red-700 dark:text-red-400">{error}</span> : null}
    </span>
  );
}
