import type { QueryClient, QueryFilters } from '@tanstack/react-query';
import type { RouterOutputs } from '@/components/api-types';
import type { useTRPC } from '@/components/trpc';
import type { EventRow, HostChange } from '@/server/events/bus';

type Trpc = ReturnType<typeof useTRPC>;
type HostPage = RouterOutputs['hosts']['list'];
type HostDetail = RouterOutputs['hosts']['get'];

/**
 * Collects work by key and runs it at most once per interval: the first call runs at the
 * next tick, later calls inside the interval merge into one run at its end.
 */
export function batcher<T>(run: (items: Map<string, T>) => void, intervalMs: number) {
  let pending = new Map<string, T>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastRun = 0;
  return {
    add(key: string, item: T) {
      pending.set(key, item);
      if (timer) return;
      timer = setTimeout(
        () => {
          timer = undefined;
          lastRun = Date.now();
          const items = pending;
          pending = new Map();
          run(items);
        },
        Math.max(0, lastRun + intervalMs - Date.now()),
      );
    },
    dispose() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

function liveFields(change: HostChange) {
  return {
    hostname: change.hostname,
    state: change.state,
    stateSince: change.stateSince,
    lastHeartbeatAt: change.lastHeartbeatAt,
    agentVersion: change.agentVersion,
    agentUrl: change.agentUrl,
  };
}

/**
 * Applies pushed changes to the TanStack Query cache. Host changes patch the host's row on every
 * cached `hosts.list` page and its `hosts.get` in place (a heartbeat never refetches). The pages
 * are made stale when a host changes state (counts, filters and the state sort follow it), when
 * its inventory changed, and when a host none of them holds is seen for the first time (it may
 * be new, and belong on one); after that, its heartbeats change nothing cached, so a page of 50
 * does not refetch for the other 950 hosts of the fleet. New events make the overview and event
 * lists stale. Everything is rendered at most once per `intervalMs` (docs/ui.md P14, §3.0.3).
 */
export function createLiveCache(queryClient: QueryClient, trpc: Trpc, intervalMs: number) {
  let lastUpdateAt: number | null = null;
  const knownStates = new Map<string, HostChange['state']>();

  const stale = batcher<QueryFilters>((filters) => {
    for (const filter of filters.values()) void queryClient.invalidateQueries(filter);
  }, intervalMs);
  const markStale = (...filters: QueryFilters[]) => {
    for (const filter of filters) stale.add(JSON.stringify(filter.queryKey), filter);
  };

  const hostPatches = batcher<HostChange>((changes) => {
    // The state each cached page shows for its hosts, before this batch patches them.
    const listedStates = new Map<string, HostChange['state']>();
    for (const [queryKey, page] of queryClient.getQueriesData<HostPage>(trpc.hosts.list.queryFilter())) {
      if (!page?.hosts.some((host) => changes.has(host.id))) continue;
      for (const host of page.hosts) listedStates.set(host.id, host.state);
      queryClient.setQueryData<HostPage>(queryKey, {
        ...page,
        hosts: page.hosts.map((host) => {
          const change = changes.get(host.id);
          return change ? { ...host, ...liveFields(change) } : host;
        }),
      });
    }
    for (const change of changes.values()) {
      queryClient.setQueryData<HostDetail>(trpc.hosts.get.queryKey({ id: change.id }), (host) => (host ? { ...host, ...liveFields(change) } : host));
      if (knownStates.get(change.id) !== change.state) markStale(trpc.overview.get.queryFilter());
      const shownState = knownStates.get(change.id) ?? listedStates.get(change.id);
      if (shownState !== change.state) markStale(trpc.hosts.list.queryFilter());
      knownStates.set(change.id, change.state);
      if (change.inventoryChanged) {
        markStale(trpc.hosts.get.queryFilter({ id: change.id }), trpc.hosts.list.queryFilter(), trpc.arrays.pathFilter(), trpc.overview.get.queryFilter());
      }
    }
  }, intervalMs);

  return {
    lastUpdateAt: () => lastUpdateAt,
    hostChanged(change: HostChange) {
      lastUpdateAt = Date.now();
      hostPatches.add(change.id, change);
    },
    eventArrived(event: EventRow) {
      lastUpdateAt = Date.now();
      markStale(trpc.overview.get.queryFilter(), trpc.events.list.pathFilter());
      const kinds = queryClient.getQueryData<string[]>(trpc.events.kinds.queryKey());
      if (kinds && !kinds.includes(event.kind)) markStale(trpc.events.kinds.queryFilter());
      if (event.objectKind === 'array' || event.objectKind === 'lun') markStale(trpc.arrays.pathFilter(), trpc.hosts.get.pathFilter());
      // A migration's state shows on its list, its page, the overview's activity and its volume's host page.
      if (event.kind.startsWith('migration.')) markStale(trpc.migrations.pathFilter(), trpc.overview.activity.queryFilter(), trpc.hosts.get.pathFilter());
    },
    dispose() {
      stale.dispose();
      hostPatches.dispose();
    },
  };
}
