import 'server-only';
/**
 * Owns what the overview and the migrations list show about work in flight: the active
 * migrations with a 60 s copy-rate sparkline each, the fleet's aggregate copy rate over the last
 * ten minutes, the bytes moved in the last 24 hours, and the migrations that need a person.
 * Everything is aggregated in SQL so the cost grows with buckets, not with samples.
 */
import { and, gt, inArray, sql } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { migrationSamples } from '@/db/schema';
import type { MigrationState } from './migration-states';
import { listMigrations } from './queries';

/** Seconds of copy-rate history drawn beside each active migration (docs/ui.md §4.5). */
export const SPARKLINE_SECONDS = 60;
/** The overview's aggregate copy-rate window and its bucket width. */
export const AGGREGATE_WINDOW_SECONDS = 600;
export const AGGREGATE_BUCKET_SECONDS = 10;
/** How far back a failed migration still counts as needing attention. */
const FAILED_ATTENTION_MS = 24 * 3_600_000;

/** Every state between creation and an end, `planned` aside (a plan not yet approved moves nothing). */
const ACTIVE_STATES: MigrationState[] = ['queued', 'preparing', 'syncing', 'copying', 'ready', 'cutting-over', 'verifying', 'verified', 'committing', 'paused'];

export interface RatePoint {
  /** Epoch ms. */
  t: number;
  bytesPerS: number;
}

export type AttentionReason = 'failed' | 'agent-unreachable' | 'awaiting-cutover' | 'awaiting-commit';

const epochSecond = sql<number>`floor(extract(epoch from ${migrationSamples.at}))::bigint`;

/** Copy rate per second of each listed migration over the last `SPARKLINE_SECONDS`. */
async function sparklines(db: Db, ids: string[], now: Date): Promise<Map<string, RatePoint[]>> {
  const lines = new Map<string, RatePoint[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return lines;
  const rows = await db
    .select({ id: migrationSamples.migrationId, second: epochSecond, bytesPerS: migrationSamples.copyRateBytesPerS })
    .from(migrationSamples)
    .where(and(inArray(migrationSamples.migrationId, ids), gt(migrationSamples.at, new Date(now.getTime() - SPARKLINE_SECONDS * 1000))))
    .orderBy(migrationSamples.at);
  for (const row of rows) lines.get(row.id)?.push({ t: Number(row.second) * 1000, bytesPerS: row.bytesPerS });
  return lines;
}

/** The sum over migrations of each one's mean copy rate per bucket: the fleet's copy rate over time. */
async function aggregateRate(db: Db, now: Date): Promise<RatePoint[]> {
  const bucket = sql<number>`floor(extract(epoch from ${migrationSamples.at}) / ${sql.raw(String(AGGREGATE_BUCKET_SECONDS))})::bigint`;
  const perMigration = db
    .select({ bucket: bucket.as('bucket'), rate: sql<number>`avg(${migrationSamples.copyRateBytesPerS})`.as('rate') })
    .from(migrationSamples)
    .where(gt(migrationSamples.at, new Date(now.getTime() - AGGREGATE_WINDOW_SECONDS * 1000)))
    .groupBy(migrationSamples.migrationId, bucket)
    .as('per_migration');
  const rows = await db
    .select({ bucket: perMigration.bucket, bytesPerS: sql<number>`sum(${perMigration.rate})` })
    .from(perMigration)
    .groupBy(perMigration.bucket)
    .orderBy(perMigration.bucket);
  return rows.map((row) => ({ t: Number(row.bucket) * AGGREGATE_BUCKET_SECONDS * 1000, bytesPerS: Math.round(Number(row.bytesPerS)) }));
}

/** Bytes copied in the last 24 hours: per migration, its newest copied total minus its oldest in the window. */
async function movedLastDay(db: Db, now: Date): Promise<number> {
  const perMigration = db
    .select({ moved: sql<number>`max(${migrationSamples.copiedBytes}) - min(${migrationSamples.copiedBytes})`.as('moved') })
    .from(migrationSamples)
    .where(gt(migrationSamples.at, new Date(now.getTime() - 24 * 3_600_000)))
    .groupBy(migrationSamples.migrationId)
    .as('per_migration');
  const [row] = await db.select({ moved: sql<number>`coalesce(sum(${perMigration.moved}), 0)` }).from(perMigration);
  return Number(row?.moved ?? 0);
}

function attentionOf(row: { state: MigrationState; agentUnreachableSince: Date | null; cutoverPolicy: Record<string, unknown> }): AttentionReason | null {
  if (row.state === 'failed') return 'failed';
  if (row.agentUnreachableSince) return 'agent-unreachable';
  if (row.state === 'ready' && row.cutoverPolicy.mode === 'manual') return 'awaiting-cutover';
  if (row.state === 'verified') return 'awaiting-commit';
  return null;
}

/** Attention first (failed, unreachable, waiting for a person), then the soonest to finish. */
function byUrgency(a: { attention: AttentionReason | null; etaSeconds: number | null }, b: typeof a) {
  const rank = (reason: AttentionReason | null) => (reason === null ? 4 : ['failed', 'agent-unreachable', 'awaiting-cutover', 'awaiting-commit'].indexOf(reason));
  return rank(a.attention) - rank(b.attention) || (a.etaSeconds ?? Infinity) - (b.etaSeconds ?? Infinity);
}

export async function migrationActivity(db: Db, now = new Date()) {
  const active = await listMigrations(db, { states: [...ACTIVE_STATES, 'failed'], limit: 500 });
  const rows = active
    .filter((row) => row.state !== 'failed' || now.getTime() - row.updatedAt.getTime() < FAILED_ATTENTION_MS)
    .map((row) => ({ ...row, attention: attentionOf(row) }))
    .sort(byUrgency);
  const lines = await sparklines(
    db,
    rows.filter((row) => row.state !== 'failed').map((row) => row.id),
    now,
  );
  const copyRate = await aggregateRate(db, now);
  return {
    migrations: rows.map((row) => ({ ...row, sparkline: lines.get(row.id) ?? [] })),
    /** Sum of the running migrations' current copy rates (the rows' newest figure). */
    copyRateBytesPerS: rows.reduce((sum, row) => sum + (row.state === 'syncing' || row.state === 'copying' ? (row.copyRateBytesPerS ?? 0) : 0), 0),
    copyRateHistory: copyRate,
    movedLastDayBytes: await movedLastDay(db, now),
  };
}
