import type { QueryClient, QueryFilters } from '@tanstack/react-query';
import type { RouterOutputs } from '@/components/api-types';
import type { useTRPC } from '@/components/trpc';
import type { EventRow, HostChange } from '@/server/events/bus';

type Trpc = ReturnType<typeof useTRPC>;
type HostList = RouterOutputs['hosts']['list'];
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
 * Applies pushed changes to the TanStack Query cache. Host changes patch `hosts.list` and
 * `hosts.get` rows in place (a heartbeat never refetches); a changed state, a new host or a
 * changed inventory makes the affected queries stale. New events make the overview and event
 * lists stale. Everything is rendered at most once per `intervalMs` (UI.md P14, §3.0.3).
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
    const listed = queryClient.getQueryData<HostList>(trpc.hosts.list.queryKey());
    queryClient.setQueryData<HostList>(trpc.hosts.list.queryKey(), (hosts) =>
      hosts?.map((host) => {
        const change = changes.get(host.id);
        return change ? { ...host, ...liveFields(change) } : host;
      }),
    );
    for (const change of changes.values()) {
      queryClient.setQueryData<HostDetail>(trpc.hosts.get.queryKey({ id: change.id }), (host) => (host ? { ...host, ...liveFields(change) } : host));
      if (knownStates.get(change.id) !== change.state) markStale(trpc.overview.get.queryFilter());
      knownStates.set(change.id, change.state);
      if (listed && !listed.some((host) => host.id === change.id)) markStale(trpc.hosts.list.queryFilter());
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
