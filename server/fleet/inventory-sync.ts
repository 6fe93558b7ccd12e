import 'server-only';
import { eq, inArray } from 'drizzle-orm';
import type { Db, Tx } from '@/db/open';
import { diskGroups, hosts, luns, migrations, plexes, volumes } from '@/db/schema';
import type { EventRow, HostRow } from '@/server/events/bus';
import { appendEvent, publishEvents } from '@/server/events/log';
import type { Inventory } from '@/server/protocol/agent-api';
import { hashInventory } from '@/server/protocol/inventory-hash';
import { publishHostChange } from './host-change';

export { hashInventory } from '@/server/protocol/inventory-hash';

export interface InventoryChanges {
  added: string[];
  removed: string[];
  changed: string[];
  /** No longer reported, but kept because migrations refer to them. */
  kept: string[];
}

export const hasChanges = (c: InventoryChanges) => c.added.length + c.removed.length + c.changed.length + c.kept.length > 0;

/**
 * Makes the host's disk groups, volumes and plexes equal to what its agent reports. Plexes are
 * linked to `luns` rows by id when the console knows the LUN, else their lunId stays null.
 */
export async function syncInventory(tx: Tx, hostId: string, inventory: Inventory): Promise<InventoryChanges> {
  const changes: InventoryChanges = { added: [], removed: [], changed: [], kept: [] };
  const groupRows = await tx.select().from(diskGroups).where(eq(diskGroups.hostId, hostId));
  const volumeRows = await tx.select().from(volumes).where(eq(volumes.hostId, hostId));
  const plexRows = volumeRows.length
    ? await tx.select().from(plexes).where(inArray(plexes.volumeId, volumeRows.map((v) => v.id)))
    : [];
  const reportedLunIds = [...new Set(inventory.diskGroups.flatMap((dg) => dg.volumes.flatMap((v) => v.plexes.map((p) => p.lunId))))];
  const knownLuns = new Set(
    reportedLunIds.length ? (await tx.select({ id: luns.id }).from(luns).where(inArray(luns.id, reportedLunIds))).map((l) => l.id) : [],
  );

  const seenGroups = new Set<string>();
  const seenVolumes = new Set<string>();
  const seenPlexes = new Set<string>();
  for (const group of inventory.diskGroups) {
    let groupRow = groupRows.find((g) => g.name === group.name);
    if (!groupRow) {
      [groupRow] = await tx.insert(diskGroups).values({ hostId, name: group.name }).returning();
      if (!groupRow) throw new Error('disk group insert returned no row');
      changes.added.push(`disk group ${group.name}`);
    }
    seenGroups.add(groupRow.id);
    for (const volume of group.volumes) {
      const label = `volume ${group.name}/${volume.name}`;
      const fields = { sizeBytes: volume.sizeBytes, regionSizeBytes: volume.regionSizeBytes, nbdExport: volume.nbdExport };
      let volumeRow = volumeRows.find((v) => v.diskGroupId === groupRow.id && v.name === volume.name);
      if (!volumeRow) {
        [volumeRow] = await tx.insert(volumes).values({ hostId, diskGroupId: groupRow.id, name: volume.name, ...fields }).returning();
        if (!volumeRow) throw new Error('volume insert returned no row');
        changes.added.push(label);
      } else if (differs(volumeRow, fields)) {
        await tx.update(volumes).set(fields).where(eq(volumes.id, volumeRow.id));
        changes.changed.push(label);
      }
      seenVolumes.add(volumeRow.id);
      for (const plex of volume.plexes) {
        const plexLabel = `plex ${plex.name} of ${group.name}/${volume.name}`;
        const plexFields = { lunId: knownLuns.has(plex.lunId) ? plex.lunId : null, lunPath: plex.lunPath, state: plex.state };
        const plexRow = plexRows.find((p) => p.volumeId === volumeRow.id && p.name === plex.name);
        if (!plexRow) {
          const [inserted] = await tx.insert(plexes).values({ volumeId: volumeRow.id, name: plex.name, ...plexFields }).returning({ id: plexes.id });
          if (inserted) seenPlexes.add(inserted.id);
          changes.added.push(`${plexLabel} (${plex.state}, ${plex.lunPath})`);
        } else {
          seenPlexes.add(plexRow.id);
          if (differs(plexRow, plexFields)) {
            await tx.update(plexes).set(plexFields).where(eq(plexes.id, plexRow.id));
            changes.changed.push(plexRow.state !== plex.state ? `${plexLabel} ${plexRow.state} → ${plex.state}` : plexLabel);
          }
        }
      }
    }
  }

  const goneVolumes = volumeRows.filter((v) => !seenVolumes.has(v.id));
  const pinned = new Set(
    goneVolumes.length
      ? (await tx.selectDistinct({ id: migrations.volumeId }).from(migrations).where(inArray(migrations.volumeId, goneVolumes.map((v) => v.id)))).map((m) => m.id)
      : [],
  );
  const groupName = new Map(groupRows.map((g) => [g.id, g.name]));
  const goneVolumeIds = new Set<string>();
  for (const volume of goneVolumes) {
    const label = `volume ${groupName.get(volume.diskGroupId) ?? '?'}/${volume.name}`;
    if (pinned.has(volume.id)) {
      changes.kept.push(label);
    } else {
      goneVolumeIds.add(volume.id);
      changes.removed.push(label);
    }
  }
  // Plexes of removed volumes go with them (cascade); only plexes of reported volumes are listed.
  const gonePlexes = plexRows.filter((p) => !seenPlexes.has(p.id) && seenVolumes.has(p.volumeId));
  for (const plex of gonePlexes) changes.removed.push(`plex ${plex.name}`);
  if (gonePlexes.length) await tx.delete(plexes).where(inArray(plexes.id, gonePlexes.map((p) => p.id)));
  if (goneVolumeIds.size) await tx.delete(volumes).where(inArray(volumes.id, [...goneVolumeIds]));
  const keptGroupIds = new Set(goneVolumes.filter((v) => pinned.has(v.id)).map((v) => v.diskGroupId));
  const goneGroups = groupRows.filter((g) => !seenGroups.has(g.id) && !keptGroupIds.has(g.id));
  for (const group of goneGroups) changes.removed.push(`disk group ${group.name}`);
  if (goneGroups.length) await tx.delete(diskGroups).where(inArray(diskGroups.id, goneGroups.map((g) => g.id)));
  return changes;
}

