/**
 * Pushed host changes against a real TanStack Query cache holding several `hosts.list` pages:
 * rows are patched in place on every page that holds them, and the pages go stale only when
 * what they show could be wrong (a state change, a changed inventory, a host they have not seen).
 */
import { QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpLink } from '@trpc/client';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import superjson from 'superjson';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HostListItem, HostPage } from '@/components/api-types';
import type { AppRouter } from '@/server/api/root';
import type { HostChange } from '@/server/events/bus';
import { createLiveCache } from './live-cache';

const at = new Date('2026-11-28T08:00:00Z');
const host = (id: string, state: HostListItem['state'] = 'connected'): HostListItem => ({
  id,
  hostname: `host-${id}`,
  state,
  stateSince: at,
  lastHeartbeatAt: at,
  agentVersion: '1.0.0',
  agentUrl: null,
  enrolledAt: at,
  diskGroupCount: 1,
  volumeCount: 2,
  volumeBytes: 1024,
  arrays: [],
});
const page = (hosts: HostListItem[]): HostPage => ({ total: 100, page: 1, pageSize: 25, stateCounts: { pending: 0, connected: 100, disconnected: 0, fenced: 0 }, hosts });
const change = (id: string, patch: Partial<HostChange> = {}): HostChange => ({
  id,
  hostname: `host-${id}`,
  state: 'connected',
  stateSince: at,
  lastHeartbeatAt: new Date(at.getTime() + 3_000),
  agentVersion: '1.0.0',
  agentUrl: null,
  inventoryChanged: false,
  ...patch,
});
/** The batchers run on timers of 0 ms here: a patch, then the staleness it caused. */
const settle = async () => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 1));
};

let queryClient: QueryClient;
let cache: ReturnType<typeof createLiveCache>;
let firstPage: readonly unknown[];
let searchPage: readonly unknown[];
const trpcClient = createTRPCClient<AppRouter>({ links: [httpLink({ url: 'http://127.0.0.1:9/never-called', transformer: superjson })] });

beforeEach(() => {
  queryClient = new QueryClient();
  const trpc = createTRPCOptionsProxy<AppRouter>({ client: trpcClient, queryClient });
  cache = createLiveCache(queryClient, trpc, 0);
  firstPage = trpc.hosts.list.queryKey({ page: 1, pageSize: 25 });
  searchPage = trpc.hosts.list.queryKey({ q: 'a' });
  queryClient.setQueryData(firstPage, page([host('a'), host('b'), host('c')]));
  queryClient.setQueryData(searchPage, page([host('a')]));
});
afterEach(() => cache.dispose());

const rows = (key: readonly unknown[]) => queryClient.getQueryData<HostPage>(key)?.hosts ?? [];
const stale = (key: readonly unknown[]) => queryClient.getQueryState(key)?.isInvalidated ?? false;

describe('live host changes on paged hosts.list', () => {
  it('patches the host on every cached page that holds it, and a heartbeat refetches nothing', async () => {
    cache.hostChanged(change('a'));
    await settle();
    expect(rows(firstPage)[0]?.lastHeartbeatAt).toEqual(new Date(at.getTime() + 3_000));
    expect(rows(searchPage)[0]?.lastHeartbeatAt).toEqual(new Date(at.getTime() + 3_000));
    expect(rows(firstPage)[0]).toMatchObject({ volumeCount: 2, diskGroupCount: 1 });
    expect(rows(firstPage)[1]?.lastHeartbeatAt).toEqual(at);
    expect([stale(firstPage), stale(searchPage)]).toEqual([false, false]);
  });

  it('makes the pages stale when a host on them changes state', async () => {
    cache.hostChanged(change('b', { state: 'disconnected' }));
    await settle();
    expect(rows(firstPage)[1]?.state).toBe('disconnected');
    expect([stale(firstPage), stale(searchPage)]).toEqual([true, true]);
  });

  it('makes the pages stale for a host none of them holds, once', async () => {
    cache.hostChanged(change('z'));
    await settle();
    expect([stale(firstPage), stale(searchPage)]).toEqual([true, true]);

    queryClient.setQueryData(firstPage, page([host('a'), host('b'), host('c')]));
    queryClient.setQueryData(searchPage, page([host('a')]));
    cache.hostChanged(change('z', { lastHeartbeatAt: new Date(at.getTime() + 6_000) }));
    await settle();
    expect([stale(firstPage), stale(searchPage)]).toEqual([false, false]);

    cache.hostChanged(change('z', { state: 'fenced' }));
    await settle();
    expect(stale(firstPage)).toBe(true);
  });

  it('makes the pages stale when a host reports a changed inventory', async () => {
    cache.hostChanged(change('c', { inventoryChanged: true }));
    await settle();
    expect([stale(firstPage), stale(searchPage)]).toEqual([true, true]);
  });
});
