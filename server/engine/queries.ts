import 'server-only';
/**
 * Owns what pages read about migrations: the list with names joined in, one migration with the
 * agent's pass table in bytes, verification and the convergence prediction, its samples (raw, or
 * downsampled to a window), and the backlog a resumed subscription replays.
 */
import { and, asc, desc, eq, gt, gte, inArray, max, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Db } from '@/db/open';
import { arrays, diskGroups, events, hosts, luns, migrationSamples, migrations, volumes } from '@/db/schema';
import { FleetError } from '@/server/fleet/errors';
import type { MigrationStatus } from '@/server/protocol/agent-api';
import { allowedActions, type MigrationState } from './migration-states';
import { predict, RATE_WINDOW_S } from './prediction';

/** The agent's default pause budget; the console does not set another one yet. */
export const PAUSE_BUDGET_MS = 100;

const sourceArray = alias(arrays, 'source_array');
const targetArray = alias(arrays, 'target_array');

function withNames(db: Db) {
  return db
    .select({
      migration: migrations,
      volumeName: volumes.name,
      diskGroupName: diskGroups.name,
      nbdExport: volumes.nbdExport,
      volumeSizeBytes: volumes.sizeBytes,
      regionSizeBytes: volumes.regionSizeBytes,
      hostId: hosts.id,
      hostname: hosts.hostname,
      sourceArrayName: sourceArray.name,
      targetArrayName: targetArray.name,
    })
    .from(migrations)
    .innerJoin(volumes, eq(volumes.id, migrations.volumeId))
    .innerJoin(diskGroups, eq(diskGroups.id, volumes.diskGroupId))
    .innerJoin(hosts, eq(hosts.id, volumes.hostId))
    .leftJoin(sourceArray, eq(sourceArray.id, migrations.sourceArrayId))
    .innerJoin(targetArray, eq(targetArray.id, migrations.targetArrayId));
}

function flatten({ migration, ...names }: Awaited<ReturnType<ReturnType<typeof withNames>['execute']>>[number]) {
  const { agentStatus: _agentStatus, leaseOwner: _leaseOwner, ...row } = migration;
  return { ...row, ...names, allowedActions: allowedActions(row.state) };
}

export async function listMigrations(db: Db, input: { states?: MigrationState[]; limit: number; evacuationId?: string }) {
  const rows = await withNames(db)
    .where(and(input.states?.length ? inArray(migrations.state, input.states) : undefined, input.evacuationId ? eq(migrations.evacuationId, input.evacuationId) : undefined))
    .orderBy(desc(migrations.createdAt))
    .limit(input.limit);
  return rows.map(flatten);
}

