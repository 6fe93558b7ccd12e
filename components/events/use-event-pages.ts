'use client';
import { keepPreviousData, useInfiniteQuery } from '@tanstack/react-query';
import type { RouterOutputs } from '@/components/api-types';
import { useTRPC, useTRPCClient } from '@/components/trpc';

export interface EventFilter {
  kind?: string;
  objectKind?: string;
  objectId?: string;
  severity?: 'info' | 'warning' | 'error';
  q?: string;
}

type EventPage = RouterOutputs['events']['list'];

/**
 * Events newest first in pages of `limit`, "Load older" by cursor. `events.list` pages by
 * `beforeId` rather than tRPC's `cursor` input, so the infinite query is built here; its key
 * sits under `events.list`'s path, so the live layer's invalidation refetches it, page by
 * page from the newest, without gaps between pages.
 */
export function useEventPages(filter: EventFilter, limit = 50) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const input = Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== undefined && value !== '')) as EventFilter;
  return useInfiniteQuery({
    queryKey: [...trpc.events.list.pathKey(), { input: { ...input, limit }, type: 'infinite' }] as const,
    queryFn: ({ pageParam, signal }): Promise<EventPage> => client.events.list.query({ ...input, limit, beforeId: pageParam }, { signal }),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (page) => page.nextCursor,
    // While a new filter loads, keep the rows on screen instead of flashing a skeleton.
    placeholderData: keepPreviousData,
  });
}
