import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, OpenDatabase } from '@/db/open';
import { arrayHostPaths, events, lunMappings, migrations, volumes } from '@/db/schema';
import { createMigration } from '@/server/engine/create';
import type { Actor } from '@/server/events/log';
import { freshDatabase } from '@/test/db';
import { createArray, createLun, mapLun } from './arrays';
import { createEnrolmentToken, enrolHost, recordHeartbeat } from './hosts';
import { arrayReach, canReach, reachableArrays, setArrayReach } from './reachability';

const MiB = 1024 ** 2;
const actor: Actor = { kind: 'user', id: 'u-admin', name: 'admin' };
let opened: OpenDatabase;
let db: Db;
let root: string;
const arrayIds: Record<string, string> = {};
const hostIds: Record<string, string> = {};
const headers: Record<string, string> = {};

beforeAll(async () => {
  opened = await freshDatabase();
  db = opened.db;
  root = await mkdtemp(path.join(os.tmpdir(), 'tern-reach-'));
  for (const name of ['ARR-01', 'ARR-04']) {
    const array = await createArray(db, actor, { name, vendor: 'V', model: 'M', tier: name === 'ARR-04' ? 3 : 1, capacityBytes: 256 * MiB, driver: { kind: 'directory', path: path.join(root, name) } });
    arrayIds[name] = array.id;
  }
  for (const hostname of ['db-01', 'app-01']) {
    const { token } = await createEnrolmentToken(db, { label: hostname, createdBy: 'admin' });
    const enrolled = await enrolHost(db, { token, hostname, agentUrl: 'http://127.0.0.1:1', agentVersion: '0.1.0' });
    hostIds[hostname] = enrolled.hostId;
    headers[hostname] = `Bearer ${enrolled.hostId}.${enrolled.credential}`;
  }
});
afterAll(async () => {
  await opened?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

const eventCount = async (kind: string) => (await db.select({ n: count() }).from(events).where(eq(events.kind, kind)))[0]?.n ?? 0;

describe('array reachability', () => {
  it('reaches every array by default', async () => {
    expect(await reachableArrays(db, hostIds['db-01']!)).toEqual(new Set([arrayIds['ARR-01'], arrayIds['ARR-04']]));
    expect(await canReach(db, hostIds['app-01']!, arrayIds['ARR-04']!)).toBe(true);
    expect(await arrayReach(db, arrayIds['ARR-04']!)).toEqual({ allHosts: true });
  });

  it('zones an array to some hosts with one audit event, and an unchanged zoning writes nothing', async () => {
    await setArrayReach(db, actor, arrayIds['ARR-04']!, { allHosts: false, hostIds: [hostIds['db-01']!] });
    expect(await canReach(db, hostIds['db-01']!, arrayIds['ARR-04']!)).toBe(true);
    expect(await canReach(db, hostIds['app-01']!, arrayIds['ARR-04']!)).toBe(false);
    expect(await reachableArrays(db, hostIds['app-01']!)).toEqual(new Set([arrayIds['ARR-01']]));
    expect(await arrayReach(db, arrayIds['ARR-04']!)).toEqual({ allHosts: false, hosts: [{ id: hostIds['db-01'], hostname: 'db-01' }] });
    const [event] = await db.select().from(events).where(eq(events.kind, 'array.reach-changed'));
    expect(event).toMatchObject({ actorName: 'admin', objectName: 'ARR-04', message: 'array ARR-04 is reachable only from db-01', before: { allHosts: true } });

    await setArrayReach(db, actor, arrayIds['ARR-04']!, { allHosts: false, hostIds: [hostIds['db-01']!] });
    expect(await eventCount('array.reach-changed')).toBe(1);
  });

  it('refuses zoning to an unknown host and changes nothing', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    await expect(setArrayReach(db, actor, arrayIds['ARR-04']!, { allHosts: false, hostIds: [unknown] })).rejects.toThrow(`no host with id ${unknown}`);
    expect(await db.select().from(arrayHostPaths)).toEqual([expect.objectContaining({ arrayId: arrayIds['ARR-04'], hostId: hostIds['db-01'] })]);
  });

  it('refuses to map a LUN of an array the host cannot reach, before asking the array or the agent', async () => {
    await recordHeartbeat(db, headers['app-01'], { agentUrl: 'http://127.0.0.1:1', agentVersion: '0.1.0', inventory: { luns: [], diskGroups: [] } });
    const lun = await createLun(db, actor, { arrayId: arrayIds['ARR-04']!, name: 'l-app', sizeBytes: 16 * MiB });
    await expect(mapLun(db, actor, { lunId: lun.id, hostId: hostIds['app-01']! })).rejects.toThrow(
      'array ARR-04 is not reachable from host app-01 (no path); zone the array to the host before mapping its LUNs',
    );
    expect(await db.select().from(lunMappings)).toEqual([]);
  });

  it('refuses a migration to an unreachable target and changes nothing', async () => {
    const source = await createLun(db, actor, { arrayId: arrayIds['ARR-01']!, name: 'l-src', sizeBytes: 16 * MiB });
    await recordHeartbeat(db, headers['app-01'], {
      agentUrl: 'http://127.0.0.1:1',
      agentVersion: '0.1.0',
      inventory: {
        luns: [],
        diskGroups: [{ name: 'appdg', volumes: [{ name: 'vol-app01', sizeBytes: 16 * MiB, regionSizeBytes: 65536, nbdExport: 'appdg/vol-app01', plexes: [{ name: 'vol-app01-01', lunId: source.id, lunPath: '/x', state: 'active' }] }] }],
      },
    });
    const [volume] = await db.select().from(volumes).where(eq(volumes.hostId, hostIds['app-01']!));
    const before = await eventCount('migration.created');
    await expect(
      createMigration(db, actor, { volumeId: volume!.id, targetArrayId: arrayIds['ARR-04']!, strategy: 'mirror', cutoverPolicy: { mode: 'auto', commit: 'auto' } }),
    ).rejects.toThrow('target array ARR-04 is not reachable from host app-01 (no path); choose an array zoned to it');
    expect(await db.select().from(migrations)).toEqual([]);
    expect(await eventCount('migration.created')).toBe(before);

    await setArrayReach(db, actor, arrayIds['ARR-04']!, { allHosts: true });
    expect(await db.select().from(arrayHostPaths)).toEqual([]);
    const created = await createMigration(db, actor, { volumeId: volume!.id, targetArrayId: arrayIds['ARR-04']!, strategy: 'mirror', cutoverPolicy: { mode: 'auto', commit: 'auto' } });
    expect(created.state).toBe('queued');
  });
});
