/**
 * Lease takeover on a real database: a migration leased by an owner that stopped renewing is
 * taken over by another once the lease has expired (time passed as `now`, not slept), and the
 * old owner's writes, guarded by its lease epoch, are refused and change nothing.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, OpenDatabase } from '@/db/open';
import { arrays, diskGroups, events, hosts, migrations, volumes } from '@/db/schema';
import { freshDatabase } from '@/test/db';
import { claimLease, expireLeasesOfDeadOwners, LEASE_MS, underLease } from './lease';
import { engineActor } from './steps';
import { transition } from './transition';

let opened: OpenDatabase;
let db: Db;
let migrationId: string;

beforeAll(async () => {
  opened = await freshDatabase();
  db = opened.db;
  const [host] = await db.insert(hosts).values({ hostname: 'lease-host', credentialHash: 'x' }).returning();
  const [group] = await db.insert(diskGroups).values({ hostId: host!.id, name: 'dg' }).returning();
  const [array] = await db.insert(arrays).values({ name: 'ARR', vendor: 'Tern', model: 'directory', tier: 1, driver: 'directory', driverConfig: { path: '/nonexistent' }, capacityBytes: 1 << 30 }).returning();
  const [volume] = await db.insert(volumes).values({ hostId: host!.id, diskGroupId: group!.id, name: 'vol', sizeBytes: 1 << 24, regionSizeBytes: 1 << 16, nbdExport: 'dg/vol' }).returning();
  const [migration] = await db.insert(migrations).values({ volumeId: volume!.id, targetArrayId: array!.id, strategy: 'precopy', state: 'copying', createdBy: 'test' }).returning();
  migrationId = migration!.id;
});

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
});