function differs<T extends Record<string, unknown>>(row: Record<string, unknown>, fields: T): boolean {
  return Object.entries(fields).some(([key, value]) => row[key] !== value);
}

/** One line for the event log, e.g. "added volume dg1/v1, plex v1-01 of dg1/v1 (active, /luns/a1)". */
export function describeChanges(changes: InventoryChanges): string {
  const parts = [
    changes.added.length ? `added ${changes.added.join(', ')}` : '',
    changes.changed.length ? `changed ${changes.changed.join(', ')}` : '',
    changes.removed.length ? `removed ${changes.removed.join(', ')}` : '',
    changes.kept.length ? `no longer reported but kept for migration history: ${changes.kept.join(', ')}` : '',
  ];
  return parts.filter(Boolean).join('; ');
}

/**
 * Syncs when the inventory's hash differs from the host's stored one and returns the
 * `host.inventory-changed` event to publish after commit. The caller stores the new hash.
 */
export async function syncIfChanged(tx: Tx, host: HostRow, inventory: Inventory, inventoryHash: string): Promise<{ changed: boolean; event?: EventRow }> {
  if (host.inventoryHash === inventoryHash) return { changed: false };
  const changes = await syncInventory(tx, host.id, inventory);
  if (!hasChanges(changes)) return { changed: true };
  const event = await appendEvent(tx, {
    kind: 'host.inventory-changed',
    actor: { kind: 'agent', id: host.id, name: host.hostname },
    object: { kind: 'host', id: host.id, name: host.hostname },
    message: `inventory of ${host.hostname} changed: ${describeChanges(changes)}`,
    after: { ...changes },
  });
  return { changed: true, event };
}

/**
 * Applies an inventory an agent returned from a console call (map a LUN, create a volume), so
 * the database shows the change as soon as the call returns rather than at the next heartbeat.
 */
export async function applyAgentInventory(db: Db, hostId: string, inventory: Inventory): Promise<{ changed: boolean }> {
  const inventoryHash = hashInventory(inventory);
  const outcome = await db.transaction(async (tx) => {
    const [host] = await tx.select().from(hosts).where(eq(hosts.id, hostId)).for('update');
    if (!host) throw new Error(`host ${hostId} does not exist`);
    const synced = await syncIfChanged(tx, host, inventory, inventoryHash);
    if (!synced.changed) return { host, ...synced };
    const [updated] = await tx.update(hosts).set({ inventoryHash }).where(eq(hosts.id, host.id)).returning();
    return { host: updated ?? host, ...synced };
  });
  if (outcome.event) publishEvents(outcome.event);
  if (outcome.changed) publishHostChange(outcome.host, true);
  return { changed: outcome.changed };
}
