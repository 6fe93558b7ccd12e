'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Server } from 'lucide-react';
import Link from 'next/link';
import { useEffect, useSyncExternalStore } from 'react';
import type { HostListItem, HostState } from '@/components/api-types';
import { CommandBlock } from '@/components/command-block';
import { FacetSelect, FilterBar, TextFilter } from '@/components/data/filter-bar';
import { Pager, readPaging } from '@/components/data/pager';
import { EmptyState, FilteredEmpty, QueryError, TableSkeleton } from '@/components/data/query-states';
import { SortHead } from '@/components/data/sort-head';
import { formatSort, parseSort, type SortState } from '@/components/data/sorting';
import { useDebouncedUrlParam, useUrlParams } from '@/components/data/use-url-params';
import { useRowFreeze } from '@/components/data/use-row-freeze';
import { formatCount, formatInteger } from '@/components/format';
import { PageHeader } from '@/components/page-header';
import { RelativeTime, Since } from '@/components/relative-time';
import { StateBadge, stateLabel } from '@/components/state-badge';
import { Card } from '@/components/ui/card';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { useTRPC } from '@/components/trpc';

/** A heartbeat older than this is shown in amber (docs/ui.md §3.5). */
export const LATE_HEARTBEAT_MS = 15_000;

const STATES: HostState[] = ['connected', 'disconnected', 'fenced', 'pending'];
const STATE_FILTERS = [...STATES, 'attention'] as const;
type StateFilter = (typeof STATE_FILTERS)[number];
/** The server sorts by these; disk group and volume counts are rolled up per page, so they do not sort. */
const SORT_KEYS = ['hostname', 'state', 'heartbeat', 'version'] as const;
type SortKey = (typeof SORT_KEYS)[number];
const DEFAULT_SORT: SortState<SortKey> = { key: 'hostname', direction: 'asc' };

/**
 * The hosts list (docs/ui.md §3.5): health of the managed hosts and their agents, live. A fleet has a
 * thousand hosts, so the server pages, filters and sorts them; search, facets, sort and page
 * live in the URL.
 */
export function HostsPage() {
  const trpc = useTRPC();
  const { params, update } = useUrlParams();
  const [text, setText] = useDebouncedUrlParam('q', 300, { page: null });
  const q = params.get('q') ?? '';
  const stateParam = params.get('state') ?? '';
  const stateFilter = (STATE_FILTERS as readonly string[]).includes(stateParam) ? (stateParam as StateFilter) : undefined;
  const arrayName = params.get('array') ?? '';
  const sort = parseSort(params.get('sort'), SORT_KEYS, DEFAULT_SORT);
  const { page, pageSize } = readPaging(params);

  // The Array facet names arrays in the URL; the server filters by id.
  const arrays = useQuery(trpc.arrays.list.queryOptions());
  const array = arrayName ? arrays.data?.find((entry) => entry.name === arrayName) : undefined;
  const unknownArray = Boolean(arrayName) && arrays.isSuccess && !array;
  const hosts = useQuery(
    trpc.hosts.list.queryOptions(
      { q: q || undefined, state: stateFilter, arrayId: array?.id, page, pageSize, sort: sort.key, direction: sort.direction },
      { placeholderData: keepPreviousData, enabled: !arrayName || Boolean(array) },
    ),
  );
  const { rows, handlers } = useRowFreeze(hosts.data?.hosts ?? [], (host) => host.id);

  const total = hosts.data?.total ?? 0;
  const counts = hosts.data?.stateCounts;
  const fleetSize = counts ? STATES.reduce((sum, state) => sum + counts[state], 0) : 0;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const filtering = Boolean(q || stateFilter || arrayName);

  // A link or a shrinking filter can leave the page past the end: go to the last page.
  const beyondEnd = hosts.isSuccess && !hosts.isPlaceholderData && page > pages;
  useEffect(() => {
    if (beyondEnd) update({ page: pages <= 1 ? null : String(pages) });
  }, [beyondEnd, pages, update]);

  const clear = () => {
    setText('');
    update({ q: null, state: null, array: null, page: null });
  };
  const onSort = (next: SortState<SortKey>) => update({ sort: formatSort(next), page: null });

  return (
    <div className="space-y-4">
      <PageHeader
        title="Hosts"
        description={
          counts && fleetSize > 0 ? (
            <p className="flex flex-wrap gap-x-3">
              {STATES.filter((state) => state !== 'pending' || counts.pending > 0).map((state, index) => (
                <span key={state} className="inline-flex gap-3">
                  {index > 0 ? <span aria-hidden>·</span> : null}
                  <Link
                    href={`/hosts?state=${state}`}
                    aria-current={stateFilter === state ? 'true' : undefined}
                    className="tabular-nums hover:text-foreground hover:underline aria-[current]:font-medium aria-[current]:text-foreground"
                  >
                    {formatInteger(counts[state])} {stateLabel('host', state).toLowerCase()}
                  </Link>
                </span>
              ))}
            </p>
          ) : null
        }
      />

      {hosts.isSuccess && fleetSize === 0 ? (
        <NoHosts />
      ) : (
        <>
          <FilterBar
            canClear={filtering || Boolean(text)}
            onClear={clear}
            summary={hosts.data ? (filtering ? `${formatInteger(total)} of ${formatCount(fleetSize, 'host')}` : formatCount(total, 'host')) : null}
          >
            <TextFilter label="Filter hosts by hostname" placeholder="Filter by hostname" value={text} onChange={setText} />
            <FacetSelect
              label="State"
              value={stateFilter ?? ''}
              onChange={(value) => update({ state: value || null, page: null })}
              options={[
                { value: 'attention', label: 'Needs attention', count: counts ? counts.disconnected + counts.fenced : undefined },
                ...STATES.map((state) => ({ value: state, label: stateLabel('host', state), count: counts?.[state] })),
              ]}
            />
            <FacetSelect
              label="Array"
              value={arrayName}
              onChange={(value) => update({ array: value || null, page: null })}
              options={[
                ...(unknownArray ? [{ value: arrayName, label: `${arrayName} (unknown)` }] : []),
                ...(arrays.data ?? []).map((entry) => ({ value: entry.name, label: entry.name })),
              ]}
            />
          </FilterBar>

          <Card>
            {unknownArray ? (
              <FilteredEmpty what="hosts" onClear={clear} />
            ) : arrayName && arrays.isError ? (
              <QueryError error={arrays.error} onRetry={() => arrays.refetch()} what="arrays" className="m-4" />
            ) : hosts.isPending ? (
              <TableSkeleton columns={7} label="Loading hosts" />
            ) : hosts.isError ? (
              <QueryError error={hosts.error} onRetry={() => hosts.refetch()} what="hosts" className="m-4" />
            ) : (
              <>
                <Table aria-busy={hosts.isPlaceholderData || undefined}>
                  <TableHeader>
                    <TableRow className="hover:bg-transparent">
                      <SortHead sortKey="hostname" sort={sort} onSort={onSort} className="pl-4">
                        Hostname
                      </SortHead>
                      <SortHead sortKey="state" sort={sort} onSort={onSort}>
                        State
                      </SortHead>
                      <SortHead sortKey="heartbeat" sort={sort} onSort={onSort}>
                        Last heartbeat
                      </SortHead>
                      <SortHead sortKey="version" sort={sort} onSort={onSort}>
                        Agent version
                      </SortHead>
                      <TableHead className="text-right">Disk groups</TableHead>
                      <TableHead className="text-right">Volumes</TableHead>
                      <TableHead className="pr-4">Arrays</TableHead>
                    </TableRow>
                  </TableHeader>
                  <TableBody {...handlers} className={hosts.isPlaceholderData ? 'opacity-60' : undefined}>
                    {rows.map((host) => (
                      <HostRow key={host.id} host={host} />
                    ))}
                  </TableBody>
                </Table>
                {total === 0 ? <FilteredEmpty what="hosts" onClear={clear} /> : <Pager page={page} pageSize={pageSize} total={total} onChange={update} />}
              </>
            )}
          </Card>
        </>
      )}
    </div>
  );
}

