import 'server-only';
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrays, hosts, lunMappings, luns } from '@/db/schema';
import { ArrayError, DirectoryArray, openDriver } from '@/server/arrays';
import { appendEvent, publishEvents, type Actor } from '@/server/events/log';
import { formatBytes } from '@/server/format';
import { agentClient } from './agent-client';
import { FleetError } from './errors';
import { canReach } from './reachability';

export interface CreateArrayInput {
  name: string;
  vendor: string;
  model: string;
  tier: number;
  capacityBytes: number;
  driver: { kind: 'directory'; path: string };
}

/** Registers an array. Refusals (duplicate name or folder, folder not writable) change nothing. */
export async function createArray(db: Db, actor: Actor, input: CreateArrayInput) {
  const [sameName] = await db.select({ id: arrays.id }).from(arrays).where(eq(arrays.name, input.name));
  if (sameName) throw new FleetError('conflict', `an array named ${input.name} already exists; choose another name`);
  const existing = await db.select({ name: arrays.name, driverConfig: arrays.driverConfig }).from(arrays);
  const samePath = existing.find((array) => array.driverConfig.path === input.driver.path);
  if (samePath) throw new FleetError('conflict', `folder ${input.driver.path} already holds array ${samePath.name}`);
  await DirectoryArray.initialize({ path: input.driver.path, capacityBytes: input.capacityBytes });

  const { row, event } = await db.transaction(async (tx) => {
    const [row] = await tx
      .insert(arrays)
      .values({
        name: input.name,
        vendor: input.vendor,
        model: input.model,
        tier: input.tier,
        driver: input.driver.kind,
        driverConfig: { path: input.driver.path },
        capacityBytes: input.capacityBytes,
      })
      .returning();
    if (!row) throw new Error('array insert returned no row');
    const event = await appendEvent(tx, {
      kind: 'array.created',
      actor,
      object: { kind: 'array', id: row.id, name: row.name },
      message: `array ${row.name} (${row.vendor} ${row.model}, tier ${row.tier}, ${formatBytes(row.capacityBytes)}) registered`,
      after: { name: row.name, vendor: row.vendor, model: row.model, tier: row.tier, capacityBytes: row.capacityBytes, driver: row.driver },
    });
    return { row, event };
  });
  publishEvents(event);
  return row;
}

async function arrayById(db: Db, arrayId: string) {
  const [array] = await db.select().from(arrays).where(eq(arrays.id, arrayId));
  if (!array) throw new FleetError('not-found', `array ${arrayId} does not exist`);
  return array;
}

function newWwn(): string {
  // NAA type 6 (registered extended) with Tern's made-up vendor id: 32 hex digits.
  return `6${'0e7e5a'}${randomBytes(13).toString('hex').slice(0, 25)}`;
}

/** Creates a LUN on an array through its driver, then records it. */
export async function createLun(db: Db, actor: Actor, input: { arrayId: string; name: string; sizeBytes: number }) {
  const array = await arrayById(db, input.arrayId);
  const driver = openDriver(array);
  await driver.createLun({ name: input.name, sizeBytes: input.sizeBytes });
  try {
    const { row, event } = await db.transaction(async (tx) => {
      const [row] = await tx
        .insert(luns)
        .values({ arrayId: array.id, name: input.name, wwn: newWwn(), sizeBytes: input.sizeBytes, path: driver instanceof DirectoryArray ? driver.lunPath(input.name) : input.name })
        .returning();
      if (!row) throw new Error('LUN insert returned no row');
      const event = await appendEvent(tx, {
        kind: 'lun.created',
        actor,
        object: { kind: 'lun', id: row.id, name: `${array.name}/${row.name}` },
        message: `LUN ${row.name} (${formatBytes(row.sizeBytes)}) created on array ${array.name}`,
        after: { arrayId: array.id, name: row.name, wwn: row.wwn, sizeBytes: row.sizeBytes },
      });
      return { row, event };
    });
    publishEvents(event);
    return row;
  } catch (error) {
    await driver.deleteLun(input.name).catch(() => undefined);
    throw error;
  }
}

/**
 * Maps a LUN to a host: the array grants access, the host's agent is told the LUN's path,
 * then the mapping is recorded. If the agent cannot be told, the array's grant is undone.
 */
export async function mapLun(db: Db, actor: Actor, input: { lunId: string; hostId: string }) {
  const [lun] = await db.select().from(luns).where(eq(luns.id, input.lunId));
  if (!lun) throw new FleetError('not-found', `LUN ${input.lunId} does not exist`);
  const [host] = await db.select().from(hosts).where(eq(hosts.id, input.hostId));
  if (!host) throw new FleetError('not-found', `host ${input.hostId} does not exist`);
  if (host.state !== 'connected') throw new FleetError('unavailable', `host ${host.hostname} is ${host.state}; a LUN can be mapped only to a connected host`);
  const array = await arrayById(db, lun.arrayId);
  if (!(await canReach(db, host.id, array.id))) {
    throw new FleetError('invalid', `array ${array.name} is not reachable from host ${host.hostname} (no path); zone the array to the host before mapping its LUNs`);
  }
  const driver = openDriver(array);
  const { hostPath } = await driver.mapLun(lun.name, host.id);
  try {
    await agentClient.mapLun(db, host, lun.id, { wwn: lun.wwn, arrayId: array.id, arrayName: array.name, path: hostPath, sizeBytes: lun.sizeBytes });
  } catch (error) {
    await driver.unmapLun(lun.name, host.id).catch(() => undefined);
    throw error;
  }
  const event = await db.transaction(async (tx) => {
    const inserted = await tx.insert(lunMappings).values({ lunId: lun.id, hostId: host.id }).onConflictDoNothing().returning();
    if (inserted.length === 0) return undefined;
    return appendEvent(tx, {
      kind: 'lun.mapped',
      actor,
      object: { kind: 'lun', id: lun.id, name: `${array.name}/${lun.name}` },
      message: `LUN ${array.name}/${lun.name} mapped to host ${host.hostname}`,
      after: { hostId: host.id, hostname: host.hostname, path: hostPath },
    });
  });
  if (event) publishEvents(event);
  return { lunId: lun.id, hostId: host.id, path: hostPath };
}

/** Live capacity figures from the array's driver. */
export async function arrayCapacity(db: Db, arrayId: string) {
  const array = await arrayById(db, arrayId);
  try {
    return await openDriver(array).capacity();
  } catch (error) {
    if (error instanceof ArrayError) throw error;
    throw new FleetError('unavailable', `array ${array.name} cannot report its capacity: ${(error as Error).message}`);
  }
}

export async function isMapped(db: Db, lunId: string, hostId: string) {
  const rows = await db.select().from(lunMappings).where(and(eq(lunMappings.lunId, lunId), eq(lunMappings.hostId, hostId)));
  return rows.length > 0;
}
