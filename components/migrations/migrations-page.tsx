'use client';
import { useQuery } from '@tanstack/react-query';
import { ArrowRightLeft } from 'lucide-react';
import Link from 'next/link';
import { EmptyState, QueryError, TableSkeleton } from '@/components/data/query-states';
import { formatBytes, formatCount } from '@/components/format';
import { PageHeader } from '@/components/page-header';
import { RelativeTime } from '@/components/relative-time';
import { StateBadge } from '@/components/state-badge';
import { buttonVariants } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { useTRPC } from '@/components/trpc';

/**
 * The migrations list (UI.md §3.8): every migration with its volume, where it moves from and to,
 * its state and how much it copied. The Migrate dialog and the detail page come next.
 */
export function MigrationsPage() {
  const trpc = useTRPC();
  const migrations = useQuery(trpc.migrations.list.queryOptions());

  return (
    <div className="space-y-4">
      <PageHeader title="Migrations" description="Every volume migration, running or finished." />
      {migrations.isPending ? (
        <Card>
          <TableSkeleton columns={7} label="Loading migrations" />
        </Card>
      ) : migrations.isError ? (
        <QueryError error={migrations.error} onRetry={() => migrations.refetch()} what="migrations" />
      ) : migrations.data.length === 0 ? (
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
          <p>
            A migration moves one volume to a LUN on another array while the application keeps writing. Today they start through the API
            (<span className="font-mono">migrations.create</span>); the Migrate action on a volume and the Evacuate array wizard arrive in a later release.
          </p>
        </EmptyState>
      ) : (
        <Card>
          <p className="border-b px-4 py-2 text-sm text-muted-foreground">{formatCount(migrations.data.length, 'migration')}</p>
          <Table>
            <TableHeader>
              <TableRow className="hover:bg-transparent">
                <TableHead className="pl-4">State</TableHead>
                <TableHead>Volume</TableHead>
                <TableHead>From → to</TableHead>
                <TableHead>Strategy</TableHead>
                <TableHead className="text-right">Copied</TableHead>
                <TableHead>Started</TableHead>
                <TableHead className="pr-4">Error</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {migrations.data.map((migration) => (
                <TableRow key={migration.id}>
                  <TableCell className="pl-4">
                    <StateBadge type="migration" state={migration.state} />
                  </TableCell>
                  <TableCell>
                    <Link href={`/hosts/${migration.hostId}`} className="hover:underline">
                      {migration.hostname}/{migration.nbdExport}
                    </Link>
                  </TableCell>
                  <TableCell>
                    {migration.sourceArrayName ?? '—'} → {migration.targetArrayName}
                  </TableCell>
                  <TableCell>{migration.strategy === 'precopy' ? 'Pre-copy' : 'Mirror'}</TableCell>
                  <TableCell className="text-right tabular-nums">
                    {formatBytes(migration.bytesCopied)} of {formatBytes(migration.volumeSizeBytes)}
                  </TableCell>
                  <TableCell>
                    <RelativeTime value={migration.createdAt} />
                  </TableCell>
                  <TableCell className="pr-4 text-muted-foreground">{migration.error ?? '—'}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </Card>
      )}
    </div>
  );
}
