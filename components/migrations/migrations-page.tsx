'use client';
import { useQuery } from '@tanstack/react-query';
import { ArrowRightLeft, PlugZap } from 'lucide-react';
import Link from 'next/link';
import type { MigrationRow } from '@/components/api-types';
import { FacetSelect, FilterBar, TextFilter } from '@/components/data/filter-bar';
import { EmptyState, FilteredEmpty, QueryError, TableSkeleton } from '@/components/data/query-states';
import { SortHead } from '@/components/data/sort-head';
import { formatSort, parseSort, sortRows, type SortState } from '@/components/data/sorting';
import { useDebouncedUrlParam, useUrlParams } from '@/components/data/use-url-params';
import { useRowFreeze } from '@/components/data/use-row-freeze';
import { formatBytes, formatCount, formatInteger } from '@/components/format';
import { PageHeader } from '@/components/page-header';
import { RelativeTime, Since } from '@/components/relative-time';
import { StateBadge, stateLabel } from '@/components/state-badge';
import { buttonVariants } from '@/components/ui/button';
import { Badge } from '@/components/ui/badge';
import { Card } from '@/components/ui/card';
import { cn } from '@/components/ui/cn';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { useTRPC } from '@/components/trpc';
import { CopyRate, Eta } from './migration-cells';
import { PhaseBar } from './phase-bar';
import { useMigrationActivity, type RatePoint } from './use-migration-activity';

const FINISHED = ['completed', 'failed', 'cancelled', 'rolled-back'];
const VIEWS = ['active', 'attention', 'finished', 'all'] as const;
type View = (typeof VIEWS)[number];
const VIEW_LABEL: Record<View, string> = { active: 'Active', attention: 'Needs attention', finished: 'Finished', all: 'All' };

const SORT_KEYS = ['volume', 'state', 'left', 'rate', 'eta', 'started'] as const;
type SortKey = (typeof SORT_KEYS)[number];
const DEFAULT_SORT: SortState<SortKey> = { key: 'started', direction: 'desc' };

/** Bytes left in the current phase, or null when the phase has no such figure. */
function leftOf(migration: MigrationRow): number | null {
  return migration.state === 'copying' || migration.state === 'syncing' || migration.state === 'ready' || migration.state === 'paused' ? migration.dirtyBytes : null;
}

const sortValue: Record<SortKey, (migration: MigrationRow) => string | number | null> = {
  volume: (m) => `${m.hostname}/${m.nbdExport}`,
  state: (m) => m.state,
  left: leftOf,
  rate: (m) => (m.state === 'copying' || m.state === 'syncing' ? m.copyRateBytesPerS : null),
  eta: (m) => (m.state === 'copying' || m.state === 'syncing' ? m.etaSeconds : null),
  started: (m) => m.createdAt.getTime(),
};

const needsAttention = (m: MigrationRow) => m.state === 'failed' || Boolean(m.agentUnreachableSince) || (m.state === 'ready' && m.cutoverPolicy.mode !== 'auto') || (m.state === 'verified' && m.cutoverPolicy.commit === 'manual');

function inView(view: View, m: MigrationRow): boolean {
  switch (view) {
    case 'active':
      return !FINISHED.includes(m.state);
    case 'attention':
      return needsAttention(m);
    case 'finished':
      return FINISHED.includes(m.state);
    default:
      return true;
  }
}

/**
 * The migrations list (docs/ui.md §3.8): every migration with where it is (phase bar), what is left,
 * how fast it copies (with a 60 s sparkline), when it should finish, from where to where. Filters
 * and sort live in the URL; while anything runs the rows refresh every two seconds.
 */
