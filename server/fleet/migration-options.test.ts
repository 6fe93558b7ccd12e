import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, OpenDatabase } from '@/db/open';
import { arrays, migrationSamples, migrations, volumes } from '@/db/schema';
import { createCaller } from '@/server/api/root';
import type { Actor } from '@/server/events/log';
import { freshDatabase } from '@/test/db';
import { createArray, createLun } from './arrays';
import { createEnrolmentToken, enrolHost, recordHeartbeat } from './hosts';
import { hostCopyRate } from './migration-options';
import { setArrayReach } from './reachability';
import { DEFAULT_COPY_RATE_BYTES_PER_S } from './strategy-model';

const MiB = 1024 ** 2;
const actor: Actor = { kind: 'system', name: 'test' };
let opened: OpenDatabase;
let db: Db;
let root: string;
let hostId: string;
let header: string;
let volumeId: string;
const arrayIds: Record<string, string> = {};
const viewer = () => createCaller({ db, user: { id: 'u-viewer', username: 'viewer', role: 'viewer' }, sessionToken: undefined, secure: false });

beforeAll(async () => {
  opened = await freshDatabase();
  db = opened.db;
  root = await mkdtemp(path.join(os.tmpdir(), 'tern-options-'));
  // ARR-01 holds the volume; ARR-02 has room; ARR-03 will be nearly full after; ARR-04 is a lower
  // tier zoned elsewhere; ARR-05 is too small; ARR-06 is offline.
  const specs = [
    ['ARR-01', 2, 1024],
    ['ARR-02', 1, 1024],
    ['ARR-03', 2, 300],
    ['ARR-04', 3, 1024],
    ['ARR-05', 2, 128],
    ['ARR-06', 1, 1024],
  ] as const;
  for (const [name, tier, capacityMiB] of specs) {
    const array = await createArray(db, actor, { name, vendor: 'V', model: 'M', tier, capacityBytes: capacityMiB * MiB, driver: { kind: 'directory', path: path.join(root, name) } });
    arrayIds[name] = array.id;
  }
  await createLun(db, actor, { arrayId: arrayIds['ARR-03']!, name: 'filler', sizeBytes: 32 * MiB });
  await db.update(arrays).set({ state: 'offline' }).where(eq(arrays.id, arrayIds['ARR-06']!));
  const { token } = await createEnrolmentToken(db, { label: 'db-03', createdBy: 'admin' });
  const enrolled = await enrolHost(db, { token, hostname: 'db-03', agentUrl: 'http://127.0.0.1:1', agentVersion: '0.1.0' });
  hostId = enrolled.hostId;
  header = `Bearer ${enrolled.hostId}.${enrolled.credential}`;
  await setArrayReach(db, actor, arrayIds['ARR-04']!, { allHosts: false, hostIds: [] });
  const source = await createLun(db, actor, { arrayId: arrayIds['ARR-01']!, name: 'src', sizeBytes: 256 * MiB });
  await recordHeartbeat(db, header, {
    agentUrl: 'http://127.0.0.1:1',
    agentVersion: '0.1.0',
    inventory: {
      luns: [],
      diskGroups: [{ name: 'dg-ora', volumes: [{ name: 'vol-db01', sizeBytes: 256 * MiB, regionSizeBytes: 65536, nbdExport: 'dg-ora/vol-db01', plexes: [{ name: 'vol-db01-01', lunId: source.id, lunPath: '/x', state: 'active' }] }] }],
    },
    writeRates: [{ nbdExport: 'dg-ora/vol-db01', writeRateBytesPerS: 8 * MiB, writeRateP95BytesPerS: 12 * MiB }],
  });
  const [volume] = await db.select().from(volumes).where(eq(volumes.hostId, hostId));
  volumeId = volume!.id;
});
afterAll(async () => {
  await opened?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('volumes.migrationOptions', () => {
  it('lists every array with why it can or cannot take the volume, eligible ones first', async () => {
    const options = await viewer().volumes.migrationOptions({ volumeId });
    expect(options.volume).toMatchObject({
      name: 'vol-db01',
      diskGroup: 'dg-ora',
      hostname: 'db-03',
      sizeBytes: 256 * MiB,
      writeRateBytesPerS: 8 * MiB,
      writeRateP95BytesPerS: 12 * MiB,
      source: { arrayName: 'ARR-01', tier: 2 },
    });
    expect(options.blockedReason).toBeNull();
    const byName = Object.fromEntries(options.targets.map((t) => [t.name, t]));
    expect(byName['ARR-02']).toMatchObject({ eligible: true, reachable: true, lowerTier: false, usedBytes: 0, usedAfterBytes: 256 * MiB, freeBytes: 1024 * MiB });
    expect(byName['ARR-03']).toMatchObject({ eligible: true, usedBytes: 32 * MiB, usedAfterBytes: 288 * MiB, capacityBytes: 300 * MiB });
    expect(byName['ARR-01']).toMatchObject({ eligible: false, ineligible: 'same-array', reason: 'the volume is already on this array' });
    expect(byName['ARR-04']).toMatchObject({ eligible: false, ineligible: 'unreachable', reachable: false, lowerTier: true, reason: 'not reachable from db-03 (no path)' });
    expect(byName['ARR-05']).toMatchObject({ eligible: false, ineligible: 'no-space', reason: '128 MiB free, 256 MiB needed' });
    expect(byName['ARR-06']).toMatchObject({ eligible: false, ineligible: 'offline', reason: 'array is offline' });
    expect(options.targets.map((t) => t.name).slice(0, 2)).toEqual(['ARR-02', 'ARR-03']);

    await setArrayReach(db, actor, arrayIds['ARR-04']!, { allHosts: true });
    const zoned = await viewer().volumes.migrationOptions({ volumeId });
    expect(zoned.targets.find((t) => t.name === 'ARR-04')).toMatchObject({ eligible: true, lowerTier: true });
    expect(zoned.targets.map((t) => t.name).slice(0, 3)).toEqual(['ARR-02', 'ARR-03', 'ARR-04']);
  });

  it('recommends from the p95 write rate and the default copy rate, and a throttle changes the recommendation', async () => {
    const free = await viewer().volumes.migrationOptions({ volumeId });
    expect(free.recommendation).toMatchObject({ strategy: 'precopy', copyRateBytesPerS: DEFAULT_COPY_RATE_BYTES_PER_S, copyRateBasis: 'default', writeRateBytesPerS: 12 * MiB, writeRateBasis: 'p95' });
    expect(free.recommendation.reason).toMatch(/^Pre-copy: copy ~200 MiB\/s \(default; no recent migration on this host\) vs writes p95 12 MiB\/s/);
    const throttled = await viewer().volumes.migrationOptions({ volumeId, throttleBytesPerS: 16 * MiB });
    expect(throttled.recommendation).toMatchObject({ strategy: 'mirror', copyRateBytesPerS: 16 * MiB, limitedByThrottle: true });
  });

  it('uses the median of the host\'s unthrottled copy rates once there are enough of them', async () => {
    const [migration] = await db
      .insert(migrations)
      .values({ volumeId, targetArrayId: arrayIds['ARR-02']!, strategy: 'mirror', state: 'completed', createdBy: 'test' })
      .returning();
    let taken = 0;
    const sample = (copyRateBytesPerS: number, throttleBytesPerS: number | null = null) => ({
      migrationId: migration!.id,
      // One sample a second, as agents take them: (migration, at) is unique.
      at: new Date(Date.now() - 60_000 + 1_000 * taken++),
      phase: 'copying',
      pass: 0,
      leftBytes: 0,
      copiedBytes: 0,
      copyRateBytesPerS,
      writeRateBytesPerS: 0,
      throttleBytesPerS,
    });
    await db.insert(migrationSamples).values([sample(40 * MiB), sample(50 * MiB), sample(60 * MiB), sample(5 * MiB, 5 * MiB), sample(0)]);
    expect(await hostCopyRate(db, hostId)).toMatchObject({ basis: 'default', samples: 3 });
    await db.insert(migrationSamples).values([sample(70 * MiB), sample(80 * MiB)]);
    expect(await hostCopyRate(db, hostId)).toEqual({ bytesPerS: 60 * MiB, basis: 'measured', samples: 5 });
    const options = await viewer().volumes.migrationOptions({ volumeId });
    expect(options.recommendation).toMatchObject({ copyRateBytesPerS: 60 * MiB, copyRateBasis: 'measured', strategy: 'precopy' });
  });

  it('says why no migration can start while one runs, and refuses an unknown volume', async () => {
    const [running] = await db.insert(migrations).values({ volumeId, targetArrayId: arrayIds['ARR-02']!, strategy: 'mirror', state: 'copying', createdBy: 'test' }).returning();
    const options = await viewer().volumes.migrationOptions({ volumeId });
    expect(options.activeMigration).toEqual({ id: running!.id, state: 'copying' });
    expect(options.blockedReason).toBe('volume is already migrating (copying)');
    await expect(viewer().volumes.migrationOptions({ volumeId: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(viewer().volumes.migrationOptions({ volumeId, throttleBytesPerS: 0 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
