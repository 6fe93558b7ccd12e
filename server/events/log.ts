import 'server-only';
import { events } from '@/db/schema';
import type { Db, Tx } from '@/db/open';
import { bus, type EventRow } from './bus';

export type Actor =
  | { kind: 'user'; id: string; name: string }
  | { kind: 'agent'; id?: string; name: string }
  | { kind: 'system'; name?: string };

export interface EventInput {
  kind: string;
  severity?: EventRow['severity'];
  actor: Actor;
  object: { kind: string; id?: string | null; name?: string | null };
  message: string;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

export const systemActor: Actor = { kind: 'system', name: 'console' };

/**
 * Appends to the event log. Pass the transaction that makes the change so the audit row commits
 * with it, then `publishEvents` the returned rows once the transaction has committed.
 */
export async function appendEvent(db: Db | Tx, input: EventInput): Promise<EventRow> {
  const [row] = await db
    .insert(events)
    .values({
      kind: input.kind,
      severity: input.severity ?? 'info',
      actorKind: input.actor.kind,
      actorId: 'id' in input.actor ? (input.actor.id ?? null) : null,
      actorName: input.actor.name ?? 'console',
      objectKind: input.object.kind,
      objectId: input.object.id ?? null,
      objectName: input.object.name ?? null,
      message: input.message,
      before: input.before ?? null,
      after: input.after ?? null,
    })
    .returning();
  if (!row) throw new Error('event insert returned no row');
  return row;
}

export function publishEvents(...rows: EventRow[]) {
  for (const row of rows) bus.publish('event', row);
}

/** Appends one event outside any transaction and publishes it. */
export async function recordEvent(db: Db, input: EventInput): Promise<EventRow> {
  const row = await appendEvent(db, input);
  publishEvents(row);
  return row;
}
