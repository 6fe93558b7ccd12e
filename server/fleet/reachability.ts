import 'server-only';
/**
 * Owns which hosts reach which arrays (fabric zoning). An array with `all_hosts` reaches every
 * host; otherwise only the hosts listed in `array_host_paths`. A migration or a LUN mapping to an
 * array the host cannot reach is refused before anything changes.
 */
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrayHostPaths, arrays, hosts } from '@/db/schema';
import { appendEvent, publishEvents, type Actor } from '@/server/events/log';
import { FleetError } from './errors';

/** The ids of the arrays this host reaches. */
export async function reachableArrays(db: Db, hostId: string): Promise<Set<string>> {
  const open = await db.select({ id: arrays.id }).from(arrays).where(eq(arrays.allHosts, true));
  const zoned = await db
    .select({ id: arrayHostPaths.arrayId })
    .from(arrayHostPaths)
    .innerJoin(arrays, eq(arrays.id, arrayHostPaths.arrayId))
    .where(and(eq(arrayHostPaths.hostId, hostId), eq(arrays.allHosts, false)));
  return new Set([...open, ...zoned].map((row) => row.id));
}

export async function canReach(db: Db, hostId: string, arrayId: string): Promise<boolean> {
  const [array] = await db.select({ allHosts: arrays.allHosts }).from(arrays).where(eq(arrays.id, arrayId));
  if (!array) return false;
  if (array.allHosts) return true;
  const [path] = await db
    .select({ hostId: arrayHostPaths.hostId })
    .from(arrayHostPaths)
    .where(and(eq(arrayHostPaths.arrayId, arrayId), eq(arrayHostPaths.hostId, hostId)));
  return Boolean(path);
}

/** The refusal text shared by the engine, LUN mapping and the Migrate dialog. */
export function unreachableMessage(arrayName: string, hostname: string): string {
  return `target array ${arrayName} is not reachable from host ${hostname} (no path); choose an array zoned to it`;
}

/** The hosts an array is zoned to, or `all` when every host reaches it. */
export async function arrayReach(db: Db, arrayId: string): Promise<{ allHosts: true } | { allHosts: false; hosts: { id: string; hostname: string }[] }> {
  const [array] = await db.select({ allHosts: arrays.allHosts }).from(arrays).where(eq(arrays.id, arrayId));
  if (!array) throw new FleetError('not-found', `array ${arrayId} does not exist`);
  if (array.allHosts) return { allHosts: true };
  const zoned = await db
    .select({ id: hosts.id, hostname: hosts.hostname })
    .from(arrayHostPaths)
    .innerJoin(hosts, eq(hosts.id, arrayHostPaths.hostId))
    .where(eq(arrayHostPaths.arrayId, arrayId))
    .orderBy(asc(hosts.hostname));
  return { allHosts: false, hosts: zoned };
}

/**
 * Sets which hosts reach an array: every host, or exactly `hostIds`. Records `array.reach-changed`
 * with before and after; an unchanged setting writes nothing.
 */
export async function setArrayReach(db: Db, actor: Actor, arrayId: string, reach: { allHosts: true } | { allHosts: false; hostIds: string[] }) {
  const hostIds = reach.allHosts ? [] : [...new Set(reach.hostIds)];
  const known = hostIds.length ? await db.select({ id: hosts.id, hostname: hosts.hostname }).from(hosts).where(inArray(hosts.id, hostIds)) : [];
  const unknown = hostIds.filter((id) => !known.some((host) => host.id === id));
  if (unknown.length) throw new FleetError('not-found', `no host with id ${unknown.join(', ')}; zone the array to enrolled hosts only`);
  const before = await arrayReach(db, arrayId);
  const beforeIds = before.allHosts ? [] : before.hosts.map((host) => host.id);
  if (before.allHosts === reach.allHosts && [...beforeIds].sort().join() === [...hostIds].sort().join()) return;
  const event = await db.transaction(async (tx) => {
    const [array] = await tx.update(arrays).set({ allHosts: reach.allHosts }).where(eq(arrays.id, arrayId)).returning({ name: arrays.name });
    if (!array) throw new FleetError('not-found', `array ${arrayId} does not exist`);
    await tx.delete(arrayHostPaths).where(eq(arrayHostPaths.arrayId, arrayId));
    if (hostIds.length) await tx.insert(arrayHostPaths).values(hostIds.map((hostId) => ({ arrayId, hostId })));
    const names = known.map((host) => host.hostname).sort();
    return appendEvent(tx, {
      kind: 'array.reach-changed',
      actor,
      object: { kind: 'array', id: arrayId, name: array.name },
      message: reach.allHosts ? `array ${array.name} is reachable from every host` : `array ${array.name} is reachable only from ${names.length ? names.join(', ') : 'no host'}`,
      before: before.allHosts ? { allHosts: true } : { allHosts: false, hosts: before.hosts.map((host) => host.hostname) },
      after: reach.allHosts ? { allHosts: true } : { allHosts: false, hosts: names },
    });
  });
  publishEvents(event);
}
