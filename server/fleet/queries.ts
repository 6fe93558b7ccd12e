import 'server-only';
import { and, asc, count, desc, eq, ilike, inArray, lt, notInArray, or, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrays, diskGroups, events, hosts, lunMappings, luns, migrations, plexes, volumes } from '@/db/schema';
import { TERMINAL_STATES } from '@/server/engine/migration-states';
import { bus } from '@/server/events/bus';
import { FleetError } from './errors';

/**
 * Every array (or the one named) with capacity figures computed from its LUNs, and its LUN and
 * host counts. Each rollup is one grouped aggregate over all LUNs or mappings, joined to the
 * arrays afterwards, rather than a join of every LUN to its array that is then grouped. On
 * PostgreSQL the capacity rollup is an index-only scan of `luns_array_size_idx` (PGlite has no
 * autovacuum to keep the visibility map that needs, so it reads the table); the host count has to
 * join every mapping to its LUN and is what the list costs at 100,000 LUNs.
 */
function arrayRollups(db: Db, arrayId?: string) {
  const lunTotals = db.$with('lun_totals').as(
    db
      .select({ arrayId: luns.arrayId, lunCount: count().as('lun_count'), provisionedBytes: sql<string>`sum(${luns.sizeBytes})`.as('provisioned_bytes') })
      .from(luns)
      .where(arrayId ? eq(luns.arrayId, arrayId) : undefined)
      .groupBy(luns.arrayId),
  );
  const hostTotals = db.$with('host_totals').as(
    db
      .select({ arrayId: luns.arrayId, hostCount: sql<number>`count(distinct ${lunMappings.hostId})`.as('host_count') })
      .from(lunMappings)
      .innerJoin(luns, eq(luns.id, lunMappings.lunId))
      .where(arrayId ? eq(luns.arrayId, arrayId) : undefined)
      .groupBy(luns.arrayId),
  );
  return db
    .with(lunTotals, hostTotals)
    .select({
      id: arrays.id,
      name: arrays.name,
      vendor: arrays.vendor,
      model: arrays.model,
      tier: arrays.tier,
      driver: arrays.driver,
      state: arrays.state,
      capacityBytes: arrays.capacityBytes,
      provisionedBytes: sql<number>`coalesce(${lunTotals.provisionedBytes}, 0)`.mapWith(Number),
      lunCount: sql<number>`coalesce(${lunTotals.lunCount}, 0)`.mapWith(Number),
      hostCount: sql<number>`coalesce(${hostTotals.hostCount}, 0)`.mapWith(Number),
    })
    .from(arrays)
    .leftJoin(lunTotals, eq(lunTotals.arrayId, arrays.id))
    .leftJoin(hostTotals, eq(hostTotals.arrayId, arrays.id))
    .where(arrayId ? eq(arrays.id, arrayId) : undefined)
    .orderBy(asc(arrays.name));
}

const withFreeBytes = <T extends { capacityBytes: number; provisionedBytes: number }>(row: T) => ({ ...row, freeBytes: Math.max(0, row.capacityBytes - row.provisionedBytes) });

/** How long the array list's rollup is reused: it aggregates every LUN and mapping of the fleet. */
export const ARRAY_LIST_TTL_MS = 2_000;

type ArrayList = Awaited<ReturnType<typeof computeArrayList>>;
interface ArrayListCache {
  entries: WeakMap<Db, { at: number; generation: number; rows: Promise<ArrayList> }>;
  /** Bumped by every array or LUN event (created, deleted, mapped, state or reach changed; here or, through the relay, on another replica), so a change is never shown late. */
  generation: number;
}
const arrayLists = ((globalThis as unknown as { ternArrayLists?: ArrayListCache }).ternArrayLists ??= (() => {
  const cache: ArrayListCache = { entries: new WeakMap(), generation: 0 };
  bus.subscribe('event', (event) => {
    if (event.kind.startsWith('array.') || event.kind.startsWith('lun.')) cache.generation += 1;
  });
  return cache;
})());

async function computeArrayList(db: Db) {
  return (await arrayRollups(db)).map(withFreeBytes);
}

/**
 * Every array with capacity figures computed from its LUNs, and its LUN and host counts. The
 * rollup reads every LUN and mapping (100,000 of each took 50–90 ms on PostgreSQL), so callers
 * within ARRAY_LIST_TTL_MS of one another share one computation, and any array or LUN event
 * drops it.
 */
