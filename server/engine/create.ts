import 'server-only';
/**
 * Owns the creation of a migration: every check that can be made before anything moves, each
 * refusal saying which and why, and the `queued` row with its `migration.created` event. The
 * checks and the insert are separate so an evacuation can check every move first and then
 * insert them all in one transaction.
 */
import { and, eq, notInArray } from 'drizzle-orm';
import type { Db, Tx } from '@/db/open';
import { arrays, hosts, luns, migrations, plexes, volumes } from '@/db/schema';
import type { EventRow } from '@/server/events/bus';
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
  /** The plex to move, by its LUN; default: the volume's active plex. */
  sourceLunId?: string;
  /** Set when the migration belongs to an evacuation. */
  evacuationId?: string;
  /** Admission order among queued migrations, higher first (default 0). */
  priority?: number;
}

export type MigrationRow = typeof migrations.$inferSelect;

/** A migration that passed every check, ready to insert. */
export interface CheckedMigration {
  input: CreateMigrationInput;
  policy: CutoverPolicy;
  volume: { id: string; nbdExport: string; sizeBytes: number; hostname: string };
  source: { lunId: string; lunName: string; arrayId: string; arrayName: string };
  target: { id: string; name: string };
}

export async function createMigration(db: Db, actor: Actor, input: CreateMigrationInput): Promise<MigrationRow> {
  const checked = await checkMigration(db, input);
  const { row, event } = await db.transaction((tx) => insertMigration(tx, actor, checked));
  publishMigrationEvent(row, event);
  return row;
}

/** Every check that needs no transaction; throws a FleetError naming the problem. */
export async function checkMigration(db: Db, input: CreateMigrationInput): Promise<CheckedMigration> {
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
  const sources = await db
    .select({ lunId: luns.id, lunName: luns.name, arrayId: arrays.id, arrayName: arrays.name, state: plexes.state })
    .from(plexes)
    .innerJoin(luns, eq(luns.id, plexes.lunId))
    .innerJoin(arrays, eq(arrays.id, luns.arrayId))
    .where(eq(plexes.volumeId, volume.id));
  const source = input.sourceLunId ? sources.find((plex) => plex.lunId === input.sourceLunId) : sources.find((plex) => plex.state === 'active');
  if (input.sourceLunId && !source) throw new FleetError('invalid', `volume ${volume.nbdExport} has no plex on LUN ${input.sourceLunId}`);
  if (!source) throw new FleetError('invalid', `volume ${volume.nbdExport} has no active plex on a LUN the console knows; wait for the host's next heartbeat`);
  if (input.sourceLunId && sources.length > 1) {
    // The agent opens a volume on one plex and its job copies from that plex: choosing which
    // plex of a mirror moves is not in the data plane yet, so refuse rather than move the wrong one.
    throw new FleetError(
      'invalid',
      `volume ${volume.nbdExport} is mirrored (${sources.length} plexes); moving one plex of a mirrored volume is not supported yet. Exclude it, or detach the other plex first`,
    );
  }
  if (source.state !== 'active') throw new FleetError('invalid', `volume ${volume.nbdExport}: plex on LUN ${source.lunName} is ${source.state}, not active`);
  const target = await getArray(db, input.targetArrayId);
  if (target.id === source.arrayId) {
    throw new FleetError('invalid', `volume ${volume.nbdExport} is already on array ${target.name}; choose another target array`);
  }
  if (target.state !== 'online') throw new FleetError('unavailable', `target array ${target.name} is ${target.state}; choose an online array`);
  if (!(await canReach(db, volume.hostId, target.id))) throw new FleetError('invalid', unreachableMessage(target.name, volume.hostname));
  if (target.freeBytes < volume.sizeBytes) {
    throw new FleetError('invalid', `target array ${target.name} has ${formatBytes(target.freeBytes)} free, ${formatBytes(volume.sizeBytes)} needed`);
  }
  return { input, policy: policy.data, volume, source, target: { id: target.id, name: target.name } };
}

/** Inserts the queued row and its `migration.created` event in `tx`; refuses when the volume is already migrating. Publish the event after the commit. */
export async function insertMigration(tx: Tx, actor: Actor, { input, policy, volume, source, target }: CheckedMigration): Promise<{ row: MigrationRow; event: EventRow }> {
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
      cutoverPolicy: { ...policy },
      evacuationId: input.evacuationId ?? null,
      priority: input.priority ?? 0,
      createdBy: actor.name ?? 'console',
    })
    .returning();
  if (!row) throw new Error('migration insert returned no row');
  const event = await appendEvent(tx, {
    kind: 'migration.created',
    actor,
    object: { kind: 'migration', id: row.id, name: volume.nbdExport },
    message: `migration of ${volume.nbdExport} on ${volume.hostname} (${formatBytes(volume.sizeBytes)}) from array ${source.arrayName} to ${target.name} queued, ${input.strategy}`,
    after: {
      state: 'queued',
      strategy: row.strategy,
      sourceArray: source.arrayName,
      targetArray: target.name,
      throttleBytesPerS: row.throttleBytesPerS,
      cutoverPolicy: row.cutoverPolicy,
      ...(row.evacuationId ? { evacuationId: row.evacuationId, priority: row.priority } : {}),
    },
  });
  return { row, event };
}
