/**
 * The fleet's list queries over a real database: `hosts.list` pages, searches, filters, sorts and
 * counts in SQL and rolls up only the page's hosts; `arrays.list` rolls capacity, LUN and host
 * counts up per array. Called through the tRPC router where the input's validation matters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenDatabase } from '@/db/open';
import { arrays, diskGroups, hosts, lunMappings, luns, plexes, sessions, volumes } from '@/db/schema';
import { appRouter } from '@/server/api/root';
import { createContext } from '@/server/api/trpc';
import { SECURE_COOKIE } from '@/server/auth/cookies';
import { randomSecret, sha256 } from '@/server/auth/secrets';
import { createUser } from '@/server/auth/sessions';
import { freshDatabase } from '@/test/db';
import { recordEvent } from '@/server/events/log';
import { getArray, listArrays } from './queries';

const GiB = 1024 ** 3;
let database: OpenDatabase;
let caller: ReturnType<typeof appRouter.createCaller>;
const arrayIds: Record<string, string> = {};
const hostIds: Record<string, string> = {};

type Seeded = { hostname: string; state: 'pending' | 'connected' | 'disconnected' | 'fenced'; heartbeatAgoS: number | null; agentVersion: string | null };

/** 60 ordinary hosts and a few whose names and states the tests pick on. */
const seededHosts: Seeded[] = [
  ...Array.from({ length: 60 }, (_, n): Seeded => ({ hostname: `host-${String(n).padStart(3, '0')}`, state: 'connected', heartbeatAgoS: n % 10, agentVersion: n % 2 ? '1.4.0' : '1.3.9' })),
  { hostname: 'db_1', state: 'disconnected', heartbeatAgoS: 40, agentVersion: '1.4.0' },
  { hostname: 'db%2', state: 'fenced', heartbeatAgoS: 400, agentVersion: '1.2.0' },
  { hostname: 'db-10', state: 'connected', heartbeatAgoS: 1, agentVersion: '1.4.0' },
  { hostname: 'DB-11', state: 'disconnected', heartbeatAgoS: 90, agentVersion: null },
  { hostname: 'new-host', state: 'pending', heartbeatAgoS: null, agentVersion: null },
];
const hostnames = seededHosts.map((host) => host.hostname);
/** Order-free comparison, for hosts whose relative order is up to the database's collation. */
const set = (list: string[]) => [...list].sort();
/** Every hostname in the database's own order, which `sort: 'hostname'` follows. */
let inHostnameOrder: string[];

beforeAll(async () => {
  database = await freshDatabase();
  const { db } = database;
  const now = Date.now();
  for (const name of ['A2', 'A1', 'A3-empty']) {
    const [row] = await db.insert(arrays).values({ name, vendor: 'Kestrel', model: 'KX', tier: 1, driver: 'directory', driverConfig: { path: `/nowhere/${name}` }, capacityBytes: 100 * GiB }).returning();
    arrayIds[name] = row!.id;
  }
  const rows = await db
    .insert(hosts)
    .values(
      seededHosts.map((host) => ({
        hostname: host.hostname,
        state: host.state,
        lastHeartbeatAt: host.heartbeatAgoS === null ? null : new Date(now - host.heartbeatAgoS * 1000),
        agentVersion: host.agentVersion,
        credentialHash: sha256(host.hostname),
      })),
    )
    .returning();
  for (const row of rows) hostIds[row.hostname] = row.id;
  inHostnameOrder = (await db.select({ hostname: hosts.hostname }).from(hosts).orderBy(hosts.hostname)).map((row) => row.hostname);

  // host-000: two disk groups, three volumes, plexes on A1 and A2 (a mirror); db-10: one volume on A2.
  const lun = async (arrayName: string, name: string, sizeBytes: number) =>
    (await db.insert(luns).values({ arrayId: arrayIds[arrayName]!, name, wwn: `wwn-${name}`, sizeBytes, path: `/nowhere/${name}` }).returning())[0]!;
  const [dgA, dgB, dgC] = await db
    .insert(diskGroups)
    .values([
      { hostId: hostIds['host-000']!, name: 'dg-a' },
      { hostId: hostIds['host-000']!, name: 'dg-b' },
      { hostId: hostIds['db-10']!, name: 'dg' },
    ])
    .returning();
  const volume = async (hostname: string, diskGroupId: string, name: string, sizeBytes: number) =>
    (await db.insert(volumes).values({ hostId: hostIds[hostname]!, diskGroupId, name, sizeBytes, regionSizeBytes: 65536, nbdExport: name }).returning())[0]!;
  const v1 = await volume('host-000', dgA!.id, 'v1', GiB);
  const v2 = await volume('host-000', dgA!.id, 'v2', 2 * GiB);
  await volume('host-000', dgB!.id, 'v3', 4 * GiB);
  const v4 = await volume('db-10', dgC!.id, 'v4', GiB);
  const l1 = await lun('A1', 'l1', GiB);
  const l2 = await lun('A2', 'l2', GiB);
  const l3 = await lun('A2', 'l3', 2 * GiB);
  const l4 = await lun('A2', 'l4', GiB);
  await db.insert(plexes).values([
    { volumeId: v1.id, name: 'p0', lunId: l1.id, lunPath: l1.path, state: 'active' },
    { volumeId: v1.id, name: 'p1', lunId: l2.id, lunPath: l2.path, state: 'active' },
    { volumeId: v2.id, name: 'p0', lunId: l3.id, lunPath: l3.path, state: 'active' },
    { volumeId: v4.id, name: 'p0', lunId: l4.id, lunPath: l4.path, state: 'active' },
  ]);
  // l3 is mapped to two hosts; A2's host count is the distinct hosts over its LUNs' mappings.
  await db.insert(lunMappings).values([
    { lunId: l1.id, hostId: hostIds['host-000']! },
    { lunId: l2.id, hostId: hostIds['host-000']! },
    { lunId: l3.id, hostId: hostIds['host-000']! },
    { lunId: l3.id, hostId: hostIds['host-001']! },
    { lunId: l4.id, hostId: hostIds['db-10']! },
  ]);

  const admin = await createUser(db, { username: 'lists-admin', password: 'lists-admin-password', role: 'viewer' }, null);
  const token = randomSecret();
  await db.insert(sessions).values({ idHash: sha256(token), userId: admin.id, expiresAt: new Date(now + 3_600_000) });
  caller = appRouter.createCaller(await createContext({ db, headers: new Headers({ cookie: `${SECURE_COOKIE}=${token}` }), secure: true, resHeaders: new Headers() }));
});

