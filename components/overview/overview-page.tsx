'use client';
import { useQuery } from '@tanstack/react-query';
import { ArrowRight, Database, PlugZap, ShieldOff, CircleOff, TriangleExclamationPoint } from 'lucide-react';
import Link from 'next/link';
import type { ReactNode } from 'react';
import type { Overview } from '@/components/api-types';
import { CapacityBar } from '@/components/capacity-bar';
import { EmptyState, QueryError } from '@/components/data/query-states';
import { EventFeed } from '@/components/events/event-feed';
import { formatCount, formatInteger, formatTier } from '@/components/format';
import { Since } from '@/components/relative-time';
import { StateBadge, stateLabel } from '@/components/state-badge';
import { buttonVariants } from '@/components/ui/button';
import { Card, CardContent, CardHeader, CardTitle } from '@/components/ui/card';
import { cn } from '@/components/ui/cn';
import { Skeleton } from '@/components/ui/skeleton';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { useTRPC } from '@/components/trpc';
import { useMigrationActivity } from '@/components/migrations/use-migration-activity';
import { ActiveMigrationsCard, CopyRateCard, migrationAttention, type AttentionItem } from './migration-cards';

const ARRAY_STATES = ['online', 'degraded', 'evacuating', 'evacuated', 'offline'] as const;
const ACTIVE_MIGRATION_STATES = ['queued', 'preparing', 'syncing', 'copying', 'ready', 'cutting-over', 'verifying', 'verified', 'committing', 'paused'];

/**
 * The overview (docs/ui.md §3.2): is anything wrong, what is moving. One `overview.get` query,
 * kept fresh by the live layer.
 */
export function OverviewPage() {
  const trpc = useTRPC();
  const overview = useQuery(trpc.overview.get.queryOptions());

  return (
    <div className="space-y-6">
      <h1 className="text-xl font-semibold tracking-tight">Overview</h1>
      {overview.isPending ? (
        <OverviewSkeleton />
      ) : overview.isError ? (
        <QueryError error={overview.error} onRetry={() => overview.refetch()} what="the overview" />
      ) : overview.data.arrays.length === 0 && overview.data.hosts.total === 0 ? (
        <EmptyState icon={Database} title="No arrays yet">
          <p>
            Add an array, then enrol hosts. Settings → Arrays arrives in a later release; until then an admin adds arrays with the{' '}
            <code className="font-mono text-xs">arrays.create</code> API call. The <Link href="/hosts" className="underline underline-offset-4">Hosts page</Link> shows how to start an agent.
          </p>
        </EmptyState>
      ) : (
        <OverviewContent overview={overview.data} />
      )}
    </div>
  );
}

