'use client';
import { useQuery } from '@tanstack/react-query';
import { Database } from 'lucide-react';
import Link from 'next/link';
import type { ArrayListItem } from '@/components/api-types';
import { CapacityBar } from '@/components/capacity-bar';
import { FacetSelect, FilterBar, TextFilter } from '@/components/data/filter-bar';
import { EmptyState, FilteredEmpty, QueryError, TableSkeleton } from '@/components/data/query-states';
import { SortHead } from '@/components/data/sort-head';
import { formatSort, parseSort, sortRows, type SortState } from '@/components/data/sorting';
import { useRowFreeze } from '@/components/data/use-row-freeze';
import { useDebouncedUrlParam, useUrlParams } from '@/components/data/use-url-params';
import { formatBytes, formatBytesExact, formatCount, formatInteger, formatTier } from '@/components/format';
import { PageHeader } from '@/components/page-header';
import { StateBadge, stateLabel } from '@/components/state-badge';
import { Card } from '@/components/ui/card';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { useTRPC } from '@/components/trpc';

const STATES = ['online', 'degraded', 'evacuating', 'evacuated', 'offline'] as const;
const SORT_KEYS = ['name', 'state', 'tier', 'used', 'free', 'luns', 'hosts'] as const;
type SortKey = (typeof SORT_KEYS)[number];
const DEFAULT_SORT: SortState<SortKey> = { key: 'name', direction: 'asc' };

const sortValue: Record<SortKey, (array: ArrayListItem) => string | number> = {
  name: (array) => array.name,
  state: (array) => STATES.indexOf(array.state),
  tier: (array) => array.tier,
  used: (array) => (array.capacityBytes > 0 ? array.provisionedBytes / array.capacityBytes : 0),
  free: (array) => array.freeBytes,
  luns: (array) => array.lunCount,
  hosts: (array) => array.hostCount,
};

