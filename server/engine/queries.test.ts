/**
 * What the migration detail page reads, on a real database: the pass table in bytes with its
 * rates from the samples, the prediction, and samples downsampled to a chart window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenDatabase } from '@/db/open';
import { arrays, diskGroups, hosts, luns, migrationSamples, migrations, volumes } from '@/db/schema';
import { freshDatabase } from '@/test/db';
import { getMigration, migrationSamplesAfter, migrationSamplesWindow } from './queries';

const MiB = 1024 ** 2;
const REGION = 64 * 1024;
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
let opened: OpenDatabase;
let migrationId: string;

beforeAll(async () => {
  opened = await freshDatabase();
  const db = opened.db;
  const [a1, a2] = await db
    .insert(arrays)
    .values(['ARR-01', 'ARR-02'].map((name) => ({ name, vendor: 'Tern', model: 'directory', tier: 1, driver: 'directory', driverConfig: { path: `/nowhere/${name}` }, capacityBytes: 1024 * MiB })))
    .returning();
  const [host] = await db.insert(hosts).values({ hostname: 'db-03', credentialHash: 'x', state: 'connected' }).returning();
  const [dg] = await db.insert(diskGroups).values({ hostId: host!.id, name: 'dg' }).returning();
  const [volume] = await db.insert(volumes).values({ hostId: host!.id, diskGroupId: dg!.id, name: 'vol-db01', sizeBytes: 1024 * MiB, regionSizeBytes: REGION, nbdExport: 'dg/vol-db01' }).returning();
  const [source, target] = await db
    .insert(luns)
    .values([
      { arrayId: a1!.id, name: 'src', wwn: '600a0980000000000000000000003f41', sizeBytes: 1024 * MiB, path: '/nowhere/src' },
      { arrayId: a2!.id, name: 'tgt', wwn: '600b0980000000000000000000009c10', sizeBytes: 1024 * MiB, path: '/nowhere/tgt' },
    ])
    .returning();
  // Pass 0 copied the whole volume (16,384 regions) and 4,096 were re-dirtied: pass 1 runs now.
  const agentStatus = {
    phase: 'converging',
    strategy: 'precopy',
    originalStrategy: 'precopy',
    switched: false,
    passes: [{ pass: 0, startedAt: new Date(T0).toISOString(), dirtyRegionsAtStart: 16_384, copiedRegions: 16_384, redirtiedRegions: 4_096 }],
    verify: null,
    cutoverPauseMs: null,
    restarts: 0,
  };
  const [row] = await db
    .insert(migrations)
    .values({ volumeId: volume!.id, sourceLunId: source!.id, sourceArrayId: a1!.id, targetArrayId: a2!.id, targetLunId: target!.id, strategy: 'precopy', state: 'copying', pass: 1, createdBy: 'alice', agentStatus })
    .returning();
  migrationId = row!.id;
  // 20 s of pass 0 at 100 MiB/s copy and 25 MiB/s writes, then 60 s of pass 1 at the same rates.
  await db.insert(migrationSamples).values(
    Array.from({ length: 80 }, (_, i) => ({
      migrationId,
      at: new Date(T0 + i * 1000),
      phase: i < 20 ? 'copying' : 'converging',
      pass: i < 20 ? 0 : 1,
      leftBytes: (i === 79 ? 160 : i < 20 ? 1024 - i * 40 : 256) * MiB,
      thresholdBytes: 10 * MiB,
      copiedBytes: i * 100 * MiB,
      copyRateBytesPerS: 100 * MiB,
      writeRateBytesPerS: (i === 30 ? 90 : 25) * MiB,
      writeLatencyP50Us: 500,
      writeLatencyP99Us: i === 31 ? 9_000 : 2_000,
      throttleBytesPerS: null,
    })),
  );
});

afterAll(async () => {
  await opened?.close();
});

describe('getMigration', () => {
  it('gives each pass in bytes, with its rates, and the running pass from the samples', async () => {
    const m = await getMigration(opened.db, migrationId);
    expect(m.regionSizeBytes).toBe(REGION);
    expect(m.passes).toHaveLength(2);
    expect(m.passes[0]).toMatchObject({ pass: 0, running: false, bytesAtStart: 1024 * MiB, copiedBytes: 1024 * MiB, redirtiedBytes: 256 * MiB, avgCopyRateBytesPerS: 100 * MiB, avgWriteRateBytesPerS: 25 * MiB });
    expect(m.passes[1]).toMatchObject({ pass: 1, running: true, bytesAtStart: 256 * MiB, startedAt: new Date(T0 + 20_000).toISOString(), peakWriteRateBytesPerS: 90 * MiB });
    expect(m.sourceLun?.wwn).toBe('600a0980000000000000000000003f41');
    expect(m.targetLun?.wwn).toBe('600b0980000000000000000000009c10');
    expect(m.createdBy).toBe('alice');
  });

  it('predicts from the last 60 s: pass 1 of about 4, then the switch', async () => {
    const { prediction } = await getMigration(opened.db, migrationId);
    expect(prediction.condition).toBe('converging');
    expect(prediction.pass).toBe(1);
    expect(prediction.leftBytes).toBe(160 * MiB);
    // One 90 MiB/s second among 60 at 25 lifts the mean write rate to 26.083 MiB/s.
    expect(prediction.writeRateBytesPerS).toBeCloseTo((59 * 25 + 90) / 60 * MiB, 0);
    expect(prediction.nextPasses.map((p) => p.pass)).toEqual([2, 3]);
    expect(prediction.totalPassesEstimate).toBe(4);
    expect(prediction.pauseIfSwitchedNowMs).toBeCloseTo(1600);
  });

  it('refuses an unknown id with not-found', async () => {
    await expect(getMigration(opened.db, '00000000-0000-4000-8000-000000000000')).rejects.toThrow(/does not exist/);
  });
});

describe('migrationSamplesWindow', () => {
  it('returns raw samples when the window fits, counted back from the newest', async () => {
    const rows = await migrationSamplesWindow(opened.db, { id: migrationId, seconds: 30, maxPoints: 600 });
    expect(rows.map((r) => r.at.getTime())).toEqual(Array.from({ length: 31 }, (_, i) => T0 + (49 + i) * 1000));
  });

  it('downsamples to at most maxPoints, keeping the newest id and every spike', async () => {
    const all = await migrationSamplesAfter(opened.db, { id: migrationId });
    const rows = await migrationSamplesWindow(opened.db, { id: migrationId, seconds: null, maxPoints: 20 });
    expect(rows.length).toBeLessThanOrEqual(20);
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.at(-1)?.id).toBe(all.at(-1)?.id);
    expect(Math.max(...rows.map((r) => r.writeRateBytesPerS))).toBe(90 * MiB);
    expect(Math.max(...rows.map((r) => r.writeLatencyP99Us ?? 0))).toBe(9_000);
    expect(rows[0]?.leftBytes).toBe(1024 * MiB);
    expect(rows[0]?.at).toBeInstanceOf(Date);
    expect(rows.map((r) => r.pass)).toContain(1);
  });
});
