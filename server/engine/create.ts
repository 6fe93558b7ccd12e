import 'server-only';
/**
 * Owns the creation of a migration: every check that can be made before anything moves, each
 * refusal saying which and why, and the `queued` row with its `migration.created` event.
 */
import { and, eq, notInArray } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrays, hosts, luns, migrations, plexes, volumes } from '@/db/schema';
import { appendEvent, type Actor } from '@/server/events/log';
import { FleetError } from '@/server/fleet/errors';
import { getArray } from '@/server/fleet/queries';
import { canReach, unreachableMessage } from '@/server/fleet/reachability';
import { formatBytes } from '@/server/format';
import { TERMINAL_STATES } from './migration-states';
import { publishMigrationEvent } from './transition';
import { cutoverPolicySchema, type CutoverPolicy } from './window';

export type { CutoverPolicy };

export interface CreateMigrationInput {
  volumeId: string;
  targetArrayId: string;
  strategy: 'mirror' | 'precopy';
  throttleBytesPerS?: number | null;
  cutoverPolicy: CutoverPolicy;
}

export type MigrationRow = typeof migrations.$inferSelect;

export async function createMigration(db: Db, actor: Actor, input: CreateMigrationInput): Promise<MigrationRow> {
  const policy = cutoverPolicySchema.safeParse(input.cutoverPolicy);
  if (!policy.success) throw new FleetError('invalid', `cutover policy: ${policy.error.issues.map((issue) => issue.message).join('; ')}`);
  const [volume] = await db
    .select({ id: volumes.id, name: volumes.name, nbdExport: volumes.nbdExport, sizeBytes: volumes.sizeBytes, hostId: hosts.id, hostname: hosts.hostname, hostState: hosts.state })
    .from(volumes)
    .innerJoin(hosts, eq(hosts.id, volumes.hostId))
    .where(eq(volumes.id, input.volumeId));
  if (!volume) throw new FleetError('not-found', `volume ${input.volumeId} does not exist`);
  if (volume.hostState !== 'connected') {
    throw new FleetError('unavailable', `host ${volume.hostname} is ${volume.hostState}; a migration starts only on a connected host`);
  }
  const [source] = await db
    .select({ lunId: luns.id, lunName: luns.name, arrayId: arrays.id, arrayName: arrays.name })
    .from(plexes)
    .innerJoin(luns, eq(luns.id, plexes.lunId))
    .innerJoin(arrays, eq(arrays.id, luns.arrayId))
    .where(and(eq(plexes.volumeId, volume.id), eq(plexes.state, 'active')));
  if (!source) throw new FleetError('invalid', `volume ${volume.nbdExport} has no active plex on a LUN the console knows; wait for the host's next heartbeat`);
  const target = await getArray(db, input.targetArrayId);
  if (target.id === source.arrayId) {
    throw new FleetError('invalid', `volume ${volume.nbdExport} is already on array ${target.name}; choose another target array`);
  }
  if (target.state !== 'online') throw new FleetError('unavailable', `target array ${target.name} is ${target.state}; choose an online array`);
  if (!(await canReach(db, volume.hostId, target.id))) throw new FleetError('invalid', unreachableMessage(target.name, volume.hostname));
  if (target.freeBytes < volume.sizeBytes) {
    throw new FleetError('invalid', `target array ${target.name} has ${formatBytes(target.freeBytes)} free, ${formatBytes(volume.sizeBytes)} needed`);
  }

  const { row, event } = await db.transaction(async (tx) => {
    const [running] = await tx
      .select({ id: migrations.id, state: migrations.state })
      .from(migrations)
      .where(and(eq(migrations.volumeId, volume.id), notInArray(migrations.state, [...TERMINAL_STATES])));
    if (running) throw new FleetError('conflict', `volume ${volume.nbdExport} is already migrating (migration ${running.id} is ${running.state}); wait for it or cancel it`);
    const [row] = await tx
      .insert(migrations)
      .values({
        volumeId: volume.id,
        sourceLunId: source.lunId,
        sourceArrayId: source.arrayId,
        sourceLunName: source.lunName,
        targetArrayId: target.id,
        strategy: input.strategy,
        state: 'queued',
        throttleBytesPerS: input.throttleBytesPerS ?? null,
        cutoverPolicy: { ...policy.data },
        createdBy: actor.name ?? 'console',
      })
      .returning();
    if (!row) throw new Error('migration insert returned no row');
    const event = await appendEvent(tx, {
      kind: 'migration.created',
      actor,
      object: { kind: 'migration', id: row.id, name: volume.nbdExport },
      message: `migration of ${volume.nbdExport} on ${volume.hostname} (${formatBytes(volume.sizeBytes)}) from array ${source.arrayName} to ${target.name} queued, ${input.strategy}`,
      after: { state: 'queued', strategy: row.strategy, sourceArray: source.arrayName, targetArray: target.name, throttleBytesPerS: row.throttleBytesPerS, cutoverPolicy: row.cutoverPolicy },
    });
    return { row, event };
  });
  publishMigrationEvent(row, event);
  return row;
}
