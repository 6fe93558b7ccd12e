/**
 * Sample thinning on a real database with synthetic once-a-second samples: what each age tier
 * keeps, that a second run deletes nothing, that samples move to a coarser tier as they age,
 * and that other migrations' samples are left alone.
 */
import { and, asc, count, eq, gte } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, OpenDatabase } from '@/db/open';
import { arrays, diskGroups, hosts, migrationSamples, migrations, volumes } from '@/db/schema';
import { freshDatabase } from '@/test/db';
import { thinAllSamples, thinSamples } from './thinning';

const NOW = new Date('2025-01-15T12:00:00Z');
const secondsAgo = (s: number, from = NOW) => new Date(from.getTime() - s * 1000);
let opened: OpenDatabase;
let db: Db;

async function newMigration(state: 'copying' | 'completed' = 'copying', updatedAt = NOW) {
  const [host] = await db.select().from(hosts);
  const [array] = await db.select().from(arrays);
  const [group] = await db.select().from(diskGroups);
  const name = `vol-${Math.random().toString(36).slice(2, 8)}`;
  const [volume] = await db.insert(volumes).values({ hostId: host!.id, diskGroupId: group!.id, name, sizeBytes: 1 << 24, regionSizeBytes: 1 << 16, nbdExport: `dg/${name}` }).returning();
  const [migration] = await db.insert(migrations).values({ volumeId: volume!.id, targetArrayId: array!.id, strategy: 'precopy', state, createdBy: 'test', updatedAt }).returning();
  return migration!.id;
}

async function addSamples(migrationId: string, ats: Date[]) {
  for (let i = 0; i < ats.length; i += 500) {
    await db.insert(migrationSamples).values(
      ats.slice(i, i + 500).map((at) => ({ migrationId, at, phase: 'copying', pass: 0, leftBytes: 0, copiedBytes: 0, copyRateBytesPerS: 0, writeRateBytesPerS: 0 })),
    );
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const countOf = async (migrationId: string, since?: Date) =>
  (await db.select({ n: count() }).from(migrationSamples).where(and(eq(migrationSamples.migrationId, migrationId), since ? gte(migrationSamples.at, since) : undefined)))[0]!.n;

beforeAll(async () => {
  opened = await freshDatabase();
  db = opened.db;
  const [host] = await db.insert(hosts).values({ hostname: 'thin-host', credentialHash: 'x' }).returning();
  await db.insert(diskGroups).values({ hostId: host!.id, name: 'dg' });
  await db.insert(arrays).values({ name: 'ARR', vendor: 'Tern', model: 'directory', tier: 1, driver: 'directory', driverConfig: { path: '/nonexistent' }, capacityBytes: 1 << 30 });
});

afterAll(async () => {
  await opened?.close();
});

describe('sample thinning', () => {
  it('keeps every sample of the last 15 minutes, one per 10 s up to 6 hours, one per minute beyond, in one idempotent pass', async () => {
    const id = await newMigration();
    const other = await newMigration();
    // 1 s to 20 min ago; two minutes an hour ago; three minutes seven hours ago.
    const ages = [...range(1, 1200), ...range(3601, 3720), ...range(25201, 25380)];
    await addSamples(id, ages.map((s) => secondsAgo(s)));
    await addSamples(other, ages.map((s) => secondsAgo(s)));

    const deleted = await thinSamples(db, id, NOW);
    expect(await countOf(id, secondsAgo(900))).toBe(900);
    expect(await countOf(id, secondsAgo(1200))).toBe(900 + 30);
    expect(await countOf(id, secondsAgo(3720))).toBe(900 + 30 + 12);
    expect(await countOf(id)).toBe(900 + 30 + 12 + 3);
    expect(deleted).toBe(ages.length - 945);
    // The first sample of each slot is the one kept.
    const kept = await db.select({ at: migrationSamples.at }).from(migrationSamples).where(eq(migrationSamples.migrationId, id)).orderBy(asc(migrationSamples.at)).limit(4);
    expect(kept.map((row) => row.at)).toEqual([secondsAgo(25380), secondsAgo(25320), secondsAgo(25260), secondsAgo(3720)]);

    expect(await thinSamples(db, id, NOW), 'a second run deletes nothing').toBe(0);
    expect(await countOf(other), 'another migration is untouched').toBe(ages.length);

    // Six hours later the hour-old span is seven hours old: its 10 s samples become one a minute.
    const later = new Date(NOW.getTime() + 6 * 3_600_000);
    await thinSamples(db, id, later);
    // One a minute everywhere, and the newest sample, which ingestion resumes after.
    expect(await countOf(id, secondsAgo(3720))).toBe(20 + 2 + 1);
    expect(await countOf(id)).toBe(20 + 2 + 1 + 3);
  });

  it('thins running migrations and recently ended ones, not those ended long ago', async () => {
    const running = await newMigration('copying');
    const endedRecently = await newMigration('completed', secondsAgo(3600));
    const endedLongAgo = await newMigration('completed', secondsAgo(8 * 3600));
    for (const id of [running, endedRecently, endedLongAgo]) await addSamples(id, range(1001, 1100).map((s) => secondsAgo(s)));
    await thinAllSamples(db, NOW);
    // Ten 10 s slots, plus the newest sample.
    expect(await countOf(running)).toBe(11);
    expect(await countOf(endedRecently)).toBe(11);
    expect(await countOf(endedLongAgo)).toBe(100);
  });
});
