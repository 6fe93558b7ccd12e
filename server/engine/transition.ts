import 'server-only';
/**
 * Owns how a migration changes state: the row update and its `migration.<state>` event commit
 * together, guarded so that a writer whose view is stale (another state, or a lost lease)
 * changes nothing; the event is published only after the commit.
 */
import { and, eq, type SQL } from 'drizzle-orm';
import type { Db, Tx } from '@/db/open';
import { migrations, volumes } from '@/db/schema';
import { bus, type EventRow } from '@/server/events/bus';
import { appendEvent, publishEvents, type Actor } from '@/server/events/log';
import type { MigrationRow } from './create';
import type { MigrationState } from './migration-states';

export interface Transition {
  to: MigrationState;
  /** Why, in words: it becomes the event's message. */
  cause: string;
  actor: Actor;
  /** Other columns to set with the state. */
  patch?: Partial<typeof migrations.$inferInsert>;
  severity?: EventRow['severity'];
  /** Event kind when it is not `migration.<to>` (an action that leaves the state as it is). */
  kind?: string;
  /** More fields for the event's `after`, e.g. who or what paused it. */
  detail?: Record<string, unknown>;
  /** Extra guard, e.g. the lease epoch of the engine instance making the change. */
  guard?: SQL;
  /** More changes that must commit with this one; returns their events. */
  within?: (tx: Tx) => Promise<EventRow[]>;
}

export function publishMigrationEvent(row: Pick<MigrationRow, 'id' | 'state'>, event: EventRow) {
  publishEvents(event);
  bus.publish('migration', { id: row.id, state: row.state, event });
}

/** Applies the transition if the migration is still in `from.state`; returns the new row, or undefined. */
export async function transition(db: Db, from: MigrationRow, change: Transition): Promise<MigrationRow | undefined> {
  const result = await db.transaction(async (tx) => {
    const [row] = await tx
      .update(migrations)
      .set({ ...change.patch, state: change.to, updatedAt: new Date() })
      .where(and(eq(migrations.id, from.id), eq(migrations.state, from.state), change.guard))
      .returning();
    if (!row) return undefined;
    const [volume] = await tx.select({ name: volumes.nbdExport }).from(volumes).where(eq(volumes.id, row.volumeId));
    const event = await appendEvent(tx, {
      kind: change.kind ?? `migration.${change.to}`,
      severity: change.severity ?? (change.to === 'failed' ? 'error' : 'info'),
      actor: change.actor,
      object: { kind: 'migration', id: row.id, name: volume?.name ?? null },
      message: change.cause,
      before: { state: from.state },
      after: { state: row.state, ...(row.error ? { error: row.error } : {}), ...change.detail },
    });
    const more = change.within ? await change.within(tx) : [];
    return { row, event, more };
  });
  if (!result) return undefined;
  publishEvents(...result.more);
  publishMigrationEvent(result.row, result.event);
  return result.row;
}