afterAll(async () => {
  await database?.close();
});

const names = (page: { hosts: { hostname: string }[] }) => page.hosts.map((host) => host.hostname);

describe('hosts.list', () => {
  it('answers no input with the first 50 hosts by hostname, the total and the fleet by state', async () => {
    const page = await caller.hosts.list();
    expect(page).toMatchObject({ total: 65, page: 1, pageSize: 50, stateCounts: { connected: 61, disconnected: 2, fenced: 1, pending: 1 } });
    expect(names(page)).toEqual(inHostnameOrder.slice(0, 50));
  });

  it('pages through every host exactly once', async () => {
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const result = await caller.hosts.list({ page, pageSize: 25 });
      expect(result).toMatchObject({ total: 65, page, pageSize: 25 });
      expect(result.hosts).toHaveLength(page < 3 ? 25 : 15);
      seen.push(...names(result));
    }
    expect(seen).toEqual(inHostnameOrder);
    expect(set(seen)).toEqual(set(hostnames));
    expect(await caller.hosts.list({ page: 4, pageSize: 25 })).toMatchObject({ total: 65, hosts: [] });
  });

  it('searches hostnames case-insensitively, with % and _ taken literally', async () => {
    const db = await caller.hosts.list({ q: 'db' });
    expect(set(names(db))).toEqual(set(['db%2', 'db_1', 'db-10', 'DB-11']));
    expect(db.total).toBe(4);
    expect(names(await caller.hosts.list({ q: '_' }))).toEqual(['db_1']);
    expect(names(await caller.hosts.list({ q: '%' }))).toEqual(['db%2']);
    expect(await caller.hosts.list({ q: '  HOST-05 ' })).toMatchObject({ total: 10 });
    expect(await caller.hosts.list({ q: 'nothing-like-this' })).toMatchObject({ total: 0, hosts: [], stateCounts: { connected: 61 } });
  });

  it('filters by state, "attention" being disconnected or fenced, and counts what matches', async () => {
    const attention = await caller.hosts.list({ state: 'attention' });
    expect(set(names(attention))).toEqual(set(['db%2', 'db_1', 'DB-11']));
    expect(attention.total).toBe(3);
    expect(attention.stateCounts).toEqual({ connected: 61, disconnected: 2, fenced: 1, pending: 1 });
    expect(names(await caller.hosts.list({ state: 'pending' }))).toEqual(['new-host']);
    expect(names(await caller.hosts.list({ state: 'disconnected', q: 'db-' }))).toEqual(['DB-11']);
  });

  it('filters by the array a host has a plex on', async () => {
    expect(set(names(await caller.hosts.list({ arrayId: arrayIds.A2 })))).toEqual(['db-10', 'host-000']);
    expect(names(await caller.hosts.list({ arrayId: arrayIds.A1 }))).toEqual(['host-000']);
    expect(await caller.hosts.list({ arrayId: arrayIds['A3-empty'] })).toMatchObject({ total: 0, hosts: [] });
  });

  it('sorts by state worst first, by heartbeat and by version, ties by hostname, empty values last', async () => {
    const byState = names(await caller.hosts.list({ sort: 'state', pageSize: 100 }));
    expect(byState[0]).toBe('db%2');
    expect(set(byState.slice(1, 3))).toEqual(set(['db_1', 'DB-11']));
    expect(byState[3]).toBe('new-host');
    expect(byState.slice(4)).toEqual(inHostnameOrder.filter((hostname) => seededHosts.find((host) => host.hostname === hostname)?.state === 'connected'));
    const byStateDesc = names(await caller.hosts.list({ sort: 'state', direction: 'desc', pageSize: 100 }));
    expect(byStateDesc.slice(0, 61)).toEqual(byState.slice(4));
    expect(byStateDesc[61]).toBe('new-host');
    expect(byStateDesc.at(-1)).toBe('db%2');

    const oldestFirst = await caller.hosts.list({ sort: 'heartbeat', pageSize: 100 });
    expect(names(oldestFirst).slice(0, 3)).toEqual(['db%2', 'DB-11', 'db_1']);
    expect(names(oldestFirst).at(-1)).toBe('new-host');
    const newestFirst = names(await caller.hosts.list({ sort: 'heartbeat', direction: 'desc', pageSize: 100 }));
    // Six hosts heartbeated at the same instant (ties by hostname), then db-10 a second before.
    expect(newestFirst.slice(0, 7)).toEqual(['host-000', 'host-010', 'host-020', 'host-030', 'host-040', 'host-050', 'db-10']);
    expect(newestFirst.at(-1)).toBe('new-host');

    const byVersion = names(await caller.hosts.list({ sort: 'version', pageSize: 100 }));
    expect(byVersion[0]).toBe('db%2');
    expect(set(byVersion.slice(-2))).toEqual(set(['DB-11', 'new-host']));
  });

  it('rolls up disk groups, volumes and arrays for the hosts on the page', async () => {
    const page = await caller.hosts.list({ q: 'host-00', pageSize: 25 });
    const first = page.hosts.find((host) => host.hostname === 'host-000');
    expect(first).toMatchObject({ id: hostIds['host-000'], state: 'connected', diskGroupCount: 2, volumeCount: 3, volumeBytes: 7 * GiB, agentVersion: '1.3.9' });
    expect(first?.arrays).toEqual([
      { id: arrayIds.A1, name: 'A1' },
      { id: arrayIds.A2, name: 'A2' },
    ]);
    expect(first?.stateSince).toBeInstanceOf(Date);
    expect(first?.lastHeartbeatAt).toBeInstanceOf(Date);
    expect(page.hosts.find((host) => host.hostname === 'host-001')).toMatchObject({ diskGroupCount: 0, volumeCount: 0, volumeBytes: 0, arrays: [] });
    expect((await caller.hosts.list({ q: 'db-10' })).hosts[0]).toMatchObject({ diskGroupCount: 1, volumeCount: 1, volumeBytes: GiB, arrays: [{ id: arrayIds.A2, name: 'A2' }] });
  });

  it('refuses a page size other than 25, 50 or 100, a page below 1 and an unknown sort, saying which', async () => {
    await expect(caller.hosts.list({ pageSize: 7 as 25 })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('pageSize is 25, 50 or 100') });
    await expect(caller.hosts.list({ page: 0 })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('page counts from 1') });
    await expect(caller.hosts.list({ page: 1.5 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(caller.hosts.list({ sort: 'volumes' as 'state' })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('sort') });
    await expect(caller.hosts.list({ state: 'asleep' as 'pending' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(caller.hosts.list({ q: 'x'.repeat(101) })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('arrays.list', () => {
  it('rolls up provisioned bytes, LUNs and distinct mapped hosts per array, zero for an empty one', async () => {
    const listed = await listArrays(database.db);
    expect(listed.map((array) => array.name)).toEqual(['A1', 'A2', 'A3-empty']);
    expect(listed[0]).toMatchObject({ provisionedBytes: GiB, lunCount: 1, hostCount: 1, freeBytes: 99 * GiB });
    expect(listed[1]).toMatchObject({ provisionedBytes: 4 * GiB, lunCount: 3, hostCount: 3, freeBytes: 96 * GiB });
    expect(listed[2]).toMatchObject({ provisionedBytes: 0, lunCount: 0, hostCount: 0, freeBytes: 100 * GiB });
    expect(await getArray(database.db, arrayIds.A2!)).toMatchObject({ ...listed[1], driverConfig: { path: '/nowhere/A2' } });
    expect(await caller.arrays.list()).toEqual(listed);
  });

  it('shares one rollup among callers close together, and shows an array or LUN change at once', async () => {
    const { db } = database;
    const [first, second] = await Promise.all([listArrays(db), listArrays(db)]);
    expect(second).toBe(first);
    // A row written behind the console's back (no event) is not seen within the reuse window…
    await db.insert(luns).values({ arrayId: arrayIds['A3-empty']!, name: 'quiet', wwn: '60000000000000000000000000000a01', sizeBytes: GiB, path: '/nowhere/A3-empty/quiet' });
    expect((await listArrays(db)).find((array) => array.name === 'A3-empty')?.lunCount).toBe(0);
    // …but every change the console makes publishes its event (here lun.created), and the next list has it.
    await recordEvent(db, { kind: 'lun.created', actor: { kind: 'user', id: 'u-test', name: 'tester' }, object: { kind: 'lun', name: 'A3-empty/quiet' }, message: 'LUN A3-empty/quiet created' });
    expect((await listArrays(db)).find((array) => array.name === 'A3-empty')).toMatchObject({ lunCount: 1, provisionedBytes: GiB });
  });
});
