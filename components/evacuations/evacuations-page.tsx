'use client';
/**
 * The evacuations list (docs/ui.md §3.11.1): source arrays, state, targets, progress (left on source
 * of the total, with a bar), volumes committed of total with failures, predicted finish, and who
 * started it when. Presets Active · All; the view is in the URL.
 */
import { useQuery } from '@tanstack/react-query';
import { LogOut } from 'lucide-react';
import Link from 'next/link';
import { finishRange } from '@/components/charts/burndown-chart';
import { EmptyState, QueryError, TableSkeleton } from '@/components/data/query-states';
import { useUrlParams } from '@/components/data/use-url-params';
import { formatBytes, formatInteger, formatPercent } from '@/components/format';
import { PageHeader } from '@/components/page-header';
import { RelativeTime } from '@/components/relative-time';
import { StateBadge } from '@/components/state-badge';
import { buttonVariants } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { cn } from '@/components/ui/cn';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { useTRPC } from '@/components/trpc';
import { EVACUATION_TERMINAL, type EvacuationListRow } from './types';

const VIEWS = ['active', 'all'] as const;
type View = (typeof VIEWS)[number];

export function EvacuationsPage() {
  const trpc = useTRPC();
  const evacuations = useQuery({
    ...trpc.evacuations.list.queryOptions(),
    refetchInterval: (query) => (query.state.data?.some((e) => !EVACUATION_TERMINAL.includes(e.state)) ? 2_000 : false),
  });
  const { params, update } = useUrlParams();
  const all = evacuations.data ?? [];
  const anyActive = all.some((e) => !EVACUATION_TERMINAL.includes(e.state));
  const view: View = (VIEWS as readonly string[]).includes(params.get('view') ?? '') ? (params.get('view') as View) : anyActive ? 'active' : 'all';
  const rows = all.filter((e) => view === 'all' || !EVACUATION_TERMINAL.includes(e.state));

  return (
    <div className="space-y-4">
      <PageHeader
        title="Evacuations"
        description="Arrays being emptied, and those emptied before."
        actions={
          <Link href="/evacuations/new" className={buttonVariants({ variant: 'outline', size: 'sm' })}>
            <LogOut aria-hidden /> Evacuate array…
          </Link>
        }
      />
      {evacuations.isSuccess && all.length === 0 ? (
        <EmptyState icon={LogOut} title="No evacuations yet" actions={<Link href="/arrays" className={buttonVariants({ variant: 'outline', size: 'sm' })}>Go to arrays</Link>}>
          <p>An evacuation moves every volume off one or more arrays. Start one with “Evacuate array…” on an array’s page.</p>
        </EmptyState>
      ) : (
        <>
          <nav aria-label="Which evacuations" className="inline-flex rounded-md border p-0.5 text-sm">
            {VIEWS.map((name) => (
              <button
                key={name}
                type="button"
                aria-pressed={view === name}
                onClick={() => update({ view: name })}
                className={cn('rounded px-3 py-1 text-muted-foreground hover:text-foreground', view === name && 'bg-accent font-medium text-foreground')}
              >
                {name === 'active' ? 'Active' : 'All'}{' '}
                <span className="text-xs">({formatInteger(all.filter((e) => name === 'all' || !EVACUATION_TERMINAL.includes(e.state)).length)})</span>
              </button>
            ))}
          </nav>
          <Card>
            {evacuations.isPending ? (
              <TableSkeleton columns={7} label="Loading evacuations" />
            ) : evacuations.isError ? (
              <QueryError error={evacuations.error} onRetry={() => evacuations.refetch()} what="evacuations" className="m-4" />
            ) : (
              <Table>
                <TableHeader>
                  <TableRow className="hover:bg-transparent">
                    <TableHead className="pl-4">Source</TableHead>
                    <TableHead>State</TableHead>
                    <TableHead>Targets</TableHead>
                    <TableHead>Progress</TableHead>
                    <TableHead>Volumes</TableHead>
                    <TableHead>Predicted finish</TableHead>
                    <TableHead className="pr-4">Started</TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {rows.map((e) => (
                    <Row key={e.id} evacuation={e} />
                  ))}
                </TableBody>
              </Table>
            )}
            {evacuations.isSuccess && rows.length === 0 ? <p className="px-4 py-8 text-center text-sm text-muted-foreground">No evacuation is running.</p> : null}
          </Card>
        </>
      )}
    </div>
  );
}

function Row({ evacuation: e }: { evacuation: EvacuationListRow }) {
  const r = e.rollup;
  const moved = r.totalBytes > 0 ? 1 - r.leftOnSourceBytes / r.totalBytes : 0;
  const committed = r.byState.completed ?? 0;
  const failed = r.byState.failed ?? 0;
  return (
    <TableRow data-testid="evacuation-row" data-state={e.state}>
      <TableCell className="pl-4">
        <Link href={`/evacuations/${e.id}`} className="font-medium hover:underline">
          {e.sources.map((s) => s.name).join(', ')}
        </Link>
      </TableCell>
      <TableCell>
        <StateBadge type="evacuation" state={e.state} />
      </TableCell>
      <TableCell>{e.targets.map((t) => t.name).join(', ') || '—'}</TableCell>
      <TableCell>
        <div className="flex items-center gap-2">
          <span
            role="meter"
            aria-label={`Moved off ${e.sources.map((s) => s.name).join(', ')}`}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={Math.floor(moved * 100)}
            className="relative h-2 w-24 overflow-hidden rounded-sm bg-capacity-track ring-1 ring-inset ring-foreground/10"
          >
            <span className="absolute inset-y-0 left-0 bg-capacity-used" style={{ width: `${moved * 100}%` }} />
          </span>
          <span className="text-xs whitespace-nowrap tabular-nums">
            {formatBytes(r.leftOnSourceBytes)} left of {formatBytes(r.totalBytes)} ({formatPercent(r.totalBytes - r.leftOnSourceBytes, r.totalBytes)} moved)
          </span>
        </div>
      </TableCell>
      <TableCell className="whitespace-nowrap tabular-nums">
        {committed}/{r.volumes} committed
        {failed ? <span className="ml-1 font-medium text-red-700 dark:text-red-400">· {failed} failed</span> : null}
        {r.excluded ? <span className="ml-1 text-muted-foreground">· {r.excluded} excluded</span> : null}
      </TableCell>
      <TableCell className="whitespace-nowrap tabular-nums">{EVACUATION_TERMINAL.includes(e.state) ? '—' : r.predictedFinishAt ? finishRange(r.predictedFinishAt) : 'Estimating…'}</TableCell>
      <TableCell className="pr-4 whitespace-nowrap">
        <RelativeTime value={e.createdAt} /> <span className="text-muted-foreground">by {e.createdBy}</span>
        {EVACUATION_TERMINAL.includes(e.state) ? (
          <Link href={`/evacuations/${e.id}/report`} className="ml-2 text-xs underline">
            Report
          </Link>
        ) : null}
      </TableCell>
    </TableRow>
  );
}
