import 'server-only';
import { and, asc, count, desc, eq, ilike, inArray, lt, notInArray, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrays, diskGroups, events, hosts, lunMappings, luns, migrations, plexes, volumes } from '@/db/schema';
import { TERMINAL_STATES } from '@/server/engine/migration-states';
import { FleetError } from './errors';

/** Every array with capacity figures computed from its LUNs, and its LUN and host counts. */
export async function listArrays(db: Db) {
  const rows = await db
    .select({
      id: arrays.id,
      name: arrays.name,
      vendor: arrays.vendor,
      model: arrays.model,
      tier: arrays.tier,
      driver: arrays.driver,
      state: arrays.state,
      capacityBytes: arrays.capacityBytes,
      provisionedBytes: sql<number>`coalesce(sum(${luns.sizeBytes}), 0)`.mapWith(Number),
      lunCount: count(luns.id),
    })
    .from(arrays)
    .leftJoin(luns, eq(luns.arrayId, arrays.id))
    .groupBy(arrays.id)
    .orderBy(asc(arrays.name));
  const hostCounts = await db
    .select({ arrayId: luns.arrayId, hostCount: sql<number>`count(distinct ${lunMappings.hostId})`.mapWith(Number) })
    .from(lunMappings)
    .innerJoin(luns, eq(luns.id, lunMappings.lunId))
    .groupBy(luns.arrayId);
  const hostsByArray = new Map(hostCounts.map((row) => [row.arrayId, row.hostCount]));
  return rows.map((row) => ({
    ...row,
    freeBytes: Math.max(0, row.capacityBytes - row.provisionedBytes),
    hostCount: hostsByArray.get(row.id) ?? 0,
  }));
}

export async function getArray(db: Db, arrayId: string) {
  const all = await listArrays(db);
  const array = all.find((row) => row.id === arrayId);
  if (!array) throw new FleetError('not-found', `array ${arrayId} does not exist`);
  const [row] = await db.select({ driverConfig: arrays.driverConfig, createdAt: arrays.createdAt }).from(arrays).where(eq(arrays.id, arrayId));
  return { ...array, driverConfig: row?.driverConfig ?? {}, createdAt: row?.createdAt ?? null };
}

export interface LunPageInput {
  arrayId: string;
  q?: string;
  page: number;
  pageSize: number;
  sort: 'name' | 'size';
  direction: 'asc' | 'desc';
}

/** One page of an array's LUNs, each with the hosts it is mapped to and the plex that uses it. */
export async function listArrayLuns(db: Db, input: LunPageInput) {
  const filter = and(eq(luns.arrayId, input.arrayId), input.q ? or(ilike(luns.name, `%${input.q}%`), ilike(luns.wwn, `%${input.q}%`)) : undefined);
  const order = input.sort === 'size' ? luns.sizeBytes : luns.name;
  const [total] = await db.select({ value: count() }).from(luns).where(filter);
  const page = await db
    .select()
    .from(luns)
    .where(filter)
    .orderBy(input.direction === 'asc' ? asc(order) : desc(order), asc(luns.id))
    .limit(input.pageSize)
    .offset((input.page - 1) * input.pageSize);
  const ids = page.map((lun) => lun.id);
  const mappings = ids.length
    ? await db
        .select({ lunId: lunMappings.lunId, hostId: hosts.id, hostname: hosts.hostname, hostState: hosts.state })
        .from(lunMappings)
        .innerJoin(hosts, eq(hosts.id, lunMappings.hostId))
        .where(inArray(lunMappings.lunId, ids))
    : [];
  const users = ids.length
    ? await db
        .select({
          lunId: plexes.lunId,
          plexName: plexes.name,
          plexState: plexes.state,
          volumeId: volumes.id,
          volumeName: volumes.name,
          volumeSizeBytes: volumes.sizeBytes,
          diskGroupName: diskGroups.name,
          hostId: hosts.id,
          hostname: hosts.hostname,
        })
        .from(plexes)
        .innerJoin(volumes, eq(volumes.id, plexes.volumeId))
        .innerJoin(diskGroups, eq(diskGroups.id, volumes.diskGroupId))
        .innerJoin(hosts, eq(hosts.id, volumes.hostId))
        .where(inArray(plexes.lunId, ids))
    : [];
  return {
    total: total?.value ?? 0,
    page: input.page,
    pageSize: input.pageSize,
    luns: page.map((lun) => ({
      id: lun.id,
      name: lun.name,
      wwn: lun.wwn,
      sizeBytes: lun.sizeBytes,
      state: lun.state,
      path: lun.path,
      createdAt: lun.createdAt,
      mappedTo: mappings.filter((m) => m.lunId === lun.id).map(({ hostId, hostname, hostState }) => ({ hostId, hostname, hostState })),
      usedBy: users.filter((u) => u.lunId === lun.id).map(({ lunId: _lunId, ...use }) => use),
    })),
  };
}

