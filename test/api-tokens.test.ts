/**
 * API tokens through the real tRPC route: created once by an admin session, used as
 * `Authorization: Bearer`, capped by role, refused when revoked, expired or disabled, audited;
 * the cross-site guard still protects cookie sessions and still lets header-only clients in.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenDatabase } from '@/db/open';
import { apiTokens, events, users } from '@/db/schema';
import { SECURE_COOKIE } from '@/server/auth/cookies';
import { createUser, signIn } from '@/server/auth/sessions';
import { bindRoutes, CONSOLE_URL, outcome, routeClient, unbindRoutes } from './api-routes';
import { freshDatabase } from './db';

let database: OpenDatabase;
let route: Awaited<ReturnType<typeof bindRoutes>>;
let adminCookie: string;
let operatorCookie: string;

beforeAll(async () => {
  database = await freshDatabase();
  route = await bindRoutes(database);
  await createUser(database.db, { username: 'alice', password: 'alice-password-1', role: 'admin' }, null);
  await createUser(database.db, { username: 'olga', password: 'olga-password-1', role: 'operator' }, null);
  adminCookie = `${SECURE_COOKIE}=${(await signIn(database.db, 'alice', 'alice-password-1', 3_600_000)).token}`;
  operatorCookie = `${SECURE_COOKIE}=${(await signIn(database.db, 'olga', 'olga-password-1', 3_600_000)).token}`;
});

afterAll(async () => {
  unbindRoutes();
  await database?.close();
});

const asAdmin = () => routeClient(route.trpc, { cookie: adminCookie });
const withToken = (token: string) => routeClient(route.trpc, { authorization: `Bearer ${token}` });

async function tokenEvents(kind: string) {
  return database.db.select().from(events).where(eq(events.kind, kind));
}

describe('API tokens', () => {
  it('an admin creates a token shown once; only its hash and prefix are stored, and the creation is audited', async () => {
    const created = await asAdmin().tokens.create.mutate({ name: 'ci pipeline', role: 'viewer', ttlDays: 30 });
    expect(created.token).toMatch(/^tern_[A-Za-z0-9_-]{43}$/);
    expect(created.token.startsWith(created.prefix)).toBe(true);
    const [row] = await database.db.select().from(apiTokens).where(eq(apiTokens.id, created.id));
    expect(row?.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(created.token);
    const listed = await asAdmin().tokens.list.query();
    expect(listed.find((token) => token.id === created.id)).toMatchObject({ name: 'ci pipeline', role: 'viewer', prefix: created.prefix, revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(created.token);
    const audit = (await tokenEvents('api-token.created')).filter((event) => event.objectId === created.id);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actorKind: 'user', actorName: 'alice' });
    expect(audit[0]?.message).not.toContain(created.token);
  });

  it('a bearer token acts as its user with its own role, without an Origin header, and records its last use', async () => {
    const { token, id } = await asAdmin().tokens.create.mutate({ name: 'reader', role: 'viewer', ttlDays: 1 });
    const client = withToken(token);
    expect(await client.auth.me.query()).toMatchObject({ username: 'alice [token reader]', role: 'viewer' });
    expect(await outcome(client.arrays.list.query())).toBe('OK');
    // A mutation a viewer may not make: refused by role, not by the request guard.
    expect(await outcome(client.settings.setLimits.mutate({ global: 4, perHost: 2, perSourceArray: 4, perTargetArray: 4, arrayBandwidthBytesPerS: {} }))).toBe('FORBIDDEN');
    const [row] = await database.db.select().from(apiTokens).where(eq(apiTokens.id, id));
    expect(row?.lastUsedAt).toBeInstanceOf(Date);
  });

  it('an operator token may act; a token can never mint tokens; a non-admin cannot create one', async () => {
    const { token } = await asAdmin().tokens.create.mutate({ name: 'automation', role: 'admin', ttlDays: 7 });
    const before = await database.db.select().from(apiTokens);
    expect(await outcome(withToken(token).tokens.create.mutate({ name: 'child', role: 'viewer', ttlDays: 1 }))).toBe('FORBIDDEN');
    expect(await outcome(routeClient(route.trpc, { cookie: operatorCookie }).tokens.create.mutate({ name: 'mine', role: 'viewer', ttlDays: 1 }))).toBe('FORBIDDEN');
    expect(await database.db.select().from(apiTokens)).toHaveLength(before.length);
    expect(await outcome(withToken(token).tokens.list.query())).toBe('OK');
  });

  it('bad input is refused with the reason and creates nothing', async () => {
    const before = await database.db.select().from(apiTokens);
    await expect(asAdmin().tokens.create.mutate({ name: 'x', role: 'viewer', ttlDays: 0 })).rejects.toThrow(/at least a day/);
    await expect(asAdmin().tokens.create.mutate({ name: '', role: 'viewer', ttlDays: 1 })).rejects.toThrow(/name the token/);
    expect(await outcome(asAdmin().tokens.create.mutate({ name: 'x', role: 'root' as 'admin', ttlDays: 1 }))).toBe('BAD_REQUEST');
    expect(await database.db.select().from(apiTokens)).toHaveLength(before.length);
  });

  it('a revoked token is refused at once, and revoking it again is refused', async () => {
    const { token, id } = await asAdmin().tokens.create.mutate({ name: 'short-lived', role: 'operator', ttlDays: 1 });
    expect(await outcome(withToken(token).auth.me.query())).toBe('OK');
    await asAdmin().tokens.revoke.mutate({ id });
    expect(await outcome(withToken(token).auth.me.query())).toBe('UNAUTHORIZED');
    await expect(asAdmin().tokens.revoke.mutate({ id })).rejects.toThrow(/already revoked/);
    const audit = (await tokenEvents('api-token.revoked')).filter((event) => event.objectId === id);
    expect(audit).toHaveLength(1);
    expect(audit[0]?.actorName).toBe('alice');
  });

  it('an expired token, a disabled user and an unknown token authenticate nobody; refusals are audited without the secret', async () => {
    const expiring = await asAdmin().tokens.create.mutate({ name: 'expiring', role: 'viewer', ttlDays: 1 });
    await database.db.update(apiTokens).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(apiTokens.id, expiring.id));
    expect(await outcome(withToken(expiring.token).auth.me.query())).toBe('UNAUTHORIZED');

    await createUser(database.db, { username: 'dana', password: 'dana-password-1', role: 'admin' }, null);
    const danaCookie = `${SECURE_COOKIE}=${(await signIn(database.db, 'dana', 'dana-password-1', 3_600_000)).token}`;
    const dana = await routeClient(route.trpc, { cookie: danaCookie }).tokens.create.mutate({ name: 'dana-bot', role: 'admin', ttlDays: 1 });
    // Demoted: the admin token now acts only as a viewer.
    await database.db.update(users).set({ role: 'viewer' }).where(eq(users.username, 'dana'));
    expect(await withToken(dana.token).auth.me.query()).toMatchObject({ role: 'viewer' });
    await database.db.update(users).set({ disabled: true }).where(eq(users.username, 'dana'));
    expect(await outcome(withToken(dana.token).auth.me.query())).toBe('UNAUTHORIZED');

    const forged = `tern_${'A'.repeat(43)}`;
    expect(await outcome(withToken(forged).auth.me.query())).toBe('UNAUTHORIZED');
    // A bad bearer token does not fall back to the session cookie sent alongside it.
    expect(await outcome(routeClient(route.trpc, { cookie: adminCookie, authorization: `Bearer ${forged}` }).auth.me.query())).toBe('UNAUTHORIZED');
    const refused = await tokenEvents('auth.api-token-refused');
    expect(refused.length).toBeGreaterThanOrEqual(4);
    for (const event of refused) {
      for (const secret of [expiring.token, dana.token, forged]) expect(JSON.stringify(event)).not.toContain(secret);
    }
  });

  it('the cross-site guard still refuses cookie sessions from another site and non-JSON mutations, bearer or not', async () => {
    const { token } = await asAdmin().tokens.create.mutate({ name: 'guard-check', role: 'admin', ttlDays: 1 });
    const countBefore = (await database.db.select().from(apiTokens)).length;
    const body = JSON.stringify({ json: { name: 'csrf', role: 'admin', ttlDays: 1 } });
    const crossSite = await route.trpc(
      new Request(`${CONSOLE_URL}/api/trpc/tokens.create`, { method: 'POST', body, headers: { cookie: adminCookie, origin: 'https://evil.example', 'content-type': 'application/json' } }),
    );
    expect(crossSite.status).toBe(403);
    const form = await route.trpc(
      new Request(`${CONSOLE_URL}/api/trpc/settings.setLimits`, { method: 'POST', body: new FormData(), headers: { authorization: `Bearer ${token}` } }),
    );
    expect(form.status).toBe(403);
    const bearerJson = await route.trpc(
      new Request(`${CONSOLE_URL}/api/trpc/auth.me`, { method: 'GET', headers: { authorization: `Bearer ${token}` } }),
    );
    expect(bearerJson.status).toBe(200);
    expect((await database.db.select().from(apiTokens)).length).toBe(countBefore);
    expect(await database.db.select().from(events).where(and(eq(events.kind, 'api.request-refused')))).toHaveLength(2);
  });
});