export async function getMigration(db: Db, id: string) {
  const [row] = await withNames(db).where(eq(migrations.id, id));
  if (!row) throw new FleetError('not-found', `migration ${id} does not exist`);
  const status = row.migration.agentStatus as MigrationStatus | null;
  const flat = flatten(row);
  const regionBytes = row.regionSizeBytes;
  const [recent, stats, lunRows] = await Promise.all([
    db.select().from(migrationSamples).where(eq(migrationSamples.migrationId, id)).orderBy(desc(migrationSamples.id)).limit(RATE_WINDOW_S + 30),
    passStats(db, id),
    db
      .select({ id: luns.id, wwn: luns.wwn, name: luns.name })
      .from(luns)
      .where(inArray(luns.id, [row.migration.sourceLunId, row.migration.targetLunId].filter((lunId): lunId is string => lunId !== null))),
  ]);
  const samples = recent.reverse();
  const statsByPass = new Map(stats.map((s) => [s.pass, s]));
  const completed = (status?.passes ?? []).map((p, i, all) => {
    const s = statsByPass.get(p.pass);
    const endedAt = all[i + 1]?.startedAt ?? (s ? s.lastAt.toISOString() : null);
    return {
      pass: p.pass,
      startedAt: p.startedAt,
      endedAt,
      running: false,
      bytesAtStart: p.dirtyRegionsAtStart * regionBytes,
      copiedBytes: p.copiedRegions * regionBytes,
      redirtiedBytes: p.redirtiedRegions * regionBytes,
      dirtyRegionsAtStart: p.dirtyRegionsAtStart,
      copiedRegions: p.copiedRegions,
      redirtiedRegions: p.redirtiedRegions,
      avgCopyRateBytesPerS: s?.avgCopy ?? null,
      avgWriteRateBytesPerS: s?.avgWrite ?? null,
      peakWriteRateBytesPerS: s?.peakWrite ?? null,
    };
  });
  // The pass running now has no record from the agent yet: its figures come from the samples.
  const newest = samples.at(-1);
  const runningStats = newest ? statsByPass.get(newest.pass) : undefined;
  const running =
    newest && runningStats && ['copying', 'converging', 'ready'].includes(newest.phase) && !completed.some((p) => p.pass === newest.pass)
      ? [
          {
            pass: newest.pass,
            startedAt: runningStats.firstAt.toISOString(),
            endedAt: null,
            running: true,
            bytesAtStart: newest.pass === 0 ? row.volumeSizeBytes : (completed.at(-1)?.redirtiedBytes ?? runningStats.firstLeft),
            copiedBytes: null,
            redirtiedBytes: null,
            dirtyRegionsAtStart: null,
            copiedRegions: null,
            redirtiedRegions: null,
            avgCopyRateBytesPerS: runningStats.avgCopy,
            avgWriteRateBytesPerS: runningStats.avgWrite,
            peakWriteRateBytesPerS: runningStats.peakWrite,
          },
        ]
      : [];
  const passes = [...completed, ...running];
  const lun = (lunId: string | null) => lunRows.find((l) => l.id === lunId) ?? null;
  return {
    ...flat,
    agentPhase: status?.phase ?? null,
    switched: status?.switched ?? false,
    originalStrategy: status?.originalStrategy ?? row.migration.strategy,
    passes,
    verify: status?.verify ?? null,
    cutoverPauseMs: status?.cutoverPauseMs ?? null,
    restarts: status?.restarts ?? 0,
    pauseBudgetMs: PAUSE_BUDGET_MS,
    leaseOwner: row.migration.leaseOwner,
    sourceLun: lun(row.migration.sourceLunId),
    targetLun: lun(row.migration.targetLunId),
    prediction: predict({
      strategy: status?.strategy ?? row.migration.strategy,
      state: row.migration.state,
      volumeSizeBytes: row.volumeSizeBytes,
      samples,
      passes: completed,
      pauseBudgetMs: PAUSE_BUDGET_MS,
    }),
  };
}

/** Per pass, from the samples: when it began and ended, its mean copy and write rates, its peak write rate. */
async function passStats(db: Db, id: string) {
  const rows = await db
    .select({
      pass: migrationSamples.pass,
      firstAt: sql<Date>`min(${migrationSamples.at})`.mapWith(migrationSamples.at),
      lastAt: sql<Date>`max(${migrationSamples.at})`.mapWith(migrationSamples.at),
      firstLeft: sql<number>`(array_agg(${migrationSamples.leftBytes} order by ${migrationSamples.at}))[1]`.mapWith(Number),
      avgCopy: sql<number>`avg(${migrationSamples.copyRateBytesPerS})`.mapWith(Number),
      avgWrite: sql<number>`avg(${migrationSamples.writeRateBytesPerS})`.mapWith(Number),
      peakWrite: max(migrationSamples.writeRateBytesPerS),
    })
    .from(migrationSamples)
    .where(eq(migrationSamples.migrationId, id))
    .groupBy(migrationSamples.pass);
  return rows.map((r) => ({ ...r, avgCopy: Math.round(r.avgCopy), avgWrite: Math.round(r.avgWrite), peakWrite: r.peakWrite ?? 0 }));
}

export async function migrationSamplesAfter(db: Db, input: { id: string; sinceId?: number; limit?: number }) {
  return db
    .select()
    .from(migrationSamples)
    .where(and(eq(migrationSamples.migrationId, input.id), input.sinceId ? gt(migrationSamples.id, input.sinceId) : undefined))
    .orderBy(asc(migrationSamples.id))
    .limit(input.limit ?? 3_600);
}

