'use client';
import { useQuery } from '@tanstack/react-query';
import { Server } from 'lucide-react';
import Link from 'next/link';
import { useSyncExternalStore } from 'react';
import type { HostListItem, HostState } from '@/components/api-types';
import { CommandBlock } from '@/components/command-block';
import { FacetSelect, FilterBar, TextFilter } from '@/components/data/filter-bar';
import { EmptyState, FilteredEmpty, QueryError, TableSkeleton } from '@/components/data/query-states';
import { SortHead } from '@/components/data/sort-head';
import { formatSort, parseSort, sortRows, type SortState } from '@/components/data/sorting';
import { useDebouncedUrlParam, useUrlParams } from '@/components/data/use-url-params';
import { useRowFreeze } from '@/components/data/use-row-freeze';
import { formatCount, formatInteger } from '@/components/format';
import { PageHeader } from '@/components/page-header';
import { RelativeTime, Since } from '@/components/relative-time';
import { StateBadge, stateLabel } from '@/components/state-badge';
import { Card } from '@/components/ui/card';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { useTRPC } from '@/components/trpc';

/** A heartbeat older than this is shown in amber (UI.md §3.5; issue 2's disconnect bar). */
export const LATE_HEARTBEAT_MS = 15_000;

const STATES: HostState[] = ['connected', 'disconnected', 'fenced', 'pending'];
const SORT_KEYS = ['hostname', 'state', 'heartbeat', 'version', 'diskGroups', 'volumes'] as const;
type SortKey = (typeof SORT_KEYS)[number];
const DEFAULT_SORT: SortState<SortKey> = { key: 'hostname', direction: 'asc' };
const STATE_ORDER: Record<HostState, number> = { fenced: 0, disconnected: 1, pending: 2, connected: 3 };

const sortValue: Record<SortKey, (host: HostListItem) => string | number | null> = {
  hostname: (host) => host.hostname,
  state: (host) => STATE_ORDER[host.state],
  heartbeat: (host) => host.lastHeartbeatAt?.getTime() ?? null,
  version: (host) => host.agentVersion,
  diskGroups: (host) => host.diskGroupCount,
  volumes: (host) => host.volumeCount,
};

/** The hosts list (UI.md §3.5): health of the managed hosts and their agents, live. */
export function HostsPage() {
  const trpc = useTRPC();
  const hosts = useQuery(trpc.hosts.list.queryOptions());
  const { params, update } = useUrlParams();
  const [text, setText] = useDebouncedUrlParam('q');
  const stateFilter = params.get('state') ?? '';
  const arrayFilter = params.get('array') ?? '';
  const sort = parseSort(params.get('sort'), SORT_KEYS, DEFAULT_SORT);

  const all = hosts.data ?? [];
  const q = text.trim().toLowerCase();
  const filtered = all.filter(
    (host) =>
      (!q || host.hostname.toLowerCase().includes(q)) &&
      (!stateFilter || (stateFilter === 'attention' ? host.state === 'disconnected' || host.state === 'fenced' : host.state === stateFilter)) &&
      (!arrayFilter || host.arrays.some((array) => array.name === arrayFilter)),
  );
  const sorted = sortRows(filtered, sortValue[sort.key], sort.direction);
  const { rows, handlers } = useRowFreeze(sorted, (host) => host.id);

  const counts = Object.fromEntries(STATES.map((state) => [state, all.filter((host) => host.state === state).length])) as Record<HostState, number>;
  const arrayNames = [...new Set(all.flatMap((host) => host.arrays.map((array) => array.name)))].sort();
  const filtering = Boolean(q || stateFilter || arrayFilter);
  const clear = () => {
    setText('');
    update({ q: null, state: null, array: null });
  };

  return (
    <div className="space-y-4">
      <PageHeader
        title="Hosts"
        description={
          hosts.data && all.length > 0 ? (
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

      {hosts.isSuccess && all.length === 0 ? (
        <NoHosts />
      ) : (
        <>
          <FilterBar canClear={filtering} onClear={clear} summary={hosts.data ? `${formatInteger(filtered.length)} of ${formatCount(all.length, 'host')}` : null}>
            <TextFilter label="Filter hosts by hostname" placeholder="Filter by hostname" value={text} onChange={setText} />
            <FacetSelect
              label="State"
              value={stateFilter}
              onChange={(value) => update({ state: value || null })}
              options={[
                { value: 'attention', label: 'Needs attention', count: counts.disconnected + counts.fenced },
                ...STATES.map((state) => ({ value: state, label: stateLabel('host', state), count: counts[state] })),
              ]}
            />
            <FacetSelect
              label="Array"
              value={arrayFilter}
              onChange={(value) => update({ array: value || null })}
              options={arrayNames.map((name) => ({ value: name, label: name, count: all.filter((host) => host.arrays.some((array) => array.name === name)).length }))}
            />
          </FilterBar>

          <Card>
            {hosts.isPending ? (
              <TableSkeleton columns={7} label="Loading hosts" />
            ) : hosts.isError ? (
              <QueryError error={hosts.error} onRetry={() => hosts.refetch()} what="hosts" className="m-4" />
            ) : (
              <Table>
                <TableHeader>
                  <TableRow className="hover:bg-transparent">
                    <SortHead sortKey="hostname" sort={sort} onSort={(next) => update({ sort: formatSort(next) })} className="pl-4">
                      Hostname
                    </SortHead>
                    <SortHead sortKey="state" sort={sort} onSort={(next) => update({ sort: formatSort(next) })}>
                      State
                    </SortHead>
                    <SortHead sortKey="heartbeat" sort={sort} onSort={(next) => update({ sort: formatSort(next) })}>
                      Last heartbeat
                    </SortHead>
                    <SortHead sortKey="version" sort={sort} onSort={(next) => update({ sort: formatSort(next) })}>
                      Agent version
                    </SortHead>
                    <SortHead sortKey="diskGroups" sort={sort} onSort={(next) => update({ sort: formatSort(next) })} align="right">
                      Disk groups
                    </SortHead>
                    <SortHead sortKey="volumes" sort={sort} onSort={(next) => update({ sort: formatSort(next) })} align="right">
                      Volumes
                    </SortHead>
                    <TableHead className="pr-4">Arrays</TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody {...handlers}>
                  {rows.map((host) => (
                    <HostRow key={host.id} host={host} />
                  ))}
                </TableBody>
              </Table>
            )}
            {hosts.isSuccess && filtered.length === 0 ? <FilteredEmpty what="hosts" onClear={clear} /> : null}
          </Card>
        </>
      )}
    </div>
  );
}

function HostRow({ host }: { host: HostListItem }) {
  return (
    <TableRow data-state={host.state}>
      <TableCell className="pl-4">
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

export function ArrayChips({ arrays }: { arrays: { id: string; name: string }[] }) {
  if (arrays.length === 0) return <span className="text-muted-foreground">—</span>;
  return (
    <ul className="flex flex-wrap gap-1">
      {[...arrays].sort((a, b) => a.name.localeCompare(b.name)).map((array) => (
        <li key={array.id}>
          <Link href={`/arrays/${array.id}`} className="inline-flex rounded border px-1.5 py-0.5 text-xs hover:bg-accent">
            {array.name}
          </Link>
        </li>
      ))}
    </ul>
  );
}

const noSubscription = () => () => {};

/** The empty state with the exact command that enrols a host (UI.md §3.5). */
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
