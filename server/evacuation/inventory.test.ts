/**
 * The planner's inventory read from a real database (PGlite with the real migrations): rows
 * inserted as the heartbeat and the engine write them, read back into a PlannerInput, then
 * planned end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, OpenDatabase } from '@/db/open';
import { arrayHostPaths, arrays, diskGroups, hosts, luns, migrationSamples, migrations, plexes, volumes } from '@/db/schema';
import { DEFAULT_COPY_RATE_BYTES_PER_S } from '@/server/fleet/strategy-model';
import { freshDatabase } from '@/test/db';
import { loadPlannerInput } from './inventory';
import { DEFAULT_LIMITS, type PlanConstraints } from './plan-types';
import { plan } from './planner';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const NOW = new Date('2026-11-28T10:00:00Z');
const SINCE = new Date('2026-11-28T09:12:00Z');
let opened: OpenDatabase;
let db: Db;
const ids: Record<string, string> = {};

async function array(name: string, tier: number, capacityBytes: number, allHosts = true) {
  const [row] = await db.insert(arrays).values({ name, vendor: 'Tern', model: 'test', tier, driver: 'directory', driverConfig: { path: `/nonexistent/${name}` }, capacityBytes, allHosts }).returning();
  ids[name] = row!.id;
}

async function lun(arrayName: string, name: string, sizeBytes: number) {
  const [row] = await db.insert(luns).values({ arrayId: ids[arrayName]!, name, wwn: `wwn-${arrayName}-${name}`, sizeBytes, path: `/nonexistent/${arrayName}/${name}` }).returning();
  ids[`${arrayName}/${name}`] = row!.id;
  return row!.id;
}

async function volume(hostname: string, name: string, sizeBytes: number, plexList: { array: string; state?: 'active' | 'detached' }[], writes: { now?: number; p95?: number } = {}) {
  const [row] = await db
    .insert(volumes)
    .values({
      hostId: ids[hostname]!,
      diskGroupId: ids[`${hostname}/dg`]!,
      name,
      sizeBytes,
      regionSizeBytes: 64 * 1024,
      nbdExport: `dg/${name}`,
      writeRateBytesPerS: writes.now ?? null,
      writeRateP95BytesPerS: writes.p95 ?? null,
    })
    .returning();
  ids[name] = row!.id;
  for (const [i, plex] of plexList.entries()) {
    const lunId = await lun(plex.array, `${hostname}-${name}-${i}`, sizeBytes);
    await db.insert(plexes).values({ volumeId: row!.id, name: `${name}-0${i + 1}`, lunId, lunPath: `/nonexistent/${name}-${i}`, state: plex.state ?? 'active' });
  }
  return row!.id;
}

function constraints(over: Partial<PlanConstraints> = {}): PlanConstraints {
  return {
    sourceArrayIds: [ids['ARR-03']!],
    targetArrayIds: null,
    allowLowerTier: false,
    placement: 'balance',
    overrides: {},
    excludedVolumeIds: [],
    strategy: 'auto',
    pauseBudgetMs: 100,
    order: 'smallest-first',
    expectedCopyRateBytesPerS: DEFAULT_COPY_RATE_BYTES_PER_S,
    ...over,
  };
}

beforeAll(async () => {
  opened = await freshDatabase();
  db = opened.db;
  await array('ARR-03', 2, 1024 * GiB);
  await array('ARR-05', 2, 100 * GiB, false);
  await array('ARR-07', 1, 1024 * GiB);
  for (const [hostname, state] of [
    ['db-01', 'connected'],
    ['app-33', 'disconnected'],
  ] as const) {
    const [host] = await db.insert(hosts).values({ hostname, state, stateSince: SINCE, credentialHash: 'x' }).returning();
    ids[hostname] = host!.id;
    const [dg] = await db.insert(diskGroups).values({ hostId: host!.id, name: 'dg' }).returning();
    ids[`${hostname}/dg`] = dg!.id;
  }
  await db.insert(arrayHostPaths).values({ arrayId: ids['ARR-05']!, hostId: ids['db-01']! });
  await lun('ARR-03', 'unused', 10 * GiB);

  await volume('db-01', 'vol-db01', 40 * GiB, [{ array: 'ARR-03' }], { now: 2 * MiB, p95: 5 * MiB });
  await volume('db-01', 'vol-redo', 8 * GiB, [{ array: 'ARR-03' }, { array: 'ARR-07' }]);
  await volume('db-01', 'vol-busy', 4 * GiB, [{ array: 'ARR-03' }]);
  await volume('app-33', 'vol-a', 2 * GiB, [{ array: 'ARR-03' }]);
  await volume('db-01', 'vol-elsewhere', GiB, [{ array: 'ARR-07' }]);
  // After a cutover the source plex stays, detached, until commit: not a plex of the volume any more.
  await volume('db-01', 'vol-cut', GiB, [{ array: 'ARR-07' }, { array: 'ARR-03', state: 'detached' }]);

  const [running] = await db
    .insert(migrations)
    .values({ volumeId: ids['vol-busy']!, sourceArrayId: ids['ARR-03'], targetArrayId: ids['ARR-07']!, strategy: 'precopy', state: 'copying', createdBy: 'test' })
    .returning();
  ids['migration'] = running!.id;
  const [done] = await db
    .insert(migrations)
    .values({ volumeId: ids['vol-db01']!, sourceArrayId: ids['ARR-07'], targetArrayId: ids['ARR-03']!, strategy: 'mirror', state: 'completed', createdBy: 'test' })
    .returning();
  // Ten unthrottled seconds at 300 MiB/s on the fleet, and throttled ones that do not count.
  await db.insert(migrationSamples).values(
    Array.from({ length: 14 }, (_, i) => ({
      migrationId: done!.id,
      at: new Date(NOW.getTime() - (i + 1) * 60_000),
      phase: 'copying',
      pass: 0,
      leftBytes: 0,
      copiedBytes: 0,
      copyRateBytesPerS: i < 10 ? 300 * MiB : 20 * MiB,
      writeRateBytesPerS: 0,
      throttleBytesPerS: i < 10 ? null : 20 * MiB,
    })),
  );
});

afterAll(async () => {
  await opened?.close();
});

describe('loadPlannerInput', () => {
  it('reads arrays with use and zoning, hosts with their state, and the volumes on the sources with every plex and migration', async () => {
    const input = await loadPlannerInput(db, constraints(), DEFAULT_LIMITS, NOW);
    expect(input.arrays.map((a) => [a.name, a.tier, a.usedBytes / GiB, a.allHosts, a.reachableHostIds, a.lunCount])).toEqual([
      ['ARR-03', 2, 10 + 40 + 8 + 4 + 2 + 1, true, [], 6],
      ['ARR-05', 2, 0, false, [ids['db-01']], 0],
      ['ARR-07', 1, 8 + 1 + 1, true, [], 3],
    ]);
    expect(input.hosts).toEqual([
      { id: ids['app-33'], hostname: 'app-33', state: 'disconnected', stateSince: SINCE.getTime() },
      { id: ids['db-01'], hostname: 'db-01', state: 'connected', stateSince: SINCE.getTime() },
    ]);
    const byName = new Map(input.volumes.map((v) => [v.name, v]));
    expect([...byName.keys()].sort()).toEqual(['vol-a', 'vol-busy', 'vol-db01', 'vol-redo']);
    expect(byName.get('vol-db01')).toMatchObject({
      hostId: ids['db-01'],
      diskGroup: 'dg',
      nbdExport: 'dg/vol-db01',
      sizeBytes: 40 * GiB,
      writeRateBytesPerS: 2 * MiB,
      writeRateP95BytesPerS: 5 * MiB,
      plexes: [{ lunId: ids['ARR-03/db-01-vol-db01-0'], lunName: 'db-01-vol-db01-0', arrayId: ids['ARR-03'] }],
      migrating: null,
    });
    expect(byName.get('vol-redo')!.plexes.map((p) => p.arrayId)).toEqual([ids['ARR-03'], ids['ARR-07']]);
    expect(byName.get('vol-busy')!.migrating).toEqual({ migrationId: ids['migration'], state: 'copying' });
    expect(input.constraints.copyRateBasis).toBe('default');
  });

  it('says the copy rate was measured when it is the fleet median of unthrottled samples', async () => {
    const input = await loadPlannerInput(db, constraints({ expectedCopyRateBytesPerS: 300 * MiB }), DEFAULT_LIMITS, NOW);
    expect(input.constraints.copyRateBasis).toBe('measured');
  });

  it('plans from it end to end', async () => {
    const result = plan(await loadPlannerInput(db, constraints(), DEFAULT_LIMITS, NOW));
    expect(result.sources).toEqual([{ arrayId: ids['ARR-03'], name: 'ARR-03', usedBytes: 65 * GiB, plexes: 4, volumes: 4, hosts: 2, luns: 6 }]);
    const moves = Object.fromEntries(result.moves.map((m) => [m.volumeName, m.targetArrayId]));
    // vol-db01 leaves the big ARR-07 least full; vol-redo cannot join its other plex there.
    expect(moves).toEqual({ 'vol-db01': ids['ARR-07'], 'vol-redo': ids['ARR-05'] });
    expect(result.cannotMove.map((c) => [c.nbdExport, c.code, c.reason])).toEqual([
      ['dg/vol-a', 'agent-offline', 'agent disconnected since 2026-11-28T09:12:00.000Z'],
      ['dg/vol-busy', 'already-migrating', `already migrating (migration ${ids['migration']} is copying)`],
    ]);
    expect(result.moves.find((m) => m.volumeName === 'vol-db01')!.strategyReason).toContain('default; no recent migration on this fleet');
  });
});
