'use client';
/**
 * Migration detail (docs/ui.md §3.9), the centrepiece: watch one volume move and understand whether
 * it will finish, when, and at what cost to the application; control it safely. Header with the
 * route and the phase stepper, the controls, the status sentence, six KPI cells, the live
 * convergence chart, the passes (or the resync), the timeline and the details.
 */
import { useQuery } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { PlugZap, TrendingUp } from 'lucide-react';
import Link from 'next/link';
import { useMemo, useState } from 'react';
import { ConvergenceChart } from '@/components/charts/convergence-chart';
import { isNotFound, QueryError } from '@/components/data/query-states';
import { ObjectTimeline } from '@/components/events/object-timeline';
import { formatAbsoluteLong, formatBytes, formatRelative } from '@/components/format';
import { IdText } from '@/components/id-text';
import { NotFoundPanel } from '@/components/not-found-panel';
import { RelativeTime, Since } from '@/components/relative-time';
import { StateBadge } from '@/components/state-badge';
import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { cn } from '@/components/ui/cn';
import { Skeleton } from '@/components/ui/skeleton';
import { useTRPC } from '@/components/trpc';
import { useNow } from '@/components/use-now';
import { KpiStrip } from './kpi-strip';
import { MigrationControls } from './migration-controls';
import { MigrationDetails, PassesTable, ResyncCard } from './migration-sections';
import { phaseOf } from './phase';
import { PhaseBar } from './phase-bar';
import { statusSentence } from './status-sentence';
import { TERMINAL, WINDOWS, type MigrationDetail, type WindowSeconds } from './types';
import { useLiveSamples } from './use-live-samples';

/** While it runs, the page re-reads the migration (prediction, passes) this often; the ETA changes at most this often (§3.9.6). */
const REFRESH_MS = 5_000;

export function MigrationDetailPage({ id }: { id: string }) {
  const trpc = useTRPC();
  const migration = useQuery(
    trpc.migrations.get.queryOptions({ id }, { refetchInterval: (query) => (query.state.data && TERMINAL.includes(query.state.data.state) ? false : REFRESH_MS) }),
  );
  const me = useQuery(trpc.auth.me.queryOptions());
  // A state transition refetches at once rather than at the next poll.
  useSubscription(trpc.migrations.onState.subscriptionOptions({ id, lastEventId: null }, { onData: () => void migration.refetch() }));

  if (migration.isPending) return <DetailSkeleton />;
  if (migration.isError) {
    if (isNotFound(migration.error)) return <NotFoundPanel title="Migration not found" message={`No migration with id ${id}.`} listHref="/migrations" listLabel="Go to migrations" />;
    return (
      <div className="space-y-4">
        <h1 className="text-xl font-semibold tracking-tight">Migration</h1>
        <QueryError error={migration.error} onRetry={() => migration.refetch()} what="this migration" />
      </div>
    );
  }
  return <Detail migration={migration.data} canOperate={me.data?.role === 'operator' || me.data?.role === 'admin'} />;
}

function Detail({ migration: m, canOperate }: { migration: MigrationDetail; canOperate: boolean }) {
  const terminal = TERMINAL.includes(m.state);
  const [windowChoice, setWindowChoice] = useState<WindowSeconds | undefined>(undefined);
  const windowSeconds: WindowSeconds = windowChoice === undefined ? (terminal ? null : 300) : windowChoice;
  const [frozenAt, setFrozenAt] = useState<number | null>(null);
  const { samples, base } = useLiveSamples(m.id, windowSeconds, !terminal);
  const clock = useNow();
  const shown = useMemo(() => (frozenAt === null ? samples : samples.filter((s) => s.at.getTime() <= frozenAt)), [samples, frozenAt]);
  const newest = shown.at(-1) ?? null;
  // Before the shared clock's first tick, the newest sample stands in for now.
  const now = frozenAt ?? (clock || newest?.at.getTime() || m.updatedAt.getTime());
  const leftBytes = newest?.leftBytes ?? null;

  const domain = chartDomain(newest?.at.getTime() ?? now, shown[0]?.at.getTime() ?? null, now, terminal, windowSeconds, m.prediction.points.at(-1)?.at.getTime(), m.createdAt.getTime());

  const live = newest ? { ...m, dirtyBytes: newest.leftBytes, bytesCopied: newest.copiedBytes } : m;
  const sentence = statusSentence(live, leftBytes, now);
  const notConverging = m.prediction.condition === 'not-converging';

  return (
    <div className="space-y-4">
      <Header migration={m} notConverging={notConverging} />
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-72 flex-1">
          <PhaseStepper migration={live} />
        </div>
        <MigrationControls migration={m} canOperate={canOperate} leftBytes={leftBytes} />
      </div>

      <Card className="px-4 py-3">
        <p className="text-sm leading-relaxed" data-testid="status-sentence" aria-live="polite">
          {sentence}
        </p>
      </Card>

      <KpiStrip migration={m} newest={newest} stale={!!m.agentUnreachableSince} now={now} />

      <Card className="space-y-2 px-4 py-3">
        <ChartToolbar
          windowSeconds={windowSeconds}
          onWindow={setWindowChoice}
          frozen={frozenAt !== null}
          onFreeze={() => setFrozenAt(frozenAt === null ? Date.now() : null)}
          newestAt={newest?.at ?? null}
          now={clock}
          strategy={m.strategy}
          live={!terminal}
        />
        {base.isError ? (
          <QueryError error={base.error} onRetry={() => base.refetch()} what="the samples" />
        ) : base.isPending ? (
          <div role="status" aria-label="Loading the chart" className="space-y-2">
            <Skeleton className="h-60" />
            <Skeleton className="h-28" />
            <Skeleton className="h-28" />
          </div>
        ) : shown.length === 0 ? (
          <ChartPlaceholder migration={m} />
        ) : (
          <ConvergenceChart model={m} samples={shown} domain={domain} now={now} />
        )}
      </Card>

      {m.strategy === 'precopy' ? <PassesTable migration={m} leftBytes={leftBytes} /> : <ResyncCard migration={m} newest={newest} />}

      <Card className="px-4 py-3">
        <h2 className="mb-2 text-sm font-semibold">Timeline</h2>
        <ObjectTimeline objectKind="migration" objectId={m.id} what="this migration" />
      </Card>

      <MigrationDetails migration={m} />
    </div>
  );
}