export function MigrationsPage() {
  const trpc = useTRPC();
  const migrations = useQuery({
    ...trpc.migrations.list.queryOptions({ limit: 500 }),
    refetchInterval: (query) => (query.state.data?.some((m) => !FINISHED.includes(m.state)) ? 2_000 : false),
  });
  const anyActive = Boolean(migrations.data?.some((m) => !FINISHED.includes(m.state)));
  const activity = useMigrationActivity(anyActive);
  const { params, update } = useUrlParams();
  const [text, setText] = useDebouncedUrlParam('q');
  const all = migrations.data ?? [];
  const view: View = (VIEWS as readonly string[]).includes(params.get('view') ?? '') ? (params.get('view') as View) : anyActive || all.length === 0 ? 'active' : 'all';
  const stateFilter = params.get('state') ?? '';
  const sourceFilter = params.get('source') ?? '';
  const targetFilter = params.get('target') ?? '';
  const strategyFilter = params.get('strategy') ?? '';
  const sort = parseSort(params.get('sort'), SORT_KEYS, DEFAULT_SORT);

  const q = text.trim().toLowerCase();
  const inThisView = all.filter((m) => inView(view, m));
  const filtered = inThisView.filter(
    (m) =>
      (!q || `${m.hostname} ${m.diskGroupName} ${m.volumeName} ${m.nbdExport}`.toLowerCase().includes(q)) &&
      (!stateFilter || m.state === stateFilter) &&
      (!sourceFilter || m.sourceArrayName === sourceFilter) &&
      (!targetFilter || m.targetArrayName === targetFilter) &&
      (!strategyFilter || m.strategy === strategyFilter),
  );
  const { rows, handlers } = useRowFreeze(sortRows(filtered, sortValue[sort.key], sort.direction), (m) => m.id);
  const filtering = Boolean(q || stateFilter || sourceFilter || targetFilter || strategyFilter);
  const clear = () => {
    setText('');
    update({ q: null, state: null, source: null, target: null, strategy: null });
  };
  const facet = (pick: (m: MigrationRow) => string | null) => {
    const counts = new Map<string, number>();
    for (const m of inThisView) {
      const value = pick(m);
      if (value) counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([value, count]) => ({ value, count }));
  };
  const onSort = (next: SortState<SortKey>) => update({ sort: formatSort(next) });

  return (
    <div className="space-y-4">
      <PageHeader title="Migrations" description="Every volume migration, running or finished." />
      {migrations.isSuccess && all.length === 0 ? (
        <NoMigrations />
      ) : (
        <>
          <nav aria-label="Which migrations" className="inline-flex rounded-md border p-0.5 text-sm">
            {VIEWS.map((name) => {
              const count = all.filter((m) => inView(name, m)).length;
              return (
                <button
                  key={name}
                  type="button"
                  aria-pressed={view === name}
                  onClick={() => update({ view: name })}
                  className={cn('rounded px-3 py-1 tabular-nums text-muted-foreground hover:text-foreground', view === name && 'bg-accent font-medium text-foreground')}
                >
                  {VIEW_LABEL[name]} {migrations.data ? <span className="text-xs">({formatInteger(count)})</span> : null}
                </button>
              );
            })}
          </nav>
          <FilterBar canClear={filtering} onClear={clear} summary={migrations.data ? `${formatInteger(filtered.length)} of ${formatCount(inThisView.length, 'migration')}` : null}>
            <TextFilter label="Filter migrations by host, disk group or volume" placeholder="Filter by host or volume" value={text} onChange={setText} />
            <FacetSelect
              label="State"
              value={stateFilter}
              onChange={(value) => update({ state: value || null })}
              options={facet((m) => m.state).map(({ value, count }) => ({ value, label: stateLabel('migration', value), count }))}
            />
            <FacetSelect label="From" value={sourceFilter} onChange={(value) => update({ source: value || null })} options={facet((m) => m.sourceArrayName).map(({ value, count }) => ({ value, label: value, count }))} />
            <FacetSelect label="To" value={targetFilter} onChange={(value) => update({ target: value || null })} options={facet((m) => m.targetArrayName).map(({ value, count }) => ({ value, label: value, count }))} />
            <FacetSelect
              label="Strategy"
              value={strategyFilter}
              onChange={(value) => update({ strategy: value || null })}
              options={facet((m) => m.strategy).map(({ value, count }) => ({ value, label: value === 'precopy' ? 'Pre-copy' : 'Mirror', count }))}
            />
          </FilterBar>
          <Card>
            {migrations.isPending ? (
              <TableSkeleton columns={8} label="Loading migrations" />
            ) : migrations.isError ? (
              <QueryError error={migrations.error} onRetry={() => migrations.refetch()} what="migrations" className="m-4" />
            ) : (
              <Table>
                <TableHeader>
                  <TableRow className="hover:bg-transparent">
                    <SortHead sortKey="volume" sort={sort} onSort={onSort} className="pl-4">
                      Volume
                    </SortHead>
                    <SortHead sortKey="state" sort={sort} onSort={onSort}>
                      State
                    </SortHead>
                    <TableHead>Phase</TableHead>
                    <SortHead sortKey="left" sort={sort} onSort={onSort} align="right">
                      Left
                    </SortHead>
                    <SortHead sortKey="rate" sort={sort} onSort={onSort}>
                      Rate
                    </SortHead>
                    <SortHead sortKey="eta" sort={sort} onSort={onSort}>
                      ETA
                    </SortHead>
                    <TableHead>Source → target</TableHead>
                    <SortHead sortKey="started" sort={sort} onSort={onSort} className="pr-4">
                      Started
                    </SortHead>
                  </TableRow>
                </TableHeader>
                <TableBody {...handlers}>
                  {rows.map((migration) => (
                    <MigrationListRow key={migration.id} migration={migration} sparkline={activity.sparklines.get(migration.id)} />
                  ))}
                </TableBody>
              </Table>
            )}
            {migrations.isSuccess && filtered.length === 0 ? (
              filtering ? (
                <FilteredEmpty what="migrations" onClear={clear} />
              ) : (
                <p className="px-4 py-8 text-center text-sm text-muted-foreground">
                  {view === 'active' ? 'Nothing is moving right now.' : view === 'attention' ? 'No migration needs you.' : 'No finished migrations yet.'}
                </p>
              )
            ) : null}
          </Card>
        </>
      )}
    </div>
  );
}

