'use client';
import { ArrowRight, CircleDot, PlugZap, ShieldCheck, XCircle } from 'lucide-react';
import Link from 'next/link';
import type { ReactNode } from 'react';
import { QueryError } from '@/components/data/query-states';
import { formatBytes, formatRate } from '@/components/format';
import { CopyRate, Eta } from '@/components/migrations/migration-cells';
import { PhaseBar } from '@/components/migrations/phase-bar';
import type { MigrationActivity, useMigrationActivity } from '@/components/migrations/use-migration-activity';
import { Since } from '@/components/relative-time';
import { Sparkline } from '@/components/sparkline';
import { buttonVariants } from '@/components/ui/button';
import { Card, CardContent, CardHeader, CardTitle } from '@/components/ui/card';
import { Skeleton } from '@/components/ui/skeleton';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';

type ActivityQuery = ReturnType<typeof useMigrationActivity>['query'];
type ActivityRow = MigrationActivity['migrations'][number];

/** Rows on the overview's Active migrations card (docs/ui.md §3.2: top 8, attention first, then soonest). */
const TOP = 8;
/** The copy-rate card's sparkline span. */
const AGGREGATE_WINDOW_MS = 10 * 60_000;

/** The Copy rate KPI card: the sum of running copies now, its last ten minutes, and what moved in 24 h. */
export function CopyRateCard({ activity }: { activity: ActivityQuery }) {
  return (
    <Card className="flex flex-col" data-testid="copy-rate-card">
      <CardHeader className="pb-1">
        <CardTitle className="font-medium text-muted-foreground">Copy rate</CardTitle>
      </CardHeader>
      <CardContent className="flex flex-1 flex-col gap-2">
        {activity.isPending ? (
          <Skeleton className="h-16" />
        ) : activity.isError ? (
          <QueryError error={activity.error} onRetry={() => activity.refetch()} what="the copy rate" />
        ) : (
          <>
            <p className="text-3xl font-semibold tabular-nums" data-value={activity.data.copyRateBytesPerS}>
              {formatRate(activity.data.copyRateBytesPerS)}
            </p>
            {activity.data.copyRateHistory.length > 1 ? (
              <div className="text-emerald-700 dark:text-emerald-400">
                <Sparkline points={activity.data.copyRateHistory.map((p) => ({ t: p.t, value: p.bytesPerS }))} windowMs={AGGREGATE_WINDOW_MS} end={activity.dataUpdatedAt} gapMs={25_000} width={160} height={28} />
              </div>
            ) : null}
            <p className="text-sm text-muted-foreground tabular-nums">{formatBytes(activity.data.movedLastDayBytes)} moved in the last 24 h</p>
          </>
        )}
      </CardContent>
    </Card>
  );
}

/** Active migrations (docs/ui.md §3.2): volume, phase, rate with its 60 s sparkline, ETA. */
export function ActiveMigrationsCard({ activity }: { activity: ActivityQuery }) {
  const rows = activity.data?.migrations.filter((m) => m.state !== 'failed') ?? [];
  return (
    <Card aria-labelledby="active-migrations-title" data-testid="active-migrations">
      <CardHeader>
        <CardTitle id="active-migrations-title">Active migrations{activity.data ? ` (${rows.length})` : ''}</CardTitle>
        <Link href="/migrations?view=active" className="inline-flex items-center gap-1 text-sm text-muted-foreground hover:text-foreground">
          View all <ArrowRight aria-hidden className="size-3.5" />
        </Link>
      </CardHeader>
      {activity.isPending ? (
        <CardContent>
          <Skeleton className="h-24" />
        </CardContent>
      ) : activity.isError ? (
        <CardContent>
          <QueryError error={activity.error} onRetry={() => activity.refetch()} what="active migrations" />
        </CardContent>
      ) : rows.length === 0 ? (
        <CardContent className="flex items-center justify-between gap-4">
          <p className="text-sm text-muted-foreground">Nothing is moving. Start a migration from a volume on a host page, or evacuate an array.</p>
          <Link href="/arrays" className={buttonVariants({ variant: 'outline', size: 'sm' })}>
            Go to arrays
          </Link>
        </CardContent>
      ) : (
        <Table>
          <TableHeader>
            <TableRow className="hover:bg-transparent">
              <TableHead className="pl-4">Volume</TableHead>
              <TableHead>Phase</TableHead>
              <TableHead>Rate</TableHead>
              <TableHead className="pr-4">ETA</TableHead>
            </TableRow>
          </TableHeader>
          <TableBody>
            {rows.slice(0, TOP).map((m) => (
              <ActiveRow key={m.id} migration={m} />
            ))}
          </TableBody>
        </Table>
      )}
    </Card>
  );
}

function ActiveRow({ migration }: { migration: ActivityRow }) {
  return (
    <TableRow data-testid="active-migration" data-state={migration.state}>
      <TableCell className="pl-4">
        <Link href={`/migrations/${migration.id}`} className="hover:underline">
          <span className="text-muted-foreground">{migration.hostname}/</span>
          <span className="font-medium">{migration.volumeName}</span>
        </Link>
      </TableCell>
      <TableCell>
        <PhaseBar migration={migration} />
      </TableCell>
      <TableCell className="whitespace-nowrap">
        <CopyRate migration={migration} sparkline={migration.sparkline} />
      </TableCell>
      <TableCell className="pr-4">
        <Eta migration={migration} />
      </TableCell>
    </TableRow>
  );
}

export interface AttentionItem {
  key: string;
  name: string;
  href: string;
  message: ReactNode;
  icon: ReactNode;
}

/** Migrations that need a person, in docs/ui.md §3.2's order: failed, agent unreachable, waiting for a cutover or a commit. */
export function migrationAttention(activity: MigrationActivity | undefined): AttentionItem[] {
  const items: AttentionItem[] = [];
  for (const m of activity?.migrations ?? []) {
    if (!m.attention) continue;
    const base = { key: `migration-${m.id}`, name: `${m.hostname}/${m.volumeName}`, href: `/migrations/${m.id}` };
    switch (m.attention) {
      case 'failed':
        items.push({ ...base, icon: <XCircle aria-label="Failed" className="size-4 shrink-0 text-red-600 dark:text-red-400" />, message: <>Failed: {m.error ?? 'no reason given'}. Source intact.</> });
        break;
      case 'agent-unreachable':
        items.push({
          ...base,
          icon: <PlugZap aria-label="Agent unreachable" className="size-4 shrink-0 text-amber-600 dark:text-amber-400" />,
          message: (
            <>
              Agent unreachable for {m.agentUnreachableSince ? <Since value={m.agentUnreachableSince} /> : 'a while'}; the copy normally continues on the host.
            </>
          ),
        });
        break;
      case 'awaiting-cutover':
        items.push({ ...base, icon: <CircleDot aria-label="Ready" className="size-4 shrink-0 text-violet-600 dark:text-violet-400" />, message: <>Ready: waiting for you to cut over.</> });
        break;
      case 'awaiting-commit':
        items.push({ ...base, icon: <ShieldCheck aria-label="Verified" className="size-4 shrink-0 text-violet-600 dark:text-violet-400" />, message: <>Verified: commit to release the source, or roll back.</> });
        break;
    }
  }
  return items;
}