export async function listArrays(db: Db): Promise<ArrayList> {
  const cached = arrayLists.entries.get(db);
  if (cached && cached.generation === arrayLists.generation && Date.now() - cached.at < ARRAY_LIST_TTL_MS) return cached.rows;
  const rows = computeArrayList(db);
  arrayLists.entries.set(db, { at: Date.now(), generation: arrayLists.generation, rows });
  rows.catch(() => arrayLists.entries.delete(db));
  return rows;
}

export async function getArray(db: Db, arrayId: string) {
  const [array] = await arrayRollups(db, arrayId);
  if (!array) throw new FleetError('not-found', `array ${arrayId} does not exist`);
  const [row] = await db.select({ driverConfig: arrays.driverConfig, createdAt: arrays.createdAt }).from(arrays).where(eq(arrays.id, arrayId));
  return { ...withFreeBytes(array), driverConfig: row?.driverConfig ?? {}, createdAt: row?.createdAt ?? null };
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
  // The count and the page, then the page's mappings and users, each pair at once: under load
  // every query waits its turn for a connection, so four in a row wait four times.
  const [[total], page] = await Promise.all([
    db.select({ value: count() }).from(luns).where(filter),
    db
      .select()
      .from(luns)
      .where(filter)
      .orderBy(input.direction === 'asc' ? asc(order) : desc(order), asc(luns.id))
      .limit(input.pageSize)
      .offset((input.page - 1) * input.pageSize),
  ]);
  const ids = page.map((lun) => lun.id);
  const [mappings, users] = await Promise.all([
    ids.length
      ? db
          .select({ lunId: lunMappings.lunId, hostId: hosts.id, hostname: hosts.hostname, hostState: hosts.state })
          .from(lunMappings)
          .innerJoin(hosts, eq(hosts.id, lunMappings.hostId))
          .where(inArray(lunMappings.lunId, ids))
      : [],
    ids.length
      ? db
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
      : [],
  ]);
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

export const HOST_SORTS = ['hostname', 'state', 'heartbeat', 'version'] as const;
export type HostSort = (typeof HOST_SORTS)[number];
/** A host state, or `attention`: disconnected or fenced (docs/ui.md §3.5's "Needs attention" facet). */
export const HOST_STATE_FILTERS = ['connected', 'disconnected', 'fenced', 'pending', 'attention'] as const;
export type HostStateFilter = (typeof HOST_STATE_FILTERS)[number];
type HostState = (typeof hosts.state.enumValues)[number];

export interface HostPageInput {
  /** A fragment of the hostname, matched literally and case-insensitively. */
  q?: string;
  state?: HostStateFilter;
  /** Only hosts with a plex on this array. */
  arrayId?: string;
  page: number;
  pageSize: 25 | 50 | 100;
  sort: HostSort;
  direction: 'asc' | 'desc';
}

/** `%` and `_` in a search are characters to find, not wildcards. */
const containing = (text: string) => `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

function hostFilter(db: Db, input: Omit<HostPageInput, 'page' | 'pageSize' | 'sort' | 'direction'>): SQL | undefined {
  return and(
    input.q ? ilike(hosts.hostname, containing(input.q)) : undefined,
    input.state === 'attention' ? inArray(hosts.state, ['disconnected', 'fenced']) : input.state ? eq(hosts.state, input.state) : undefined,
    input.arrayId
      ? inArray(
          hosts.id,
          db
            .select({ hostId: volumes.hostId })
            .from(plexes)
            .innerJoin(luns, eq(luns.id, plexes.lunId))
            .innerJoin(volumes, eq(volumes.id, plexes.volumeId))
            .where(eq(luns.arrayId, input.arrayId)),
        )
      : undefined,
  );
}

/** The sort as ORDER BY terms over `columns` (the hosts table, or the page drawn from it); ties go by hostname. */
function hostOrder(input: Pick<HostPageInput, 'sort' | 'direction'>, columns: { hostname: SQLWrapper; state: SQLWrapper; lastHeartbeatAt: SQLWrapper; agentVersion: SQLWrapper }): SQL[] {
  const direction = input.direction === 'asc' ? sql`asc` : sql`desc`;
  if (input.sort === 'hostname') return [sql`${columns.hostname} ${direction}`];
  const key = {
    // Worst first when ascending, as the hosts page lists them.
    state: sql`case ${columns.state} when 'fenced' then 0 when 'disconnected' then 1 when 'pending' then 2 else 3 end`,
    heartbeat: columns.lastHeartbeatAt,
    version: columns.agentVersion,
  }[input.sort];
  return [sql`${key} ${direction} nulls last`, sql`${columns.hostname} asc`];
}

/**
 * One page of hosts, filtered, sorted and counted in SQL, each with its disk group and volume
 * counts and the arrays its plexes live on. The page is chosen first (a subquery with its
 * LIMIT) and only its hosts are rolled up, through lateral joins, so the cost of a page does not
 * grow with the fleet's volumes and LUNs. `stateCounts` covers the whole fleet, unfiltered.
 */
export async function listHosts(db: Db, input: HostPageInput) {
  const filter = hostFilter(db, input);
  const page = db
    .select(hostColumns)
    .from(hosts)
    .where(filter)
    .orderBy(...hostOrder(input, hosts))
    .limit(input.pageSize)
    .offset((input.page - 1) * input.pageSize)
    .as('page');
  const groupCounts = db
    .select({ n: count().as('disk_group_count') })
    .from(diskGroups)
    .where(eq(diskGroups.hostId, page.id))
    .as('group_counts');
  const volumeTotals = db
    .select({ n: count().as('volume_count'), bytes: sql<string>`coalesce(sum(${volumes.sizeBytes}), 0)`.as('volume_bytes') })
    .from(volumes)
    .where(eq(volumes.hostId, page.id))
    .as('volume_totals');
  const hostArrays = db
    .select({
      list: sql<{ id: string; name: string }[] | string>`coalesce(json_agg(json_build_object('id', ${arrays.id}, 'name', ${arrays.name}) order by ${arrays.name}), '[]'::json)`.as('array_list'),
    })
    .from(arrays)
    .where(
      inArray(
        arrays.id,
        db
          .select({ arrayId: luns.arrayId })
          .from(plexes)
          .innerJoin(volumes, eq(volumes.id, plexes.volumeId))
          .innerJoin(luns, eq(luns.id, plexes.lunId))
          .where(eq(volumes.hostId, page.id)),
      ),
    )
    .as('host_arrays');
  const [rows, counts] = await Promise.all([
    db
      .select({
        id: page.id,
        hostname: page.hostname,
        state: page.state,
        stateSince: page.stateSince,
        lastHeartbeatAt: page.lastHeartbeatAt,
        agentVersion: page.agentVersion,
        agentUrl: page.agentUrl,
        enrolledAt: page.enrolledAt,
        diskGroupCount: groupCounts.n,
        volumeCount: volumeTotals.n,
        volumeBytes: volumeTotals.bytes,
        arrays: hostArrays.list,
      })
      .from(page)
      .leftJoinLateral(groupCounts, sql`true`)
      .leftJoinLateral(volumeTotals, sql`true`)
      .leftJoinLateral(hostArrays, sql`true`)
      .orderBy(...hostOrder(input, page)),
    db
      .select({ state: hosts.state, n: count(), matching: sql<number>`count(*) filter (where ${filter ?? sql`true`})`.mapWith(Number) })
      .from(hosts)
      .groupBy(hosts.state),
  ]);
  const stateCounts: Record<HostState, number> = { pending: 0, connected: 0, disconnected: 0, fenced: 0 };
  for (const row of counts) stateCounts[row.state] = row.n;
  return {
    total: counts.reduce((sum, row) => sum + row.matching, 0),
    page: input.page,
    pageSize: input.pageSize,
    stateCounts,
    hosts: rows.map((row) => ({
      ...row,
      diskGroupCount: Number(row.diskGroupCount ?? 0),
      volumeCount: Number(row.volumeCount ?? 0),
      volumeBytes: Number(row.volumeBytes ?? 0),
      // PGlite and postgres-js both parse json columns; the text form is kept in case a driver does not.
      arrays: typeof row.arrays === 'string' ? (JSON.parse(row.arrays) as { id: string; name: string }[]) : (row.arrays ?? []),
    })),
  };
}

/** Every host's live fields (no rollups), for the `hosts.onChange` replay after a reconnect. */
export async function listHostStates(db: Db) {
  return db.select(hostColumns).from(hosts).orderBy(asc(hosts.hostname));
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
