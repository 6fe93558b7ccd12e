/**
 * Lease takeover on a real database: a migration leased by an owner that stopped renewing is
 * taken over by another once the lease has expired (time passed as `now`, not slept), and the
 * old owner's writes, guarded by its lease epoch, are refused and change nothing. Without `now`
 * the database's clock decides. On PostgreSQL (TERN_TEST_DATABASE_URL), a second connection
 * plays another replica: a claim skips a row that replica is locking instead of waiting for it.
 * Admission acts on a fresh plan, so replicas acting on stale plans cannot overfill a limit.
 */
import { eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db, type OpenDatabase } from '@/db/open';
import { arrays, diskGroups, events, hosts, migrations, volumes } from '@/db/schema';
import { getLimits, setLimits } from '@/server/settings/limits';
import { freshDatabase, testDatabaseKind } from '@/test/db';
import { claimLease, expireLeasesOfDeadOwners, LEASE_MS, underLease } from './lease';
import { engineActor, runStep } from './steps';
import { transition } from './transition';

let opened: OpenDatabase;
let db: Db;
let migrationId: string;
let ids: { host: string; group: string; array: string };

beforeAll(async () => {
  opened = await freshDatabase();
  db = opened.db;
  const [host] = await db.insert(hosts).values({ hostname: 'lease-host', credentialHash: 'x' }).returning();
  const [group] = await db.insert(diskGroups).values({ hostId: host!.id, name: 'dg' }).returning();
  const [array] = await db.insert(arrays).values({ name: 'ARR', vendor: 'Tern', model: 'directory', tier: 1, driver: 'directory', driverConfig: { path: '/nonexistent' }, capacityBytes: 1 << 30 }).returning();
  const [volume] = await db.insert(volumes).values({ hostId: host!.id, diskGroupId: group!.id, name: 'vol', sizeBytes: 1 << 24, regionSizeBytes: 1 << 16, nbdExport: 'dg/vol' }).returning();
  const [migration] = await db.insert(migrations).values({ volumeId: volume!.id, targetArrayId: array!.id, strategy: 'precopy', state: 'copying', createdBy: 'test' }).returning();
  migrationId = migration!.id;
  ids = { host: host!.id, group: group!.id, array: array!.id };
});

/** A migration of a new volume on the test host, in `state`. */
async function newMigration(name: string, state: 'queued' | 'copying' = 'copying') {
  const [volume] = await db.insert(volumes).values({ hostId: ids.host, diskGroupId: ids.group, name, sizeBytes: 1 << 24, regionSizeBytes: 1 << 16, nbdExport: `dg/${name}` }).returning();
  const [row] = await db.insert(migrations).values({ volumeId: volume!.id, targetArrayId: ids.array, strategy: 'precopy', state, createdBy: 'test' }).returning();
  return row!;
}

afterAll(async () => {
  await opened?.close();
});

