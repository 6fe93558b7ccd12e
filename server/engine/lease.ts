import 'server-only';
/**
 * Owns migration leases: exactly one engine instance (console replica) drives a migration at a
 * time. A lease is claimed with `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`: the
 * select keeps the row only when it is free, expired or already ours, skipping a row another
 * replica is claiming at this moment, and the update takes it. Expiry is judged and set by the
 * database's clock, so replicas whose clocks disagree still agree on who holds a lease. The lease
 * is renewed on every tick, and its epoch bumps whenever ownership changes, so writes guarded by
 * the epoch fence off an owner that lost its lease while it was busy (or paused).
 *
 * Admission is serialized across replicas by a transaction-scoped advisory lock: the replica
 * that admits re-plans under the lock, so two replicas cannot each fill the same free slot.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { and, eq, inArray, isNotNull, isNull, lt, ne, or, sql, type SQL } from 'drizzle-orm';
import type { Db, Tx } from '@/db/open';
import { migrations } from '@/db/schema';
import type { MigrationRow } from './create';

/** How long a lease lasts unless renewed; TERN_ENGINE_LEASE_MS shortens it for recovery tests. */
export const LEASE_MS = leaseMs(process.env.TERN_ENGINE_LEASE_MS);

function leaseMs(value: string | undefined): number {
  if (value === undefined) return 15_000;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 1_000) throw new Error(`TERN_ENGINE_LEASE_MS must be an integer of at least 1000, not ${value}`);
  return ms;
}

/** This process's identity as a lease owner. */
export const engineInstanceId = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

/** `now` as the database sees it, or a fixed instant (tests pass one to move time without sleeping). */
const clockOf = (now: Date | undefined): SQL => (now ? sql`${now.toISOString()}::timestamptz` : sql`now()`);

/**
 * Claims or renews the lease; returns the row as claimed, or undefined when another instance
 * holds it (or is claiming it right now). Without `now`, the database's clock decides expiry.
 */
export async function claimLease(db: Db, migrationId: string, owner = engineInstanceId, now?: Date): Promise<MigrationRow | undefined> {
  const [row] = await claimLeases(db, [migrationId], owner, now);
  return row;
}

/** claimLease for many migrations in one statement (the reconciler renews a whole tick's at once); returns the rows claimed. */
export async function claimLeases(db: Db, migrationIds: string[], owner = engineInstanceId, now?: Date): Promise<MigrationRow[]> {
  if (migrationIds.length === 0) return [];
  const clock = clockOf(now);
  const claimable = db
    .select({ id: migrations.id })
    .from(migrations)
    .where(and(inArray(migrations.id, migrationIds), or(isNull(migrations.leaseOwner), lt(migrations.leaseExpiresAt, clock), eq(migrations.leaseOwner, owner))))
    .for('update', { skipLocked: true });
  return db
    .update(migrations)
    .set({
      leaseOwner: owner,
      leaseExpiresAt: sql`${clock} + ${LEASE_MS}::double precision * interval '1 millisecond'`,
      leaseEpoch: sql`case when ${migrations.leaseOwner} = ${owner} then ${migrations.leaseEpoch} else ${migrations.leaseEpoch} + 1 end`,
    })
    .where(inArray(migrations.id, claimable))
    .returning();
}

/** The advisory lock key admission runs under ('tern' in ASCII, then 2). */
export const ADMISSION_LOCK_KEY = 0x7465726e02;

/**
 * Waits until no other replica is admitting, for the rest of `tx`: whoever admits next sees
 * every admission committed before it. (PGlite is one process; the lock is then uncontended.)
 */
export async function serializeAdmission(tx: Tx): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${ADMISSION_LOCK_KEY}::bigint)`);
}

/** The guard for writes made under a lease: still ours, same epoch. */
export function underLease(row: Pick<MigrationRow, 'leaseOwner' | 'leaseEpoch'>) {
  return and(eq(migrations.leaseOwner, row.leaseOwner ?? ''), eq(migrations.leaseEpoch, row.leaseEpoch));
}

/** Frees the lease of a migration that reached a terminal state. */
export async function releaseLease(db: Db, row: Pick<MigrationRow, 'id' | 'leaseOwner' | 'leaseEpoch'>) {
  await db.update(migrations).set({ leaseOwner: null, leaseExpiresAt: null }).where(and(eq(migrations.id, row.id), underLease(row)));
}

/**
 * Ends every lease held by another owner at once. Only for a console that knows it is alone on
 * its database (the embedded database's data folder is locked to one process), so every other
 * owner is a process that died: its migrations are taken over on the next tick, not a lease later.
 */
export async function expireLeasesOfDeadOwners(db: Db, owner = engineInstanceId, now?: Date): Promise<number> {
  const expired = await db
    .update(migrations)
    .set({ leaseExpiresAt: sql`${clockOf(now)} - interval '1 millisecond'` })
    .where(and(isNotNull(migrations.leaseOwner), ne(migrations.leaseOwner, owner)))
    .returning({ id: migrations.id });
  return expired.length;
}