/**
 * The chart's time axis: in a Live window the right edge is now (the gap to now stays visible);
 * `All` starts at the first sample; no window reaches back before the migration was created; a
 * predicted switch extends the right edge by up to a quarter of the window.
 */
function chartDomain(
  last: number,
  first: number | null,
  now: number,
  terminal: boolean,
  windowSeconds: WindowSeconds,
  predictedEnd: number | undefined,
  createdAt: number,
): [number, number] {
  let right = terminal ? last : Math.max(now, last);
  const left = windowSeconds === null ? (first ?? right - 60_000) : Math.max(createdAt, right - windowSeconds * 1000);
  if (!terminal && predictedEnd !== undefined && predictedEnd > right) right += Math.min(predictedEnd - right, (right - left) * 0.25);
  return [left, Math.max(right, left + 10_000)];
}

function Header({ migration: m, notConverging }: { migration: MigrationDetail; notConverging: boolean }) {
  const qualifier = m.state === 'copying' ? (m.pass === 0 ? 'pass 0' : `P${m.pass}`) : undefined;
  return (
    <header className="space-y-1.5">
      <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
        <h1 className="text-xl font-semibold tracking-tight">{m.volumeName}</h1>
        <span className="text-sm text-muted-foreground">
          <Link href={`/hosts/${m.hostId}`} className="hover:text-foreground hover:underline">
            {m.hostname}
          </Link>{' '}
          · {m.diskGroupName} · {formatBytes(m.volumeSizeBytes)}
        </span>
        <Badge tone="outline">
          {m.strategy === 'precopy' ? 'Pre-copy' : 'Mirror'}
          {m.originalStrategy !== m.strategy ? ' (switched from pre-copy)' : ''}
        </Badge>
        <span data-testid="migration-state" data-state={m.state} className="inline-flex">
          <StateBadge type="migration" state={m.state}>
            {qualifier}
          </StateBadge>
        </span>
        {m.agentUnreachableSince ? (
          <Badge tone="warning" title={`No data from the agent on ${m.hostname} since ${formatAbsoluteLong(m.agentUnreachableSince)}`}>
            <PlugZap aria-hidden />
            Agent unreachable · <Since value={m.agentUnreachableSince} />
          </Badge>
        ) : null}
        {notConverging ? (
          <Badge tone="warning" title="Application writes keep up with the copy: passes stop shrinking">
            <TrendingUp aria-hidden />
            Not converging
          </Badge>
        ) : null}
      </div>
      <p className="flex flex-wrap items-center gap-x-2 gap-y-1 text-sm text-muted-foreground">
        <span>{m.sourceArrayName ?? 'source array'}</span>
        <span>· LUN</span>
        {m.sourceLun ? <IdText value={m.sourceLun.wwn} label="source LUN WWN" /> : <span>{m.sourceLunName ?? 'released'}</span>}
        <span aria-label="to">→</span>
        <span>{m.targetArrayName}</span>
        <span>· LUN</span>
        {m.targetLun ? <IdText value={m.targetLun.wwn} label="target LUN WWN" /> : <span>not created yet</span>}
        <span className="ml-auto">
          Started <RelativeTime value={m.createdAt} /> by {m.createdBy}
          {TERMINAL.includes(m.state) ? null : (
            <>
              {' '}
              (<Since value={m.createdAt} />)
            </>
          )}
        </span>
      </p>
    </header>
  );
}

