import 'server-only';
/**
 * Owns migration leases: exactly one engine instance drives a migration at a time. A lease is
 * claimed with a conditional UPDATE (free, expired, or already ours), renewed on every tick, and
 * its epoch bumps whenever ownership changes, so writes guarded by the epoch fence off an owner
 * that lost its lease while it was busy.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { and, eq, isNotNull, isNull, lt, ne, or, sql } from 'drizzle-orm';
import type { Db } from '@/db/open';
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

/** Claims or renews the lease; returns the row as claimed, or undefined when another instance holds it. */
export async function claimLease(db: Db, migrationId: string, owner = engineInstanceId, now = new Date()): Promise<MigrationRow | undefined> {
  const [row] = await db
    .update(migrations)
    .set({
      leaseOwner: owner,
      leaseExpiresAt: new Date(now.getTime() + LEASE_MS),
      leaseEpoch: sql`case when ${migrations.leaseOwner} = ${owner} then ${migrations.leaseEpoch} else ${migrations.leaseEpoch} + 1 end`,
    })
    .where(and(eq(migrations.id, migrationId), or(isNull(migrations.leaseOwner), lt(migrations.leaseExpiresAt, now), eq(migrations.leaseOwner, owner))))
    .returning();
  return row;
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
export async function expireLeasesOfDeadOwners(db: Db, owner = engineInstanceId, now = new Date()): Promise<number> {
  const expired = await db
    .update(migrations)
    .set({ leaseExpiresAt: now })
    .where(and(isNotNull(migrations.leaseOwner), ne(migrations.leaseOwner, owner)))
    .returning({ id: migrations.id });
  return expired.length;
}
