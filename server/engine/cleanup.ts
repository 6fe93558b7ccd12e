import 'server-only';
/**
 * Owns the removal of a target LUN that a migration provisioned and no longer needs: when a
 * migration ends `cancelled` or `rolled-back`, the source is (still or again) authoritative and
 * the target LUN `mig-<id>` is garbage. It is unmapped from the host (agent, then array),
 * deleted on its array, and its rows removed with a `lun.deleted` event, all in the same
 * idempotent way as the other steps: a cleanup cut short by a crash is finished next tick,
 * because the LUN row, found by its deterministic name, is removed last.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrays, hosts, lunMappings, luns, migrations, volumes } from '@/db/schema';
import { openDriver } from '@/server/arrays';
import { appendEvent, publishEvents } from '@/server/events/log';
import { AgentCallError, agentClient } from '@/server/fleet/agent-client';
import { logger } from '@/server/log';
import type { MigrationRow } from './create';
import { underLease } from './lease';
import type { MigrationState } from './migration-states';
import { engineActor, ignoreMissing } from './steps';

/** End states after which the target LUN holds nothing anyone needs. */
export const TARGET_DISCARDED: readonly MigrationState[] = ['cancelled', 'rolled-back'];

/** Ids of ended migrations whose target LUN row still exists. */
export async function migrationsToClean(db: Db): Promise<string[]> {
  const rows = await db
    .select({ id: migrations.id })
    .from(migrations)
    .innerJoin(luns, and(eq(luns.arrayId, migrations.targetArrayId), eq(luns.name, sql`'mig-' || ${migrations.id}::text`)))
    .where(inArray(migrations.state, [...TARGET_DISCARDED]));
  return rows.map((row) => row.id);
}

/** Unmaps and deletes the target LUN of a cancelled or rolled-back migration; a no-op once done. */
export async function cleanupTarget(db: Db, row: MigrationRow): Promise<void> {
  if (!TARGET_DISCARDED.includes(row.state)) return;
  const [found] = await db
    .select({ lun: luns, array: arrays, host: { id: hosts.id, hostname: hosts.hostname, agentUrl: hosts.agentUrl, state: hosts.state }, volume: volumes.nbdExport })
    .from(migrations)
    .innerJoin(luns, and(eq(luns.arrayId, migrations.targetArrayId), eq(luns.name, sql`'mig-' || ${migrations.id}::text`)))
    .innerJoin(arrays, eq(arrays.id, luns.arrayId))
    .innerJoin(volumes, eq(volumes.id, migrations.volumeId))
    .innerJoin(hosts, eq(hosts.id, volumes.hostId))
    .where(eq(migrations.id, row.id));
  if (!found) return;
  const { lun, array, host, volume } = found;
  // A fenced host's agent is sent nothing; the target LUN is cleaned up once the host re-enrols.
  if (host.state === 'fenced') return;

  // The console's state is final, but an agent job started by a prepare that raced a cancel
  // may still run on the target: stop it first (it keeps the source, since it never switched).
  try {
    const job = await agentClient.migration(db, host, row.id);
    if (!['cancelled', 'rolled-back', 'failed', 'committed'].includes(job.phase)) {
      if (job.switched) throw new Error(`migration ${row.id} is ${row.state} but the agent's job has switched to the target (${job.phase}); leaving the target LUN`);
      await agentClient.migrationAction(db, host, row.id, 'cancel', row.leaseEpoch);
    }
  } catch (error) {
    // Refused by epoch: another replica holds the lease now and cleans up; leave it alone.
    if (error instanceof AgentCallError && error.code === 'stale-epoch') {
      logger.info('lost the lease of a migration to another console replica; leaving its cleanup to the new owner', { migrationId: row.id, leaseEpoch: row.leaseEpoch, error: error.message });
      return;
    }
    if (!(error instanceof AgentCallError && error.status === 404)) throw error;
  }
  // The agent drops the target plex just after the job ends; until then it answers lun-in-use
  // and the next tick tries again.
  await agentClient.unmapLun(db, host, lun.id);
  const driver = openDriver(array);
  await ignoreMissing(driver.unmapLun(lun.name, host.id));
  await ignoreMissing(driver.deleteLun(lun.name));

  const event = await db.transaction(async (tx) => {
    const [owned] = await tx.select({ id: migrations.id }).from(migrations).where(and(eq(migrations.id, row.id), underLease(row)));
    if (!owned) return undefined;
    await tx.update(migrations).set({ targetLunId: null, updatedAt: new Date() }).where(eq(migrations.id, row.id));
    await tx.delete(lunMappings).where(eq(lunMappings.lunId, lun.id));
    const deleted = await tx.delete(luns).where(eq(luns.id, lun.id)).returning({ id: luns.id });
    if (deleted.length === 0) return undefined;
    return appendEvent(tx, {
      kind: 'lun.deleted',
      actor: engineActor,
      object: { kind: 'lun', id: lun.id, name: `${array.name}/${lun.name}` },
      message: `LUN ${array.name}/${lun.name} unmapped from ${host.hostname} and deleted: the migration of ${volume} was ${row.state}, so its target is not needed; the source stays authoritative`,
      before: { arrayId: array.id, name: lun.name, wwn: lun.wwn, sizeBytes: lun.sizeBytes, migrationId: row.id },
    });
  });
  if (event) publishEvents(event);
}
