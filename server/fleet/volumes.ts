import 'server-only';
import { eq } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrays, hosts, luns } from '@/db/schema';
import { recordEvent, type Actor } from '@/server/events/log';
import { formatBytes } from '@/server/format';
import { agentClient } from './agent-client';
import { FleetError } from './errors';
import { isMapped } from './arrays';
import { applyAgentInventory } from './hosts';

export interface CreateVolumeInput {
  hostId: string;
  lunId: string;
  diskGroup: string;
  name: string;
  sizeBytes: number;
}

/**
 * Asks a host's agent to create a volume on a LUN mapped to it. The agent keeps the volume's
 * configuration; the console learns of it from the inventory the agent returns.
 */
export async function createVolume(db: Db, actor: Actor, input: CreateVolumeInput) {
  const [host] = await db.select().from(hosts).where(eq(hosts.id, input.hostId));
  if (!host) throw new FleetError('not-found', `host ${input.hostId} does not exist`);
  if (host.state !== 'connected') throw new FleetError('unavailable', `host ${host.hostname} is ${host.state}; volumes can be created only on a connected host`);
  const [lun] = await db.select({ id: luns.id, name: luns.name, sizeBytes: luns.sizeBytes, arrayName: arrays.name }).from(luns).innerJoin(arrays, eq(arrays.id, luns.arrayId)).where(eq(luns.id, input.lunId));
  if (!lun) throw new FleetError('not-found', `LUN ${input.lunId} does not exist`);
  if (!(await isMapped(db, lun.id, host.id))) throw new FleetError('invalid', `LUN ${lun.arrayName}/${lun.name} is not mapped to host ${host.hostname}; map it first`);
  if (input.sizeBytes > lun.sizeBytes) {
    throw new FleetError('invalid', `volume ${input.name} needs ${formatBytes(input.sizeBytes)} but LUN ${lun.arrayName}/${lun.name} holds ${formatBytes(lun.sizeBytes)}`);
  }
  const inventory = await agentClient.createVolume(db, host, {
    diskGroup: input.diskGroup,
    name: input.name,
    sizeBytes: input.sizeBytes,
    lunId: lun.id,
  });
  // Record what the agent now reports at once, rather than on its next heartbeat.
  await applyAgentInventory(db, host.id, inventory);
  await recordEvent(db, {
    kind: 'volume.created',
    actor,
    object: { kind: 'host', id: host.id, name: host.hostname },
    message: `volume ${input.diskGroup}/${input.name} (${formatBytes(input.sizeBytes)}) created on host ${host.hostname}, plex on LUN ${lun.arrayName}/${lun.name}`,
    after: { diskGroup: input.diskGroup, name: input.name, sizeBytes: input.sizeBytes, lunId: lun.id },
  });
  return inventory;
}
