import 'server-only';
/**
 * Owns the downsampling of `migration_samples`, so that a long migration's history stays
 * bounded. Samples arrive at most once a second; by age (against now) the store keeps
 *   - every sample of the last 15 minutes,
 *   - the first sample of each 10-second slot from 15 minutes to 6 hours old,
 *   - the first sample of each minute older than 6 hours,
 * which is at most 900 + 2 070 rows plus 60 an hour beyond six hours. Slots are aligned to the
 * epoch, so a kept sample stays the first of its slot and a second run deletes nothing: thinning
 * is idempotent and may run at any rate. The newest sample is always kept, since ingestion
 * resumes after it. The reconciler runs thinning once a minute.
 */
import { and, eq, gt, gte, inArray, lt, max, notInArray, or, sql } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { migrationSamples, migrations } from '@/db/schema';
import { TERMINAL_STATES } from './migration-states';

export const KEEP_ALL_MS = 15 * 60_000;
export const MINUTE_SLOTS_AFTER_MS = 6 * 3_600_000;
export const THINNING_INTERVAL_MS = 60_000;

/** Thins one migration's samples as of `now` with a single DELETE; returns how many were deleted. */
export async function thinSamples(db: Db, migrationId: string, now = new Date()): Promise<number> {
  const keepAllSince = new Date(now.getTime() - KEEP_ALL_MS).toISOString();
  const minuteSlotsBefore = new Date(now.getTime() - MINUTE_SLOTS_AFTER_MS).toISOString();
  const at = migrationSamples.at;
  const old = sql`${at} < ${minuteSlotsBefore}::timestamptz`;
  const ranked = db
    .select({
      id: migrationSamples.id,
      rank: sql<number>`row_number() over (partition by ${old}, floor(extract(epoch from ${at}) / case when ${old} then 60 else 10 end) order by ${at}, ${migrationSamples.id})`.as('rank'),
    })
    .from(migrationSamples)
    .where(
      and(
        eq(migrationSamples.migrationId, migrationId),
        lt(at, sql`${keepAllSince}::timestamptz`),
        // The newest sample stays whatever its age: ingestion resumes after it.
        lt(at, db.select({ newest: max(migrationSamples.at) }).from(migrationSamples).where(eq(migrationSamples.migrationId, migrationId))),
      ),
    )
    .as('ranked');
  const deleted = await db
    .delete(migrationSamples)
    .where(inArray(migrationSamples.id, db.select({ id: ranked.id }).from(ranked).where(gt(ranked.rank, 1))))
    .returning({ id: migrationSamples.id });
  return deleted.length;
}

/**
 * Thins every migration whose samples can still change tier: those running, and those that
 * ended within the last 6 hours and a bit (older ones were thinned to one a minute already).
 */
export async function thinAllSamples(db: Db, now = new Date()): Promise<number> {
  const recentlyActive = new Date(now.getTime() - MINUTE_SLOTS_AFTER_MS - 2 * THINNING_INTERVAL_MS);
  const candidates = await db
    .select({ id: migrations.id })
    .from(migrations)
    .where(or(notInArray(migrations.state, [...TERMINAL_STATES]), gte(migrations.updatedAt, recentlyActive)));
  let deleted = 0;
  for (const { id } of candidates) deleted += await thinSamples(db, id, now);
  return deleted;
}