/** The host fields pages show (never the credential hash). */
const hostColumns = {
  id: hosts.id,
  hostname: hosts.hostname,
  state: hosts.state,
  stateSince: hosts.stateSince,
  lastHeartbeatAt: hosts.lastHeartbeatAt,
  agentVersion: hosts.agentVersion,
  agentUrl: hosts.agentUrl,
  enrolledAt: hosts.enrolledAt,
};

/** Every host with its disk group and volume counts and the arrays its plexes live on. */
export async function listHosts(db: Db) {
  const rows = await db
    .select(hostColumns)
    .from(hosts)
    .orderBy(asc(hosts.hostname));
  const diskGroupCounts = await db.select({ hostId: diskGroups.hostId, n: count() }).from(diskGroups).groupBy(diskGroups.hostId);
  const volumeCounts = await db
    .select({ hostId: volumes.hostId, n: count(), bytes: sql<number>`coalesce(sum(${volumes.sizeBytes}), 0)`.mapWith(Number) })
    .from(volumes)
    .groupBy(volumes.hostId);
  const hostArrays = await db
    .selectDistinct({ hostId: volumes.hostId, arrayId: arrays.id, arrayName: arrays.name })
    .from(plexes)
    .innerJoin(volumes, eq(volumes.id, plexes.volumeId))
    .innerJoin(luns, eq(luns.id, plexes.lunId))
    .innerJoin(arrays, eq(arrays.id, luns.arrayId));
  return rows.map((host) => ({
    ...host,
    diskGroupCount: diskGroupCounts.find((row) => row.hostId === host.id)?.n ?? 0,
    volumeCount: volumeCounts.find((row) => row.hostId === host.id)?.n ?? 0,
    volumeBytes: volumeCounts.find((row) => row.hostId === host.id)?.bytes ?? 0,
    arrays: hostArrays.filter((row) => row.hostId === host.id).map(({ arrayId, arrayName }) => ({ id: arrayId, name: arrayName })),
  }));
}

/** One host with its storage stack: disk groups → volumes → plexes, each plex with its LUN and array. */
export async function getHost(db: Db, hostId: string) {
  const [host] = await db
    .select(hostColumns)
    .from(hosts)
    .where(eq(hosts.id, hostId));
  if (!host) throw new FleetError('not-found', `host ${hostId} does not exist`);
  const groups = await db.select().from(diskGroups).where(eq(diskGroups.hostId, hostId)).orderBy(asc(diskGroups.name));
  const hostVolumes = await db.select().from(volumes).where(eq(volumes.hostId, hostId)).orderBy(asc(volumes.name));
  const volumeIds = hostVolumes.map((volume) => volume.id);
  const hostPlexes = volumeIds.length
    ? await db
        .select({
          id: plexes.id,
          volumeId: plexes.volumeId,
          name: plexes.name,
          state: plexes.state,
          lunPath: plexes.lunPath,
          lunId: luns.id,
          lunName: luns.name,
          lunWwn: luns.wwn,
          arrayId: arrays.id,
          arrayName: arrays.name,
          arrayTier: arrays.tier,
        })
        .from(plexes)
        .leftJoin(luns, eq(luns.id, plexes.lunId))
        .leftJoin(arrays, eq(arrays.id, luns.arrayId))
        .where(inArray(plexes.volumeId, volumeIds))
        .orderBy(asc(plexes.name))
    : [];
  // The migration running on each volume, if any (at most one: createMigration refuses a second).
  const running = volumeIds.length
    ? await db
        .select({ id: migrations.id, volumeId: migrations.volumeId, state: migrations.state })
        .from(migrations)
        .where(and(inArray(migrations.volumeId, volumeIds), notInArray(migrations.state, [...TERMINAL_STATES])))
    : [];
  const mapped = await db
    .select({ lunId: luns.id, lunName: luns.name, wwn: luns.wwn, sizeBytes: luns.sizeBytes, arrayId: arrays.id, arrayName: arrays.name })
    .from(lunMappings)
    .innerJoin(luns, eq(luns.id, lunMappings.lunId))
    .innerJoin(arrays, eq(arrays.id, luns.arrayId))
    .where(eq(lunMappings.hostId, hostId))
    .orderBy(asc(arrays.name), asc(luns.name));
  return {
    ...host,
    mappedLuns: mapped,
    diskGroups: groups.map((group) => ({
      id: group.id,
      name: group.name,
      volumes: hostVolumes
        .filter((volume) => volume.diskGroupId === group.id)
        .map((volume) => ({
          id: volume.id,
          name: volume.name,
          sizeBytes: volume.sizeBytes,
          regionSizeBytes: volume.regionSizeBytes,
          nbdExport: volume.nbdExport,
          writeRateBytesPerS: volume.writeRateBytesPerS,
          writeRateP95BytesPerS: volume.writeRateP95BytesPerS,
          migration: running.find((migration) => migration.volumeId === volume.id) ?? null,
          plexes: hostPlexes.filter((plex) => plex.volumeId === volume.id).map(({ volumeId: _volumeId, ...plex }) => plex),
        })),
    })),
  };
}