describe('migration leases', () => {
  it('passes to another owner only after expiry, and fences the old owner off by epoch', async () => {
    const t0 = new Date();
    const at = (ms: number) => new Date(t0.getTime() + ms);

    const first = await claimLease(db, migrationId, 'console-a', t0);
    expect(first).toMatchObject({ leaseOwner: 'console-a', leaseEpoch: 1 });
    expect(await claimLease(db, migrationId, 'console-b', at(LEASE_MS - 1)), 'a live lease is not taken').toBeUndefined();
    expect(await claimLease(db, migrationId, 'console-a', at(1_000)), 'the owner renews without a new epoch').toMatchObject({ leaseEpoch: 1 });

    // console-a stops renewing (it died, or hangs); after the lease runs out console-b takes over.
    const second = await claimLease(db, migrationId, 'console-b', at(1_000 + LEASE_MS + 1));
    expect(second).toMatchObject({ leaseOwner: 'console-b', leaseEpoch: 2 });
    expect(await claimLease(db, migrationId, 'console-a', at(1_000 + LEASE_MS + 2)), 'the old owner cannot claim it back').toBeUndefined();

    // console-a wakes up with its stale row and tries to move the migration on: refused, nothing changes.
    const eventsBefore = (await db.select().from(events)).length;
    const stale = await transition(db, first!, { to: 'failed', cause: 'stale owner', actor: engineActor, guard: underLease(first!) });
    expect(stale).toBeUndefined();
    const [row] = await db.select().from(migrations).where(eq(migrations.id, migrationId));
    expect(row).toMatchObject({ state: 'copying', leaseOwner: 'console-b', leaseEpoch: 2 });
    expect(await db.select().from(events)).toHaveLength(eventsBefore);

    // The new owner's guarded write goes through.
    const moved = await transition(db, second!, { to: 'ready', cause: 'converged', actor: engineActor, guard: underLease(second!) });
    expect(moved?.state).toBe('ready');
  });

  it('a console alone on its data folder takes over a dead predecessor’s leases at once, with a new epoch', async () => {
    const now = new Date();
    const held = await claimLease(db, migrationId, 'console-dead', new Date(now.getTime() + 10 * LEASE_MS));
    expect(held?.leaseOwner).toBe('console-dead');
    expect(await claimLease(db, migrationId, 'console-new', now), 'the lease is still live').toBeUndefined();
    expect(await expireLeasesOfDeadOwners(db, 'console-new', now)).toBe(1);
    const taken = await claimLease(db, migrationId, 'console-new', new Date(now.getTime() + 1));
    expect(taken).toMatchObject({ leaseOwner: 'console-new', leaseEpoch: held!.leaseEpoch + 1 });
    expect(await expireLeasesOfDeadOwners(db, 'console-new', now), 'its own leases are left alone').toBe(0);
  });

  it('without a given time, judges and sets expiry by the database clock', async () => {
    const { id } = await newMigration('vol-clock');
    const claimed = await claimLease(db, id, 'console-a');
    const [clock] = await db.select({ nowMs: sql<number>`(extract(epoch from now()) * 1000)::float8` }).from(migrations).limit(1);
    const expiresInMs = claimed!.leaseExpiresAt!.getTime() - Number(clock!.nowMs);
    expect(expiresInMs).toBeGreaterThan(LEASE_MS - 60_000);
    expect(expiresInMs).toBeLessThanOrEqual(LEASE_MS);
    expect(await claimLease(db, id, 'console-b'), 'live by the database clock').toBeUndefined();
    // Push the expiry into the database's past: the next claim by another owner takes it, with a new epoch.
    await db.update(migrations).set({ leaseExpiresAt: sql`now() - interval '1 second'` }).where(eq(migrations.id, id));
    expect(await claimLease(db, id, 'console-b')).toMatchObject({ leaseOwner: 'console-b', leaseEpoch: claimed!.leaseEpoch + 1 });
  });

  it('two replicas acting on stale plans that both admit admit only as many as the limit allows', async () => {
    // The earlier tests' migrations end, so the one slot is free.
    await db.update(migrations).set({ state: 'cancelled' });
    const limits = await getLimits(db);
    await setLimits(db, engineActor, { ...limits, global: 1, perHost: 1 });
    const other = testDatabaseKind === 'postgres' ? await openDatabase({ url: opened.location }) : undefined;
    try {
      const a = await claimLease(db, (await newMigration('vol-admit-a', 'queued')).id, 'console-a');
      const b = await claimLease(other?.db ?? db, (await newMigration('vol-admit-b', 'queued')).id, 'console-b');
      // Each replica planned before the other admitted: both were told to admit.
      await Promise.all([runStep(db, a!, { admit: 'stale plan' }), runStep(other?.db ?? db, b!, { admit: 'stale plan' })]);
      const rows = await db.select({ id: migrations.id, state: migrations.state }).from(migrations).where(inArray(migrations.id, [a!.id, b!.id]));
      expect(rows.filter((row) => row.state === 'preparing'), 'one slot, one admission').toHaveLength(1);
      expect(rows.filter((row) => row.state === 'queued')).toHaveLength(1);
    } finally {
      await other?.close();
      await db.update(migrations).set({ state: 'cancelled' }).where(inArray(migrations.state, ['queued', 'preparing']));
    }
  });
});

describe.skipIf(testDatabaseKind !== 'postgres')('leases across replicas on PostgreSQL', () => {
  it('a claim skips a row another replica is claiming at this moment instead of waiting for it', async () => {
    const { id } = await newMigration('vol-skip-locked');
    const other = await openDatabase({ url: opened.location });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    try {
      const holder = other.db.transaction(async (tx) => {
        await tx.select().from(migrations).where(eq(migrations.id, id)).for('update');
        locked();
        await released;
      });
      await isLocked;
      expect(await claimLease(db, id, 'console-a'), 'skipped while the other replica holds the row').toBeUndefined();
      release();
      await holder;
      expect(await claimLease(db, id, 'console-a'), 'claimed once the row is free').toMatchObject({ leaseOwner: 'console-a' });
    } finally {
      release();
      await other.close();
    }
  });
});