function PhaseStepper({ migration: m }: { migration: MigrationDetail }) {
  const verify = m.verify ? { done: m.verify.regionsCompared, total: m.verify.regionsCompared } : null;
  const names = m.strategy === 'precopy' ? ['Prepare', 'Copy', 'Converge', 'Cut over', 'Verify', 'Commit'] : ['Prepare', 'Resync', 'In sync', 'Detach', 'Verify', 'Commit'];
  return (
    <div className="space-y-1">
      <PhaseBar migration={{ ...m, verify }} size="header" showLabel={false} />
      <ol className="grid grid-cols-6 gap-0.5 text-[11px] text-muted-foreground" aria-hidden>
        {names.map((name) => (
          <li key={name} className="truncate">
            {name}
          </li>
        ))}
      </ol>
      <p className="text-xs text-muted-foreground">{phaseOf({ ...m, verify }).label}</p>
    </div>
  );
}

function ChartToolbar({
  windowSeconds,
  onWindow,
  frozen,
  onFreeze,
  newestAt,
  now,
  strategy,
  live,
}: {
  windowSeconds: WindowSeconds;
  onWindow: (seconds: WindowSeconds) => void;
  frozen: boolean;
  onFreeze: () => void;
  newestAt: Date | null;
  now: number;
  strategy: 'precopy' | 'mirror';
  live: boolean;
}) {
  return (
    <div className="flex flex-wrap items-center gap-2 text-sm">
      <div role="group" aria-label="Time window" className="inline-flex rounded-md border p-0.5">
        {WINDOWS.map((w) => (
          <Button key={w.label} size="xs" variant={w.seconds === windowSeconds ? 'secondary' : 'ghost'} aria-pressed={w.seconds === windowSeconds} onClick={() => onWindow(w.seconds)}>
            {w.label}
          </Button>
        ))}
      </div>
      {live ? (
        <Button size="xs" variant={frozen ? 'secondary' : 'outline'} onClick={onFreeze} aria-pressed={frozen}>
          {frozen ? 'Resume live' : 'Pause live'}
        </Button>
      ) : null}
      <details className="relative">
        <summary className="cursor-pointer text-xs text-muted-foreground hover:text-foreground">How to read this chart</summary>
        <div className="absolute left-0 z-10 mt-1 w-96 rounded-lg border bg-card p-3 text-xs leading-relaxed shadow-lg">
          {strategy === 'precopy' ? (
            <p>
              Tern is copying this volume while the application keeps writing to it. The first pass copies the whole volume. Writes that land on parts already copied mark them as changed,
              so the next pass copies only those parts. Because copying is faster than the application writes, each pass is smaller than the one before — the blue line steps down, and each
              bar in the ladder is shorter than the last. When what is left falls under the dashed line, it can be copied during a very short pause: Tern holds the application&apos;s writes
              for that moment (the red band), copies the rest, switches the volume to the new LUN and lets writes continue. If the line stops going down, the application is writing about as
              fast as Tern can copy (see the amber areas in the middle panel); Tern says so above the chart and applies the policy you chose.
            </p>
          ) : (
            <p>
              Tern has attached the new LUN as a second copy of the volume. Every new write goes to both copies, so the new LUN never falls behind on new data; the blue line is the older
              data still being copied across, and it only goes down. At zero both copies are identical and Tern can drop the old one without pausing the application. Writing to two LUNs can
              cost some latency — watch the bottom panel.
            </p>
          )}
        </div>
      </details>
      <span className={cn('ml-auto text-xs text-muted-foreground tabular-nums', frozen && 'text-amber-700 dark:text-amber-400')}>
        {frozen ? 'Live paused · ' : ''}
        {newestAt ? <>Last sample {now ? formatRelative(newestAt, now) : ''}</> : 'No samples yet'}
      </span>
    </div>
  );
}

/** The chart area before there is anything to draw (docs/ui.md §3.9.8). */
function ChartPlaceholder({ migration: m }: { migration: MigrationDetail }) {
  const text =
    m.state === 'queued' || m.state === 'planned'
      ? 'Queued: waiting for a slot. The chart starts with the copy.'
      : m.state === 'preparing'
        ? `Preparing: creating the target LUN on ${m.targetArrayName}. The chart starts with the copy.`
        : 'No samples in this window.';
  return (
    <div data-testid="convergence-chart" data-samples={0} data-last-left="" data-last-at="" className="flex h-60 items-center justify-center rounded-md border border-dashed text-sm text-muted-foreground">
      {text}
    </div>
  );
}

function DetailSkeleton() {
  return (
    <div role="status" aria-label="Loading the migration" className="space-y-4">
      <Skeleton className="h-7 w-72" />
      <Skeleton className="h-4 w-[32rem]" />
      <Skeleton className="h-10 w-full" />
      <Skeleton className="h-12 w-full" />
      <div className="grid grid-cols-6 gap-2">
        {Array.from({ length: 6 }, (_, i) => (
          <Skeleton key={i} className="h-20" />
        ))}
      </div>
      <Skeleton className="h-96 w-full" />
    </div>
  );
}