export interface EventQuery {
  kind?: string;
  objectKind?: string;
  objectId?: string;
  severity?: 'info' | 'warning' | 'error';
  q?: string;
  /** Return events older than this id (cursor for the next page). */
  beforeId?: number;
  limit: number;
}

function eventFilter(input: Omit<EventQuery, 'limit' | 'beforeId'>): SQL | undefined {
  return and(
    input.kind ? or(eq(events.kind, input.kind), ilike(events.kind, `${input.kind}.%`)) : undefined,
    input.objectKind ? eq(events.objectKind, input.objectKind) : undefined,
    input.objectId ? eq(events.objectId, input.objectId) : undefined,
    input.severity ? eq(events.severity, input.severity) : undefined,
    input.q ? or(ilike(events.message, `%${input.q}%`), ilike(events.objectName, `%${input.q}%`), ilike(events.actorName, `%${input.q}%`)) : undefined,
  );
}

/** Events newest first, filtered, in pages of `limit` with a cursor. */
export async function listEvents(db: Db, input: EventQuery) {
  const rows = await db
    .select()
    .from(events)
    .where(and(eventFilter(input), input.beforeId ? lt(events.id, input.beforeId) : undefined))
    .orderBy(desc(events.id))
    .limit(input.limit + 1);
  const hasMore = rows.length > input.limit;
  const page = rows.slice(0, input.limit);
  return { events: page, nextCursor: hasMore ? page.at(-1)?.id : undefined };
}

export async function eventsAfter(db: Db, afterId: number, filter: Omit<EventQuery, 'limit' | 'beforeId'>, limit = 500) {
  return db
    .select()
    .from(events)
    .where(and(eventFilter(filter), sql`${events.id} > ${afterId}`))
    .orderBy(asc(events.id))
    .limit(limit);
}

export async function eventKinds(db: Db) {
  const rows = await db.selectDistinct({ kind: events.kind }).from(events).orderBy(asc(events.kind));
  return rows.map((row) => row.kind);
}

/** The overview's figures: arrays, host health, migrations and recent events. */
export async function overview(db: Db) {
  const arrayRows = await listArrays(db);
  const hostStates = await db.select({ state: hosts.state, n: count() }).from(hosts).groupBy(hosts.state);
  const migrationStates = await db.select({ state: migrations.state, n: count() }).from(migrations).groupBy(migrations.state);
  const recent = await listEvents(db, { limit: 10 });
  const attentionHosts = await db
    .select({ id: hosts.id, hostname: hosts.hostname, state: hosts.state, stateSince: hosts.stateSince, lastHeartbeatAt: hosts.lastHeartbeatAt })
    .from(hosts)
    .where(inArray(hosts.state, ['disconnected', 'fenced']))
    .orderBy(asc(hosts.stateSince));
  const hostCounts = { total: 0, pending: 0, connected: 0, disconnected: 0, fenced: 0 };
  for (const row of hostStates) {
    hostCounts[row.state] = row.n;
    hostCounts.total += row.n;
  }
  return {
    arrays: arrayRows,
    hosts: hostCounts,
    attentionHosts,
    migrations: Object.fromEntries(migrationStates.map((row) => [row.state, row.n])) as Record<string, number>,
    recentEvents: recent.events,
  };
}