/**
 * A migration's samples for a chart window (docs/ui.md §3.9.6): the last `seconds` before the newest
 * sample (all of them when null), downsampled on the server to at most `maxPoints` rows. A
 * bucket keeps what must survive averaging: the highest left bytes, write rate and p99 latency,
 * the lowest threshold, and its newest id, so a subscription resumes after it.
 */
export async function migrationSamplesWindow(db: Db, input: { id: string; seconds: number | null; maxPoints: number }): Promise<(typeof migrationSamples.$inferSelect)[]> {
  const [span] = await db
    .select({
      first: sql<Date | null>`min(${migrationSamples.at})`.mapWith(migrationSamples.at),
      last: sql<Date | null>`max(${migrationSamples.at})`.mapWith(migrationSamples.at),
    })
    .from(migrationSamples)
    .where(eq(migrationSamples.migrationId, input.id));
  if (!span?.first || !span.last) return [];
  const from = input.seconds === null ? span.first : new Date(Math.max(span.first.getTime(), span.last.getTime() - input.seconds * 1000));
  const inWindow = and(eq(migrationSamples.migrationId, input.id), gte(migrationSamples.at, from));
  const bucketS = Math.max(1, Math.ceil((span.last.getTime() - from.getTime()) / 1000 / input.maxPoints));
  if (bucketS <= 1) return db.select().from(migrationSamples).where(inWindow).orderBy(asc(migrationSamples.id)).limit(input.maxPoints + 1);
  // Inlined, not a parameter: GROUP BY and ORDER BY must read as the same expression. It is an integer we computed.
  const bucket = sql`floor(extract(epoch from ${migrationSamples.at}) / ${sql.raw(String(bucketS))})`;
  const newest = <T>(column: unknown) => sql<T>`(array_agg(${column} order by ${migrationSamples.at} desc))[1]`;
  const rows = await db
    .select({
      id: sql<number>`max(${migrationSamples.id})`.mapWith(Number),
      migrationId: sql<string>`${input.id}::uuid`,
      at: sql<Date>`min(${migrationSamples.at})`.mapWith(migrationSamples.at),
      phase: newest<string>(migrationSamples.phase),
      pass: sql<number>`max(${migrationSamples.pass})`.mapWith(Number),
      leftBytes: sql<number>`max(${migrationSamples.leftBytes})`.mapWith(Number),
      thresholdBytes: sql<number | null>`min(${migrationSamples.thresholdBytes})`.mapWith((v: unknown) => (v === null ? null : Number(v))),
      copiedBytes: sql<number>`max(${migrationSamples.copiedBytes})`.mapWith(Number),
      copyRateBytesPerS: sql<number>`round(avg(${migrationSamples.copyRateBytesPerS}))`.mapWith(Number),
      writeRateBytesPerS: sql<number>`max(${migrationSamples.writeRateBytesPerS})`.mapWith(Number),
      writeLatencyP50Us: sql<number | null>`round(avg(${migrationSamples.writeLatencyP50Us}))`.mapWith((v: unknown) => (v === null ? null : Number(v))),
      writeLatencyP99Us: sql<number | null>`max(${migrationSamples.writeLatencyP99Us})`.mapWith((v: unknown) => (v === null ? null : Number(v))),
      throttleBytesPerS: sql<number | null>`max(${migrationSamples.throttleBytesPerS})`.mapWith((v: unknown) => (v === null ? null : Number(v))),
    })
    .from(migrationSamples)
    .where(inWindow)
    .groupBy(bucket)
    .orderBy(bucket);
  return rows;
}

/** Migration events after an event id, for a resumed `onState`; `id` narrows to one migration. */
export async function migrationEventsAfter(db: Db, afterId: number, id?: string, limit = 500) {
  return db
    .select()
    .from(events)
    .where(and(eq(events.objectKind, 'migration'), gt(events.id, afterId), id ? eq(events.objectId, id) : undefined))
    .orderBy(asc(events.id))
    .limit(limit);
}
