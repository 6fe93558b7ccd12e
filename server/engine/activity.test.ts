/**
 * Migration activity on a real database: rows written as the engine writes them (migrations and
 * their per-second samples), read back as the overview shows them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, OpenDatabase } from '@/db/open';
import { arrays, diskGroups, hosts, migrationSamples, migrations, volumes } from '@/db/schema';
import { freshDatabase } from '@/test/db';
import { AGGREGATE_BUCKET_SECONDS, migrationActivity } from './activity';
import type { MigrationState } from './migration-states';

const MiB = 1024 * 1024;
const NOW = new Date('2026-11-28T10:00:00Z');
let opened: OpenDatabase;
let db: Db;
let arrayIds: string[];
let hostId: string;
let diskGroupId: string;

async function migration(name: string, state: MigrationState, over: Partial<typeof migrations.$inferInsert> = {}) {
  const [volume] = await db
    .insert(volumes)
    .values({ hostId, diskGroupId, name, sizeBytes: 64 * MiB, regionSizeBytes: 64 * 1024, nbdExport: `dg/${name}` })
    .returning();
  const [row] = await db
    .insert(migrations)
    .values({ volumeId: volume!.id, sourceArrayId: arrayIds[0], targetArrayId: arrayIds[1]!, strategy: 'precopy', state, createdBy: 'test', updatedAt: NOW, ...over })
    .returning();
  return row!;
}

/** One sample a second for `seconds` seconds ending at `end`, copying at `rate` bytes/s. */
async function samples(migrationId: string, end: Date, seconds: number, rate: number) {
  await db.insert(migrationSamples).values(
    Array.from({ length: seconds }, (_, i) => ({
      migrationId,
      at: new Date(end.getTime() - (seconds - 1 - i) * 1000),
      phase: 'copying',
      pass: 0,
      leftBytes: 0,
      copiedBytes: rate * (i + 1),
      copyRateBytesPerS: rate,
      writeRateBytesPerS: 0,
    })),
  );
}

beforeAll(async () => {
  opened = await freshDatabase();
  db = opened.db;
  arrayIds = [];
  for (const name of ['ARR-A', 'ARR-B']) {
    const [array] = await db.insert(arrays).values({ name, vendor: 'Tern', model: 'test', tier: 1, driver: 'directory', driverConfig: { path: `/nonexistent/${name}` }, capacityBytes: 1024 * MiB }).returning();
    arrayIds.push(array!.id);
  }
  const [host] = await db.insert(hosts).values({ hostname: 'db-01', state: 'connected', credentialHash: 'x' }).returning();
  hostId = host!.id;
  const [dg] = await db.insert(diskGroups).values({ hostId, name: 'dg' }).returning();
  diskGroupId = dg!.id;
});

afterAll(async () => {
  await opened?.close();
});

describe('migration activity', () => {
  it('lists what needs a person first, sums the running copy rates, and draws each sparkline from the last minute only', async () => {
    const copying = await migration('vol-copy', 'copying', { copyRateBytesPerS: 30 * MiB, etaSeconds: 50 });
    const syncing = await migration('vol-sync', 'syncing', { copyRateBytesPerS: 10 * MiB, etaSeconds: 20, strategy: 'mirror' });
    const manual = await migration('vol-ready', 'ready', { cutoverPolicy: { mode: 'manual', commit: 'auto' } });
    const failed = await migration('vol-failed', 'failed', { error: 'target LUN write error' });
    await migration('vol-old-failure', 'failed', { updatedAt: new Date(NOW.getTime() - 2 * 24 * 3_600_000) });
    await migration('vol-done', 'completed');
    await samples(copying.id, NOW, 90, 30 * MiB);
    await samples(syncing.id, NOW, 20, 10 * MiB);

    const activity = await migrationActivity(db, NOW);
    expect(activity.migrations.map((m) => m.volumeName)).toEqual(['vol-failed', 'vol-ready', 'vol-sync', 'vol-copy']);
    expect(activity.migrations.map((m) => m.attention)).toEqual(['failed', 'awaiting-cutover', null, null]);
    expect(activity.copyRateBytesPerS).toBe(40 * MiB);

    const line = activity.migrations.find((m) => m.id === copying.id)!.sparkline;
    expect(line).toHaveLength(60);
    expect(line.every((point) => point.bytesPerS === 30 * MiB && point.t > NOW.getTime() - 60_000)).toBe(true);
    expect(activity.migrations.find((m) => m.id === manual.id)!.sparkline).toEqual([]);
    expect(activity.migrations.find((m) => m.id === failed.id)!.sparkline).toEqual([]);

    // The last 20 s have both migrations copying: those buckets hold the sum of their rates.
    const newest = activity.copyRateHistory.at(-1)!;
    expect(newest.t).toBe(Math.floor(NOW.getTime() / 1000 / AGGREGATE_BUCKET_SECONDS) * AGGREGATE_BUCKET_SECONDS * 1000);
    expect(newest.bytesPerS).toBe(40 * MiB);
    expect(activity.copyRateHistory[0]!.bytesPerS).toBe(30 * MiB);
    expect(activity.movedLastDayBytes).toBe(89 * 30 * MiB + 19 * 10 * MiB);
  });
});
