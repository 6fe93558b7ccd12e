/**
 * Table-driven authorization over the whole router (docs/testing.md item 9): every procedure must
 * declare its access level, and each is called as anonymous, viewer, operator, admin, a
 * disabled user and an expired session. A new procedure without a level fails here.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenDatabase } from '@/db/open';
import { sessions, users } from '@/db/schema';
import { appRouter } from '@/server/api/root';
import { createContext, type Access, type Meta } from '@/server/api/trpc';
import { SECURE_COOKIE } from '@/server/auth/cookies';
import { createUser, signIn, type Role } from '@/server/auth/sessions';
import { randomSecret, sha256 } from '@/server/auth/secrets';
import { freshDatabase } from './db';

type Caller = 'anonymous' | Role | 'disabled' | 'expired';
const RANK: Record<Access, number> = { public: 0, viewer: 1, operator: 2, admin: 3 };
const CALLER_RANK: Record<Caller, number> = { anonymous: 0, disabled: 0, expired: 0, viewer: 1, operator: 2, admin: 3 };

const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { meta?: Meta; type: string } }>);

let database: OpenDatabase;
const userIds = new Map<Caller, string>();

beforeAll(async () => {
  database = await freshDatabase();
  const { db } = database;
  for (const role of ['viewer', 'operator', 'admin', 'disabled', 'expired'] as const) {
    await createUser(db, { username: `u-${role}`, password: `password-${role}`, role: role === 'disabled' || role === 'expired' ? 'admin' : role }, null);
    const { user } = await signIn(db, `u-${role}`, `password-${role}`, 3_600_000);
    userIds.set(role, user.id);
  }
  await db.update(users).set({ disabled: true }).where(eq(users.username, 'u-disabled'));
});

/** A new session per call, since calling `auth.signOut` ends the session it is called with. */
async function sessionFor(caller: Caller): Promise<string | undefined> {
  const userId = userIds.get(caller);
  if (!userId) return undefined;
  const token = randomSecret();
  const expiresAt = new Date(Date.now() + (caller === 'expired' ? -1000 : 3_600_000));
  await database.db.insert(sessions).values({ idHash: sha256(token), userId, expiresAt });
  return token;
}

afterAll(async () => {
  await database?.close();
});

async function callAs(caller: Caller, path: string) {
  const headers = new Headers();
  const token = await sessionFor(caller);
  if (token) headers.set('cookie', `${SECURE_COOKIE}=${token}`);
  const ctx = await createContext({ db: database.db, headers, secure: true, resHeaders: new Headers() });
  const trpc = appRouter.createCaller(ctx);
  const procedure = path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], trpc) as (input: unknown) => Promise<unknown>;
  try {
    // An input that fails validation: an allowed caller gets BAD_REQUEST (or succeeds when the
    // procedure takes no input), and nothing changes either way.
    const result = await procedure({ __probe: true });
    if (result && typeof result === 'object' && Symbol.asyncIterator in result) {
      await (result as AsyncGenerator).return?.(undefined);
    }
    return 'OK';
  } catch (error) {
    return (error as { code?: string }).code ?? 'UNKNOWN';
  }
}

describe('authorization matrix', () => {
  it('covers the whole router, and only sign-in is public', () => {
    expect(procedures.length).toBeGreaterThan(10);
    expect(procedures.filter(([, procedure]) => procedure._def.meta?.access === 'public').map(([path]) => path)).toEqual(['auth.signIn']);
  });

  it.each(procedures.map(([path, procedure]) => [path, procedure._def.meta?.access] as const))('%s declares an access level', (_path, access) => {
    expect(['public', 'viewer', 'operator', 'admin']).toContain(access);
  });

  const callers: Caller[] = ['anonymous', 'viewer', 'operator', 'admin', 'disabled', 'expired'];
  const cases = procedures.flatMap(([path, procedure]) => callers.map((caller) => [path, caller, procedure._def.meta?.access ?? 'admin'] as const));

  it.each(cases)('%s as %s', async (path, caller, access) => {
    const outcome = await callAs(caller, path);
    if (access === 'public') {
      expect(outcome).toBe('BAD_REQUEST');
      return;
    }
    if (CALLER_RANK[caller] === 0) expect(outcome).toBe('UNAUTHORIZED');
    else if (CALLER_RANK[caller] < RANK[access]) expect(outcome).toBe('FORBIDDEN');
    else expect(['OK', 'BAD_REQUEST']).toContain(outcome);
  });
});
