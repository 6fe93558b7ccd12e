'use client';
import { EmptyState, QueryError, TableSkeleton } from '@/components/data/query-states';
import { Button } from '@/components/ui/button';
import { Spinner } from '@/components/ui/spinner';
import { EventFeed } from './event-feed';
import { useEventPages } from './use-event-pages';

/**
 * One object's events, newest first, live (docs/ui.md §3.0.5): the per-object slice of the Events
 * page, with "Load older" paging by cursor.
 */
export function ObjectTimeline({ objectKind, objectId, what }: { objectKind: string; objectId: string; what: string }) {
  const events = useEventPages({ objectKind, objectId });
  if (events.isPending) return <TableSkeleton columns={3} label={`Loading events for ${what}`} />;
  if (events.isError) return <QueryError error={events.error} onRetry={() => events.refetch()} what={`events for ${what}`} />;
  const rows = events.data.pages.flatMap((page) => page.events);
  if (rows.length === 0) return <EmptyState title={`No events for ${what} yet.`} />;
  return (
    <div className="space-y-3">
      <EventFeed events={rows} showObject={false} />
      {events.hasNextPage ? (
        <Button variant="outline" size="sm" onClick={() => events.fetchNextPage()} disabled={events.isFetchingNextPage}>
          {events.isFetchingNextPage ? <Spinner /> : null}
          Load older
        </Button>
      ) : null}
    </div>
  );
}
