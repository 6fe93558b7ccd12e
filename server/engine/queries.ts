import 'server-only';
/**
 * Owns what pages read about migrations: the list with names joined in, one migration with the
 * agent's pass table and verification, its samples, and the backlog a resumed subscription replays.
 */
import { and, asc, desc, eq, gt, inArray } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Db } from '@/db/open';
import { arrays, diskGroups, events, hosts, migrationSamples, migrations, volumes } from '@/db/schema';
import { FleetError } from '@/server/fleet/errors';
import type { MigrationStatus } from '@/server/protocol/agent-api';
import { allowedActions, type MigrationState } from './migration-states';

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

export async function listMigrations(db: Db, input: { states?: MigrationState[]; limit: number }) {
  const rows = await withNames(db)
    .where(input.states?.length ? inArray(migrations.state, input.states) : undefined)
    .orderBy(desc(migrations.createdAt))
    .limit(input.limit);
  return rows.map(flatten);
}

export async function getMigration(db: Db, id: string) {
  const [row] = await withNames(db).where(eq(migrations.id, id));
  if (!row) throw new FleetError('not-found', `migration ${id} does not exist`);
  const status = row.migration.agentStatus as MigrationStatus | null;
  return {
    ...flatten(row),
    agentPhase: status?.phase ?? null,
    switched: status?.switched ?? false,
    passes: status?.passes ?? [],
    verify: status?.verify ?? null,
    cutoverPauseMs: status?.cutoverPauseMs ?? null,
    restarts: status?.restarts ?? 0,
  };
}

export async function migrationSamplesAfter(db: Db, input: { id: string; sinceId?: number; limit?: number }) {
  return db
    .select()
    .from(migrationSamples)
    .where(and(eq(migrationSamples.migrationId, input.id), input.sinceId ? gt(migrationSamples.id, input.sinceId) : undefined))
    .orderBy(asc(migrationSamples.id))
    .limit(input.limit ?? 3_600);
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
