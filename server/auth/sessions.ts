import 'server-only';
import { and, eq, gt, isNotNull, lt } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { sessions, users } from '@/db/schema';
import { appendEvent, publishEvents, recordEvent } from '@/server/events/log';
import { signInLimiter, type Refusal } from './rate-limit';
import { hashPassword, randomSecret, sha256, verifyPassword } from './secrets';

export type Role = (typeof users.$inferSelect)['role'];
export interface SessionUser {
  id: string;
  username: string;
  role: Role;
}

export const ROLE_RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** A dummy hash to compare against when the user does not exist, so timing does not reveal it. */
let dummyHash: Promise<string> | undefined;

export class SignInError extends Error {
  constructor() {
    super('Username or password is incorrect');
    this.name = 'SignInError';
  }
}

/** Too many failed sign-ins (rate-limit.ts); the password was not even checked. */
export class SignInRateLimitedError extends Error {
  constructor(readonly refusal: Refusal) {
    const what = refusal.scope === 'perAddress' ? 'from your address' : 'for this username from your address';
    super(`Too many failed sign-ins ${what}; try again in ${refusal.retryAfterS} s (after ${refusal.retryAt.toISOString()})`);
    this.name = 'SignInRateLimitedError';
  }
}

/**
 * Checks the password and opens a new session; the returned token goes into the cookie only.
 * Failed attempts are rate-limited per (username, client address) and per address; a refusal is
 * audited as `auth.rate-limited`. No password ever reaches the log.
 */
export async function signIn(db: Db, username: string, password: string, ttlMs: number, clientAddress = 'unknown') {
  const limiter = signInLimiter(db);
  const name = username.slice(0, 64);
  const limited = limiter.check(username, clientAddress);
  if (limited) {
    await recordEvent(db, {
      kind: 'auth.rate-limited',
      severity: 'warning',
      actor: { kind: 'system', name: 'console' },
      object: { kind: 'user', name },
      message: `sign-in for "${name}" from ${clientAddress} refused: too many failed attempts ${limited.scope === 'perAddress' ? 'from that address' : 'for that username from that address'}; retry after ${limited.retryAt.toISOString()}`,
      after: { clientAddress, scope: limited.scope, retryAfterS: limited.retryAfterS },
    });
    throw new SignInRateLimitedError(limited);
  }
  const [user] = await db.select().from(users).where(eq(users.username, username));
  dummyHash ??= hashPassword(randomSecret());
  const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyHash));
  if (!user || !ok || user.disabled) {
    limiter.fail(username, clientAddress);
    await recordEvent(db, {
      kind: 'auth.sign-in-refused',
      severity: 'warning',
      actor: { kind: 'system', name: 'console' },
      object: { kind: 'user', id: user?.id, name },
      message: user?.disabled ? `sign-in refused: user ${user.username} is disabled` : `sign-in refused for "${name}" from ${clientAddress}: wrong username or password`,
      after: { clientAddress },
    });
    throw new SignInError();
  }
  limiter.succeed(username, clientAddress);
  const token = randomSecret();
  const now = new Date();
  const event = await db.transaction(async (tx) => {
    await tx.insert(sessions).values({ idHash: sha256(token), userId: user.id, expiresAt: new Date(now.getTime() + ttlMs) });
    await tx.update(users).set({ lastSignInAt: now }).where(eq(users.id, user.id));
    return appendEvent(tx, {
      kind: 'auth.signed-in',
      actor: { kind: 'user', id: user.id, name: user.username },
      object: { kind: 'user', id: user.id, name: user.username },
      message: `${user.username} signed in`,
    });
  });
  publishEvents(event);
  return { token, user: { id: user.id, username: user.username, role: user.role } satisfies SessionUser };
}

export async function sessionUser(db: Db, token: string | undefined): Promise<SessionUser | null> {
  if (!token) return null;
  const [row] = await db
    .select({ id: users.id, username: users.username, role: users.role, disabled: users.disabled })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.idHash, sha256(token)), gt(sessions.expiresAt, new Date())));
  if (!row || row.disabled) return null;
  return { id: row.id, username: row.username, role: row.role };
}

export async function signOut(db: Db, token: string, user: SessionUser) {
  const event = await db.transaction(async (tx) => {
    await tx.delete(sessions).where(eq(sessions.idHash, sha256(token)));
    await tx.delete(sessions).where(lt(sessions.expiresAt, new Date()));
    return appendEvent(tx, {
      kind: 'auth.signed-out',
      actor: { kind: 'user', id: user.id, name: user.username },
      object: { kind: 'user', id: user.id, name: user.username },
      message: `${user.username} signed out`,
    });
  });
  publishEvents(event);
}

/**
 * On first start with no users, creates `admin` from TERN_ADMIN_PASSWORD or a generated
 * password, which is returned so the caller prints it once.
 */
export async function ensureFirstAdmin(db: Db, configuredPassword: string | undefined) {
  const existing = await db.select({ id: users.id }).from(users).limit(1);
  if (existing.length > 0) return { created: false as const };
  const password = configuredPassword ?? randomSecret().slice(0, 20);
  const passwordHash = await hashPassword(password);
  const inserted = await db.transaction(async (tx) => {
    const rows = await tx.insert(users).values({ username: 'admin', passwordHash, role: 'admin' }).onConflictDoNothing().returning();
    const user = rows[0];
    if (!user) return undefined;
    const event = await appendEvent(tx, {
      kind: 'user.created',
      actor: { kind: 'system', name: 'console' },
      object: { kind: 'user', id: user.id, name: user.username },
      message: `first start: created the admin user (password ${configuredPassword ? 'from TERN_ADMIN_PASSWORD' : 'generated and printed to the console log'})`,
      after: { username: user.username, role: user.role },
    });
    return { user, event };
  });
  if (!inserted) return { created: false as const };
  publishEvents(inserted.event);
  return { created: true as const, username: 'admin', generatedPassword: configuredPassword ? undefined : password };
}

/** Creates a user (for admins and tests); the password is hashed with scrypt. */
export async function createUser(db: Db, input: { username: string; password: string; role: Role }, actor: SessionUser | null) {
  const passwordHash = await hashPassword(input.password);
  const result = await db.transaction(async (tx) => {
    const [user] = await tx.insert(users).values({ username: input.username, passwordHash, role: input.role }).returning();
    if (!user) throw new Error('user insert returned no row');
    const event = await appendEvent(tx, {
      kind: 'user.created',
      actor: actor ? { kind: 'user', id: actor.id, name: actor.username } : { kind: 'system', name: 'console' },
      object: { kind: 'user', id: user.id, name: user.username },
      message: `created user ${user.username} with role ${user.role}`,
      after: { username: user.username, role: user.role },
    });
    return { user, event };
  });
  publishEvents(result.event);
  return { id: result.user.id, username: result.user.username, role: result.user.role };
}

/** True until anyone has signed in: the sign-in page then points to the first-start password. */
export async function noSignInYet(db: Db): Promise<boolean> {
  const rows = await db.select({ id: users.id }).from(users).where(isNotNull(users.lastSignInAt)).limit(1);
  return rows.length === 0;
}
