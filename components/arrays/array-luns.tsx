'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { HardDrive } from 'lucide-react';
import Link from 'next/link';
import type { LunRow } from '@/components/api-types';
import { FilterBar, TextFilter } from '@/components/data/filter-bar';
import { Pager, readPaging } from '@/components/data/pager';
import { EmptyState, QueryError, TableSkeleton } from '@/components/data/query-states';
import { SortHead } from '@/components/data/sort-head';
import { formatSort, parseSort, type SortState } from '@/components/data/sorting';
import { useDebouncedUrlParam, useUrlParams } from '@/components/data/use-url-params';
import { formatBytes, formatBytesExact, formatInteger } from '@/components/format';
import { IdText } from '@/components/id-text';
import { StateBadge } from '@/components/state-badge';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { useTRPC } from '@/components/trpc';

const SORT_KEYS = ['name', 'size'] as const;
type SortKey = (typeof SORT_KEYS)[number];
const DEFAULT_SORT: SortState<SortKey> = { key: 'name', direction: 'asc' };
const MAX_HOST_CHIPS = 3;

/**
 * An array's LUNs, paginated, sorted and filtered by the server (docs/ui.md §3.4, §3.0.2): an
 * array can hold thousands, so the browser never loads them all. Page, size, filter and
 * sort live in the URL.
 */
export function ArrayLuns({ arrayId, arrayName }: { arrayId: string; arrayName: string }) {
  const trpc = useTRPC();
  const { params, update } = useUrlParams();
  const [text, setText] = useDebouncedUrlParam('q', 300, { page: null });
  const q = params.get('q') ?? '';
  const { page, pageSize } = readPaging(params);
  const sort = parseSort(params.get('sort'), SORT_KEYS, DEFAULT_SORT);

  const luns = useQuery(
    trpc.arrays.luns.queryOptions(
      { arrayId, q: q || undefined, page, pageSize, sort: sort.key, direction: sort.direction },
      { placeholderData: keepPreviousData },
    ),
  );
  const total = luns.data?.total ?? 0;
  const onSort = (next: SortState<SortKey>) => update({ sort: formatSort(next), page: null });

  if (luns.isSuccess && total === 0 && !q) {
    return (
      <EmptyState icon={HardDrive} title="This array has no LUNs">
        <p>Tern creates LUNs here when it places migrations on this array.</p>
      </EmptyState>
    );
  }

  return (
    <div className="space-y-3">
      <FilterBar canClear={Boolean(text)} onClear={() => setText('')} summary={luns.data ? `${formatInteger(total)} ${total === 1 ? 'LUN' : 'LUNs'}${q ? ' match' : ''}` : null}>
        <TextFilter label={`Filter LUNs on ${arrayName} by name or WWN`} placeholder="Filter by LUN name or WWN" value={text} onChange={setText} />
      </FilterBar>
      <Card>
        {luns.isPending ? (
          <TableSkeleton columns={7} label="Loading LUNs" />
        ) : luns.isError ? (
          <QueryError error={luns.error} onRetry={() => luns.refetch()} what="LUNs" className="m-4" />
        ) : (
          <>
            <Table aria-busy={luns.isPlaceholderData || undefined}>
              <TableHeader>
                <TableRow className="hover:bg-transparent">
                  <SortHead sortKey="name" sort={sort} onSort={onSort} className="pl-4">
                    LUN
                  </SortHead>
                  <TableHead>WWN</TableHead>
                  <SortHead sortKey="size" sort={sort} onSort={onSort} align="right">
                    Size
                  </SortHead>
                  <TableHead>State</TableHead>
                  <TableHead>Mapped to</TableHead>
                  <TableHead>Used by</TableHead>
                  <TableHead className="pr-4">Plex state</TableHead>
                </TableRow>
              </TableHeader>
              <TableBody className={luns.isPlaceholderData ? 'opacity-60' : undefined}>
                {luns.data.luns.map((lun) => (
                  <LunTableRow key={lun.id} lun={lun} />
                ))}
              </TableBody>
            </Table>
            {luns.data.luns.length === 0 ? (
              <div className="flex flex-col items-center gap-2 px-6 py-8 text-sm">
                <p>No LUNs match “{q}”.</p>
                <Button size="sm" variant="outline" onClick={() => setText('')}>
                  Clear filter
                </Button>
              </div>
            ) : null}
            <Pager page={page} pageSize={pageSize} total={total} onChange={update} />
          </>
        )}
      </Card>
    </div>
  );
}

function LunTableRow({ lun }: { lun: LunRow }) {
  const shown = lun.mappedTo.slice(0, MAX_HOST_CHIPS);
  const hidden = lun.mappedTo.slice(MAX_HOST_CHIPS);
  return (
    <TableRow>
      <TableCell className="pl-4 font-medium">{lun.name}</TableCell>
      <TableCell>
        <IdText value={lun.wwn} label="WWN" />
      </TableCell>
      <TableCell className="text-right whitespace-nowrap tabular-nums" title={formatBytesExact(lun.sizeBytes)}>
        {formatBytes(lun.sizeBytes)}
      </TableCell>
      <TableCell>
        <StateBadge type="lun" state={lun.state} />
      </TableCell>
      <TableCell>
        {lun.mappedTo.length === 0 ? (
          <span className="text-muted-foreground">not mapped</span>
        ) : (
          <ul className="flex flex-wrap gap-1">
            {shown.map((host) => (
              <li key={host.hostId}>
                <Link href={`/hosts/${host.hostId}`} className="inline-flex rounded border px-1.5 py-0.5 text-xs hover:bg-accent">
                  {host.hostname}
                </Link>
              </li>
            ))}
            {hidden.length ? (
              <li className="px-1 text-xs text-muted-foreground" title={hidden.map((host) => host.hostname).join(', ')}>
                +{hidden.length}
              </li>
            ) : null}
          </ul>
        )}
      </TableCell>
      <TableCell>
        {lun.usedBy.length === 0 ? (
          <span className="text-muted-foreground">unused</span>
        ) : (
          <ul>
            {lun.usedBy.map((use) => (
              <li key={`${use.volumeId}-${use.plexName}`} className="whitespace-nowrap">
                <Link href={`/hosts/${use.hostId}#volume-${use.volumeId}`} className="hover:underline" title={`${use.hostname} / ${use.diskGroupName} / ${use.volumeName} / ${use.plexName}`}>
                  <span className="text-muted-foreground">{use.hostname} / {use.diskGroupName} / </span>
                  <span className="font-medium">{use.volumeName}</span>
                  <span className="text-muted-foreground"> / {use.plexName}</span>
                </Link>
              </li>
            ))}
          </ul>
        )}
      </TableCell>
      <TableCell className="pr-4">
        {lun.usedBy.length === 0 ? (
          <span className="text-muted-foreground">—</span>
        ) : (
          <div className="flex flex-wrap gap-1">
            {lun.usedBy.map((use) => (
              <StateBadge key={`${use.volumeId}-${use.plexName}`} type="plex" state={use.plexState} />
            ))}
          </div>
        )}
      </TableCell>
    </TableRow>
  );
}
