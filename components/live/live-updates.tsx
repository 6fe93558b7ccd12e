'use client';
import { useQueryClient } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { EventRow, HostChange } from '@/server/events/bus';
import { useTRPC } from '@/components/trpc';
import { createLiveCache } from './live-cache';
import { goToSignIn } from './sign-in-path';

/** Renders at most once a second from pushed data (docs/ui.md P14, §3.0.3). */
const RENDER_INTERVAL_MS = 1_000;
/** A stopped subscription (a non-retryable error) is restarted this often (docs/ui.md §2.7). */
const RETRY_INTERVAL_MS = 5_000;

type SubscriptionStatus = 'idle' | 'connecting' | 'pending' | 'error';

/** The connection as the live-status pill reads it; `since` is when it entered this state. */
export interface LiveConnection {
  status: 'connecting' | 'live' | 'reconnecting' | 'stopped';
  since: number;
  /** When the last pushed update arrived (epoch ms), or null. */
  lastUpdateAt: () => number | null;
  retryNow: () => void;
}

const LiveContext = createContext<LiveConnection | null>(null);

export function useLiveConnection(): LiveConnection {
  const value = useContext(LiveContext);
  if (!value) throw new Error('useLiveConnection must be used inside <LiveUpdates>');
  return value;
}

/**
 * The shell's one connection to live data: it subscribes to host changes and new events,
 * patches host rows in the TanStack Query cache in place (so relative times keep ticking and
 * nothing refetches per heartbeat), invalidates what an event makes stale at most once a
 * second, and tells the live-status pill how the connection is.
 */
export function LiveUpdates({ children }: { children: ReactNode }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [cache] = useState(() => createLiveCache(queryClient, trpc, RENDER_INTERVAL_MS));
  useEffect(() => () => cache.dispose(), [cache]);

  const connection = useConnectionState();
  const { report } = connection;

  const onHostChange = useCallback(
    (change: HostChange) => {
      report('hosts', 'pending');
      cache.hostChanged(change);
    },
    [cache, report],
  );
  const onEvent = useCallback(
    (event: EventRow) => {
      report('events', 'pending');
      cache.eventArrived(event);
    },
    [cache, report],
  );

  // The session ended (expired, signed out elsewhere, user disabled): go to sign-in.
  const onError = useCallback(
    (which: Stream, error: { data?: { code?: string } | null }) => {
      if (error.data?.code === 'UNAUTHORIZED') goToSignIn();
      else report(which, 'error');
    },
    [report],
  );
  useEffect(
    () =>
      queryClient.getQueryCache().subscribe((event) => {
        const error = event.type === 'updated' && event.action.type === 'error' ? event.action.error : null;
        if (error && (error as { data?: { code?: string } }).data?.code === 'UNAUTHORIZED') goToSignIn();
      }),
    [queryClient],
  );

  const hosts = useSubscription(
    trpc.hosts.onChange.subscriptionOptions(
      { lastEventId: null },
      {
        onStarted: () => report('hosts', 'pending'),
        onConnectionStateChange: (state) => report('hosts', state.state),
        onData: ({ data }) => onHostChange(data),
        onError: (error) => onError('hosts', error),
      },
    ),
  );
  const events = useSubscription(
    trpc.events.onEvent.subscriptionOptions(
      { lastEventId: null },
      {
        onStarted: () => report('events', 'pending'),
        onConnectionStateChange: (state) => report('events', state.state),
        onData: ({ data }) => onEvent(data),
        onError: (error) => onError('events', error),
      },
    ),
  );

  const { reset: resetHosts } = hosts;
  const { reset: resetEvents } = events;
  const { streams } = connection;
  const retryNow = useCallback(() => {
    if (streams.hosts !== 'pending') {
      report('hosts', 'connecting');
      resetHosts();
    }
    if (streams.events !== 'pending') {
      report('events', 'connecting');
      resetEvents();
    }
  }, [streams, report, resetHosts, resetEvents]);

  // A subscription that stopped on an error does not come back by itself: restart it.
  const stopped = connection.status === 'stopped';
  useEffect(() => {
    if (!stopped) return;
    const interval = setInterval(retryNow, RETRY_INTERVAL_MS);
    return () => clearInterval(interval);
  }, [stopped, retryNow]);

  const value = useMemo<LiveConnection>(
    () => ({ status: connection.status, since: connection.since, lastUpdateAt: cache.lastUpdateAt, retryNow }),
    [connection.status, connection.since, cache, retryNow],
  );
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

/** The worst of the two subscriptions decides. */
function combine(...statuses: SubscriptionStatus[]): SubscriptionStatus {
  if (statuses.includes('error')) return 'error';
  if (statuses.includes('connecting')) return 'connecting';
  if (statuses.every((status) => status === 'pending')) return 'pending';
  return 'idle';
}

type Stream = 'hosts' | 'events';

interface ConnectionState {
  streams: Record<Stream, SubscriptionStatus>;
  status: LiveConnection['status'];
  since: number;
  everLive: boolean;
}

/**
 * Each subscription reports its state from its own callbacks; the connection's status is the
 * worst of them, and `since` is when that status began. "Reconnecting" after "stopped"
 * keeps the original time, so an outage is timed from its start.
 */
function useConnectionState() {
  const [state, setState] = useState<ConnectionState>(() => ({
    streams: { hosts: 'connecting', events: 'connecting' },
    status: 'connecting',
    since: Date.now(),
    everLive: false,
  }));
  const report = useCallback((stream: Stream, status: SubscriptionStatus) => {
    setState((previous) => {
      if (previous.streams[stream] === status) return previous;
      const streams = { ...previous.streams, [stream]: status };
      const raw = combine(streams.hosts, streams.events);
      const everLive = previous.everLive || raw === 'pending';
      const next: LiveConnection['status'] =
        raw === 'pending' ? 'live' : raw === 'connecting' ? (everLive ? 'reconnecting' : 'connecting') : 'stopped';
      if (next === previous.status) return { ...previous, streams, everLive };
      const keepSince = previous.status !== 'live' && next !== 'live' && previous.status !== 'connecting';
      return { streams, status: next, everLive, since: keepSince ? previous.since : Date.now() };
    });
  }, []);
  return { ...state, report };
}
