import Link from 'next/link';
import type { EventRow } from '@/components/api-types';

/** The object an event is about: a link when it has a page (arrays, hosts), else its name. */
export function EventObject({ event }: { event: Pick<EventRow, 'objectKind' | 'objectId' | 'objectName'> }) {
  const name = event.objectName ?? event.objectId ?? event.objectKind;
  const href = event.objectId && event.objectKind === 'array' ? `/arrays/${event.objectId}` : event.objectId && event.objectKind === 'host' ? `/hosts/${event.objectId}` : null;
  return (
    <span className="inline-flex min-w-0 items-baseline gap-1">
      <span className="text-xs text-muted-foreground">{event.objectKind}</span>
      {href ? (
        <Link href={href} className="truncate font-medium hover:underline">
          {name}
        </Link>
      ) : (
        <span className="truncate">{name}</span>
      )}
    </span>
  );
}

/** "alice", "agent:db-01", "console" (docs/ui.md §3.12 actor column). */
export function actorLabel(event: Pick<EventRow, 'actorKind' | 'actorName'>): string {
  return event.actorKind === 'agent' ? `agent:${event.actorName}` : event.actorName;
}