/** The arrays list (docs/ui.md §3.3): the enclosure inventory with capacity and state. */
export function ArraysPage() {
  const trpc = useTRPC();
  const arrays = useQuery(trpc.arrays.list.queryOptions());
  const { params, update } = useUrlParams();
  const [text, setText] = useDebouncedUrlParam('q');
  const stateFilter = params.get('state') ?? '';
  const vendorFilter = params.get('vendor') ?? '';
  const tierFilter = params.get('tier') ?? '';
  const sort = parseSort(params.get('sort'), SORT_KEYS, DEFAULT_SORT);

  const all = arrays.data ?? [];
  const q = text.trim().toLowerCase();
  const filtered = all.filter(
    (array) =>
      (!q || array.name.toLowerCase().includes(q) || array.model.toLowerCase().includes(q)) &&
      (!stateFilter || array.state === stateFilter) &&
      (!vendorFilter || array.vendor === vendorFilter) &&
      (!tierFilter || String(array.tier) === tierFilter),
  );
  const sorted = sortRows(filtered, sortValue[sort.key], sort.direction);
  const { rows, handlers } = useRowFreeze(sorted, (array) => array.id);
  const vendors = [...new Set(all.map((array) => array.vendor))].sort();
  const tiers = [...new Set(all.map((array) => array.tier))].sort((a, b) => a - b);
  const filtering = Boolean(q || stateFilter || vendorFilter || tierFilter);
  const clear = () => {
    setText('');
    update({ q: null, state: null, vendor: null, tier: null });
  };
  const onSort = (next: SortState<SortKey>) => update({ sort: formatSort(next) });

  return (
    <div className="space-y-4">
      <PageHeader title="Arrays" description="Disk arrays, their capacity and the hosts that use them." />
      {arrays.isSuccess && all.length === 0 ? (
        <EmptyState icon={Database} title="No arrays yet">
          <p>
            Settings → Arrays arrives in a later release; until then an admin adds arrays with the <code className="font-mono text-xs">arrays.create</code> API call.
          </p>
        </EmptyState>
      ) : (
        <>
          <FilterBar canClear={filtering} onClear={clear} summary={arrays.data ? `${formatInteger(filtered.length)} of ${formatCount(all.length, 'array')}` : null}>
            <TextFilter label="Filter arrays by name or model" placeholder="Filter by name or model" value={text} onChange={setText} />
            <FacetSelect
              label="State"
              value={stateFilter}
              onChange={(value) => update({ state: value || null })}
              options={STATES.map((state) => ({ value: state, label: stateLabel('array', state), count: all.filter((array) => array.state === state).length }))}
            />
            <FacetSelect
              label="Vendor"
              value={vendorFilter}
              onChange={(value) => update({ vendor: value || null })}
              options={vendors.map((vendor) => ({ value: vendor, label: vendor, count: all.filter((array) => array.vendor === vendor).length }))}
            />
            <FacetSelect
              label="Tier"
              value={tierFilter}
              onChange={(value) => update({ tier: value || null })}
              options={tiers.map((tier) => ({ value: String(tier), label: formatTier(tier), count: all.filter((array) => array.tier === tier).length }))}
            />
          </FilterBar>
          <Card>
            {arrays.isPending ? (
              <TableSkeleton columns={8} label="Loading arrays" />
            ) : arrays.isError ? (
              <QueryError error={arrays.error} onRetry={() => arrays.refetch()} what="arrays" className="m-4" />
            ) : (
              <Table>
                <TableHeader>
                  <TableRow className="hover:bg-transparent">
                    <SortHead sortKey="name" sort={sort} onSort={onSort} className="pl-4">
                      Name
                    </SortHead>
                    <SortHead sortKey="state" sort={sort} onSort={onSort}>
                      State
                    </SortHead>
                    <TableHead>Vendor / model</TableHead>
                    <SortHead sortKey="tier" sort={sort} onSort={onSort}>
                      Tier
                    </SortHead>
                    <SortHead sortKey="used" sort={sort} onSort={onSort}>
                      Capacity
                    </SortHead>
                    <SortHead sortKey="free" sort={sort} onSort={onSort} align="right">
                      Free
                    </SortHead>
                    <SortHead sortKey="luns" sort={sort} onSort={onSort} align="right">
                      LUNs
                    </SortHead>
                    <SortHead sortKey="hosts" sort={sort} onSort={onSort} align="right" className="pr-4">
                      Hosts
                    </SortHead>
                  </TableRow>
                </TableHeader>
                <TableBody {...handlers}>
                  {rows.map((array) => (
                    <TableRow key={array.id}>
                      <TableCell className="pl-4">
                        <Link href={`/arrays/${array.id}`} className="font-medium hover:underline">
                          {array.name}
                        </Link>
                      </TableCell>
                      <TableCell>
                        <StateBadge type="array" state={array.state} />
                      </TableCell>
                      <TableCell>
                        <div className="leading-tight">
                          <p>{array.vendor}</p>
                          <p className="text-xs text-muted-foreground">{array.model}</p>
                        </div>
                      </TableCell>
                      <TableCell className="whitespace-nowrap">{formatTier(array.tier)}</TableCell>
                      <TableCell>
                        <CapacityBar usedBytes={array.provisionedBytes} totalBytes={array.capacityBytes} label={`${array.name} capacity`} />
                      </TableCell>
                      <TableCell className="text-right whitespace-nowrap tabular-nums" title={formatBytesExact(array.freeBytes)}>
                        {formatBytes(array.freeBytes)}
                      </TableCell>
                      <TableCell className="text-right tabular-nums">{formatInteger(array.lunCount)}</TableCell>
                      <TableCell className="pr-4 text-right tabular-nums">{formatInteger(array.hostCount)}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            )}
            {arrays.isSuccess && filtered.length === 0 ? <FilteredEmpty what="arrays" onClear={clear} /> : null}
          </Card>
        </>
      )}
    </div>
  );
}