function OverviewContent({ overview }: { overview: Overview }) {
  const arrayCounts = Object.fromEntries(ARRAY_STATES.map((state) => [state, overview.arrays.filter((array) => array.state === state).length]));
  const activeMigrations = ACTIVE_MIGRATION_STATES.reduce((sum, state) => sum + (overview.migrations[state] ?? 0), 0);
  const totalMigrations = Object.values(overview.migrations).reduce((sum, n) => sum + n, 0);
  const { query: activity } = useMigrationActivity(activeMigrations > 0);
  const running = (overview.migrations.copying ?? 0) + (overview.migrations.syncing ?? 0);
  const needAction = activity.data?.migrations.filter((m) => m.attention).length ?? 0;
  const attention = [...migrationAttention(activity.data), ...attentionItems(overview)];

  return (
    <>
      <div className="grid grid-cols-2 gap-4 xl:grid-cols-4">
        <KpiCard title="Arrays" value={overview.arrays.length}>
          {ARRAY_STATES.filter((state) => state === 'online' || arrayCounts[state]).map((state) => (
            <KpiLine key={state} href={`/arrays?state=${state}`} count={arrayCounts[state] ?? 0} label={stateLabel('array', state).toLowerCase()} tone={state === 'online' ? 'ok' : 'warn'} />
          ))}
        </KpiCard>
        <KpiCard title="Hosts" value={overview.hosts.total}>
          <KpiLine href="/hosts?state=connected" count={overview.hosts.connected} label="connected" tone="ok" />
          <KpiLine href="/hosts?state=disconnected" count={overview.hosts.disconnected} label="disconnected" tone="warn" />
          <KpiLine href="/hosts?state=fenced" count={overview.hosts.fenced} label="fenced" tone="danger" />
          {overview.hosts.pending ? <KpiLine href="/hosts?state=pending" count={overview.hosts.pending} label="pending" tone="ok" /> : null}
        </KpiCard>
        <KpiCard title="Migrations" value={activeMigrations}>
          {totalMigrations === 0 ? (
            <p className="text-sm text-muted-foreground">Nothing has moved yet.</p>
          ) : (
            <>
              <KpiLine href="/migrations?view=active" count={running} label="running" tone="ok" />
              <KpiLine href="/migrations?view=active&state=queued" count={overview.migrations.queued ?? 0} label="queued" tone="ok" />
              <KpiLine href="/migrations?view=attention" count={needAction} label="need action" tone="warn" />
              <KpiLine href="/migrations?view=finished&state=completed" count={overview.migrations.completed ?? 0} label="completed" tone="ok" />
            </>
          )}
        </KpiCard>
        <CopyRateCard activity={activity} />
      </div>

      {attention.length ? (
        <Card aria-labelledby="attention-title">
          <CardHeader>
            <CardTitle id="attention-title" className="flex items-center gap-2">
              <TriangleExclamationPoint aria-hidden className="size-4 text-amber-600 dark:text-amber-400" />
              Needs attention ({attention.length})
            </CardTitle>
          </CardHeader>
          <CardContent>
            <ul className="divide-y">
              {attention.slice(0, 6).map((item) => (
                <li key={item.key} className="flex items-center gap-3 py-2 text-sm">
                  {item.icon}
                  <Link href={item.href} className="font-medium hover:underline">
                    {item.name}
                  </Link>
                  <span className="min-w-0 flex-1 text-muted-foreground">{item.message}</span>
                  <Link href={item.href} className={buttonVariants({ variant: 'outline', size: 'xs' })} aria-label={`Open ${item.name}`}>
                    Open
                  </Link>
                </li>
              ))}
            </ul>
          </CardContent>
        </Card>
      ) : null}

      <ActiveMigrationsCard activity={activity} />

      <div className="grid gap-6 2xl:grid-cols-[minmax(0,2fr)_minmax(0,1fr)] 2xl:items-start">
        <div className="space-y-6">
          <Card aria-labelledby="arrays-title">
            <CardHeader>
              <CardTitle id="arrays-title">Arrays</CardTitle>
              <Link href="/arrays" className="inline-flex items-center gap-1 text-sm text-muted-foreground hover:text-foreground">
                View all <ArrowRight aria-hidden className="size-3.5" />
              </Link>
            </CardHeader>
            {overview.arrays.length === 0 ? (
              <CardContent>
                <p className="text-sm text-muted-foreground">No arrays yet. An admin adds arrays with the arrays.create API until Settings → Arrays arrives.</p>
              </CardContent>
            ) : (
              <Table>
                <TableHeader>
                  <TableRow className="hover:bg-transparent">
                    <TableHead className="pl-4">Name</TableHead>
                    <TableHead>Vendor / model</TableHead>
                    <TableHead>Tier</TableHead>
                    <TableHead>State</TableHead>
                    <TableHead>Capacity</TableHead>
                    <TableHead className="pr-4 text-right">LUNs</TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {overview.arrays.map((array) => (
                    <TableRow key={array.id}>
                      <TableCell className="pl-4">
                        <Link href={`/arrays/${array.id}`} className="font-medium hover:underline">
                          {array.name}
                        </Link>
                      </TableCell>
                      <TableCell className="text-muted-foreground">
                        {array.vendor} {array.model}
                      </TableCell>
                      <TableCell className="whitespace-nowrap">{formatTier(array.tier)}</TableCell>
                      <TableCell>
                        <StateBadge type="array" state={array.state} />
                      </TableCell>
                      <TableCell>
                        <CapacityBar usedBytes={array.provisionedBytes} totalBytes={array.capacityBytes} label={`${array.name} capacity`} />
                      </TableCell>
                      <TableCell className="pr-4 text-right tabular-nums">{formatInteger(array.lunCount)}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            )}
          </Card>
          <Card aria-labelledby="hosts-attention-title">
            <CardHeader>
              <CardTitle id="hosts-attention-title">Hosts needing attention</CardTitle>
            </CardHeader>
            <CardContent>
              {overview.attentionHosts.length === 0 ? (
                <p className="text-sm text-muted-foreground">
                  {overview.hosts.total === 0 ? 'No hosts enrolled yet.' : `All ${formatCount(overview.hosts.total, 'host')} connected.`}
                </p>
              ) : (
                <ul className="flex flex-wrap gap-x-6 gap-y-2 text-sm">
                  {overview.attentionHosts.map((host) => (
                    <li key={host.id} className="flex items-center gap-2">
                      <Link href={`/hosts/${host.id}`} className="font-medium hover:underline">
                        {host.hostname}
                      </Link>
                      <StateBadge type="host" state={host.state}>
                        <Since value={host.stateSince} />
                      </StateBadge>
                    </li>
                  ))}
                </ul>
              )}
            </CardContent>
          </Card>
        </div>
        <Card aria-labelledby="events-title">
          <CardHeader>
            <CardTitle id="events-title">Recent events</CardTitle>
            <Link href="/events" className="inline-flex items-center gap-1 text-sm text-muted-foreground hover:text-foreground">
              All events <ArrowRight aria-hidden className="size-3.5" />
            </Link>
          </CardHeader>
          <CardContent>
            {overview.recentEvents.length === 0 ? <p className="text-sm text-muted-foreground">No events yet.</p> : <EventFeed events={overview.recentEvents} />}
          </CardContent>
        </Card>
      </div>
    </>
  );
}

function KpiCard({ title, value, children }: { title: string; value: number | string | null; children: ReactNode }) {
  return (
    <Card className="flex flex-col">
      <CardHeader className="pb-1">
        <CardTitle className="font-medium text-muted-foreground">{title}</CardTitle>
      </CardHeader>
      <CardContent className="flex flex-1 flex-col gap-2">
        <p className="text-3xl font-semibold tabular-nums">{value === null ? '—' : typeof value === 'number' ? formatInteger(value) : value}</p>
        <div className="space-y-0.5">{children}</div>
      </CardContent>
    </Card>
  );
}

function KpiLine({ href, count, label, tone }: { href: string; count: number; label: string; tone: 'ok' | 'warn' | 'danger' }) {
  const attention = count > 0 && tone !== 'ok';
  return (
    <Link
      href={href}
      className={cn(
        'flex items-center gap-1.5 text-sm tabular-nums hover:underline',
        !attention && 'text-muted-foreground',
        attention && tone === 'warn' && 'font-medium text-amber-700 dark:text-amber-400',
        attention && tone === 'danger' && 'font-medium text-red-700 dark:text-red-400',
      )}
    >
      {formatInteger(count)} {label}
    </Link>
  );
}

/** Disconnected and fenced hosts, then arrays that are degraded or offline (docs/ui.md §3.2 order). */
function attentionItems(overview: Overview): AttentionItem[] {
  const items: AttentionItem[] = overview.attentionHosts.map((host) => ({
    key: `host-${host.id}`,
    name: host.hostname,
    href: `/hosts/${host.id}`,
    icon:
      host.state === 'fenced' ? (
        <ShieldOff aria-label="Fenced" className="size-4 shrink-0 text-red-600 dark:text-red-400" />
      ) : (
        <PlugZap aria-label="Disconnected" className="size-4 shrink-0 text-amber-600 dark:text-amber-400" />
      ),
    message:
      host.state === 'fenced' ? (
        <>Fenced: its agent credential is revoked.</>
      ) : (
        <>
          Disconnected for <Since value={host.stateSince} />: no heartbeat from its agent.
        </>
      ),
  }));
  for (const array of overview.arrays) {
    if (array.state !== 'degraded' && array.state !== 'offline') continue;
    items.push({
      key: `array-${array.id}`,
      name: array.name,
      href: `/arrays/${array.id}`,
      icon:
        array.state === 'offline' ? (
          <CircleOff aria-label="Offline" className="size-4 shrink-0 text-red-600 dark:text-red-400" />
        ) : (
          <TriangleExclamationPoint aria-label="Degraded" className="size-4 shrink-0 text-amber-600 dark:text-amber-400" />
        ),
      message: array.state === 'offline' ? 'Offline: nothing can be read from this array.' : 'Degraded: serving, with a fault.',
    });
  }
  return items;
}

function OverviewSkeleton() {
  return (
    <div role="status" aria-label="Loading the overview" className="space-y-6">
      <div className="grid grid-cols-2 gap-4 xl:grid-cols-4">
        {Array.from({ length: 4 }, (_, index) => (
          <Skeleton key={index} className="h-36 rounded-lg" />
        ))}
      </div>
      <Skeleton className="h-64 rounded-lg" />
      <Skeleton className="h-40 rounded-lg" />
    </div>
  );
}
