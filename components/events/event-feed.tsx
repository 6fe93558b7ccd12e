'use client';
import type { EventRow } from '@/components/api-types';
import { RelativeTime } from '@/components/relative-time';
import { SeverityIcon } from '@/components/state-badge';
import { actorLabel, EventObject } from './object-link';

/**
 * A compact, newest-first list of events for the overview and detail timelines (docs/ui.md
 * §3.0.5): severity icon, relative time, object, message and actor.
 */
export function EventFeed({ events, showObject = true }: { events: EventRow[]; showObject?: boolean }) {
  return (
    <ol className="divide-y">
      {events.map((event) => (
        <li key={event.id} className="grid grid-cols-[1.25rem_5.5rem_minmax(0,1fr)] items-baseline gap-x-3 gap-y-0.5 py-2 text-sm">
          <SeverityIcon severity={event.severity} className="translate-y-0.5 self-start" />
          <RelativeTime value={event.at} className="text-xs text-muted-foreground" />
          <div className="min-w-0">
            <p className="min-w-0 break-words">{event.message}</p>
            <p className="flex min-w-0 flex-wrap items-baseline gap-x-3 text-xs text-muted-foreground">
              <span className="font-mono">{event.kind}</span>
              {showObject ? <EventObject event={event} /> : null}
              <span>by {actorLabel(event)}</span>
            </p>
          </div>
        </li>
      ))}
    </ol>
  );
}