function HostRow({ host }: { host: HostListItem }) {
  return (
    <TableRow data-state={host.state}>
      <TableCell className="pl-4 whitespace-nowrap">
        <Link href={`/hosts/${host.id}`} className="font-medium hover:underline">
          {host.hostname}
        </Link>
      </TableCell>
      <TableCell className="whitespace-nowrap">
        <StateBadge type="host" state={host.state} />
        {host.state !== 'connected' ? (
          <span className="ml-2 text-xs text-muted-foreground">
            for <Since value={host.stateSince} />
          </span>
        ) : null}
      </TableCell>
      <TableCell className="whitespace-nowrap">
        <RelativeTime value={host.lastHeartbeatAt} warnAfterMs={LATE_HEARTBEAT_MS} />
      </TableCell>
      <TableCell className="font-mono text-xs">{host.agentVersion ?? '—'}</TableCell>
      <TableCell className="text-right tabular-nums">{formatInteger(host.diskGroupCount)}</TableCell>
      <TableCell className="text-right tabular-nums">{formatInteger(host.volumeCount)}</TableCell>
      <TableCell className="pr-4">
        <ArrayChips arrays={host.arrays} />
      </TableCell>
    </TableRow>
  );
}

/** Arrays beyond this many are summed up as "+N" (named in its tooltip), so a row stays one line high. */
const MAX_ARRAY_CHIPS = 3;

export function ArrayChips({ arrays }: { arrays: { id: string; name: string }[] }) {
  if (arrays.length === 0) return <span className="text-muted-foreground">—</span>;
  const sorted = [...arrays].sort((a, b) => a.name.localeCompare(b.name));
  const hidden = sorted.slice(MAX_ARRAY_CHIPS);
  return (
    <ul className="flex flex-wrap gap-1">
      {sorted.slice(0, MAX_ARRAY_CHIPS).map((array) => (
        <li key={array.id}>
          <Link href={`/arrays/${array.id}`} className="inline-flex rounded border px-1.5 py-0.5 text-xs hover:bg-accent">
            {array.name}
          </Link>
        </li>
      ))}
      {hidden.length ? (
        <li className="px-1 py-0.5 text-xs text-muted-foreground" title={hidden.map((array) => array.name).join(', ')}>
          +{hidden.length}
        </li>
      ) : null}
    </ul>
  );
}

const noSubscription = () => () => {};

/** The empty state with the exact command that enrols a host (docs/ui.md §3.5). */
function NoHosts() {
  const origin = useSyncExternalStore(
    noSubscription,
    () => window.location.origin,
    () => '<console-url>',
  );
  return (
    <EmptyState icon={Server} title="No hosts yet">
      <p>
        Create an enrolment token (an admin calls <code className="font-mono text-xs">hosts.createEnrolmentToken</code> until Settings → Agents arrives), then start
        the agent on the host from a checkout of Tern:
      </p>
      <div className="mt-3">
        <CommandBlock label="agent command" command={`npm run agent -- --console ${origin} --data-dir /var/lib/tern-agent --token <token>`} />
      </div>
    </EmptyState>
  );
}