function MigrationListRow({ migration, sparkline }: { migration: MigrationRow; sparkline?: RatePoint[] }) {
  const left = leftOf(migration);
  return (
    <TableRow data-testid="migration-row" data-state={migration.state} data-volume={migration.nbdExport}>
      <TableCell className="pl-4">
        <Link href={`/migrations/${migration.id}`} className="whitespace-nowrap hover:underline" title={`${migration.hostname} / ${migration.diskGroupName} / ${migration.volumeName}`}>
          <span className="text-muted-foreground">{migration.hostname} / </span>
          <span className="font-medium">{migration.volumeName}</span>
        </Link>
      </TableCell>
      <TableCell>
        <div className="flex flex-wrap items-center gap-1">
          <StateBadge type="migration" state={migration.state} />
          {migration.agentUnreachableSince ? (
            <Badge tone="warning" title="no answer from the host's agent; the copy normally continues on the host">
              <PlugZap aria-hidden />
              Agent unreachable · <Since value={migration.agentUnreachableSince} />
            </Badge>
          ) : null}
        </div>
        {migration.state === 'failed' && migration.error ? <p className="mt-1 max-w-64 truncate text-xs text-red-700 dark:text-red-400" title={migration.error}>{migration.error}</p> : null}
      </TableCell>
      <TableCell>
        <PhaseBar migration={migration} />
      </TableCell>
      <TableCell className="text-right tabular-nums whitespace-nowrap">{left === null ? <span className="text-muted-foreground">—</span> : `${formatBytes(left)} left`}</TableCell>
      <TableCell className="whitespace-nowrap">
        <CopyRate migration={migration} sparkline={sparkline} showThrottle />
      </TableCell>
      <TableCell>
        <Eta migration={migration} />
      </TableCell>
      <TableCell className="whitespace-nowrap">
        {migration.sourceArrayName ?? '—'} → {migration.targetArrayName}
        <span className="block text-xs text-muted-foreground">{migration.strategy === 'precopy' ? 'Pre-copy' : 'Mirror'}</span>
      </TableCell>
      <TableCell className="pr-4 whitespace-nowrap">
        <RelativeTime value={migration.createdAt} />
      </TableCell>
    </TableRow>
  );
}

function NoMigrations() {
  return (
    <EmptyState
      icon={ArrowRightLeft}
      title="No migrations yet"
      actions={
        <>
          <Link href="/hosts" className={buttonVariants({ variant: 'outline', size: 'sm' })}>
            Go to hosts
          </Link>
          <Link href="/arrays" className={buttonVariants({ variant: 'outline', size: 'sm' })}>
            Go to arrays
          </Link>
        </>
      }
    >
      <p>A migration moves one volume to a LUN on another array while the application keeps writing. Start one with “Migrate…” on a volume of a host’s page.</p>
    </EmptyState>
  );
}
