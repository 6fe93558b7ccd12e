/**
 * Sign-in rate limits: the limiter's windows with an injected clock, then the real tRPC fetch
 * handler answering 429 with Retry-After while the same admin signs in from another address.
 */
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenDatabase } from '@/db/open';
import { events } from '@/db/schema';
import { appRouter } from '@/server/api/root';
import { createContext } from '@/server/api/trpc';
import { freshDatabase } from '@/test/db';
import { clientAddress, SignInLimiter, SIGN_IN_LIMITS } from './rate-limit';
import { createUser } from './sessions';

describe('SignInLimiter', () => {
  const { perUserAddress, perAddress } = SIGN_IN_LIMITS;

  it('blocks a (username, address) after its limit, says when to retry, and leaves other addresses alone', () => {
    const limiter = new SignInLimiter();
    const t0 = 1_000_000;
    for (let i = 0; i < perUserAddress.limit; i++) {
      expect(limiter.check('admin', '10.0.0.1', t0 + i)).toBeUndefined();
      limiter.fail('admin', '10.0.0.1', t0 + i);
    }
    const refusal = limiter.check('Admin', '10.0.0.1', t0 + 10);
    expect(refusal).toMatchObject({ scope: 'perUserAddress', retryAt: new Date(t0 + perUserAddress.windowMs) });
    expect(refusal?.retryAfterS).toBe(Math.ceil((perUserAddress.windowMs - 10) / 1000));
    expect(limiter.check('admin', '10.0.0.2', t0 + 10)).toBeUndefined();
    expect(limiter.check('admin', '10.0.0.1', t0 + perUserAddress.windowMs)).toBeUndefined();
  });

  it('resets a pair on success but not the address count', () => {
    const limiter = new SignInLimiter();
    for (let i = 0; i < perUserAddress.limit - 1; i++) limiter.fail('ops', '10.0.0.3', i);
    limiter.succeed('ops', '10.0.0.3');
    for (let i = 0; i < perUserAddress.limit - 1; i++) limiter.fail('ops', '10.0.0.3', 100 + i);
    expect(limiter.check('ops', '10.0.0.3', 200)).toBeUndefined();
    limiter.fail('ops', '10.0.0.3', 201);
    expect(limiter.check('ops', '10.0.0.3', 202)?.scope).toBe('perUserAddress');
  });

  it('blocks an address spraying many usernames for the shorter window', () => {
    const limiter = new SignInLimiter();
    for (let i = 0; i < perAddress.limit; i++) limiter.fail(`user-${i}`, '10.0.0.9', i);
    const refusal = limiter.check('someone-new', '10.0.0.9', perAddress.limit);
    expect(refusal?.scope).toBe('perAddress');
    expect(refusal?.retryAt.getTime()).toBe(perAddress.windowMs);
    expect(limiter.check('someone-new', '10.0.0.10', perAddress.limit)).toBeUndefined();
    expect(limiter.check('someone-new', '10.0.0.9', perAddress.windowMs + perAddress.limit)).toBeUndefined();
  });

  it('takes the address the nearest proxy appended', () => {
    expect(clientAddress(new Headers({ 'x-forwarded-for': '1.2.3.4, 10.0.0.7' }))).toBe('10.0.0.7');
    expect(clientAddress(new Headers())).toBe('unknown');
  });
});

describe('auth.signIn through the tRPC fetch handler', () => {
  let opened: OpenDatabase;
  beforeAll(async () => {
    opened = await freshDatabase();
    await createUser(opened.db, { username: 'root-admin', password: 'the-right-password', role: 'admin' }, null);
  });
  afterAll(async () => {
    await opened?.close();
  });

  function signIn(password: string, address: string) {
    const request = new Request('http://localhost/api/trpc/auth.signIn', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
      body: JSON.stringify({ json: { username: 'root-admin', password } }),
    });
    return fetchRequestHandler({
      endpoint: '/api/trpc',
      req: request,
      router: appRouter,
      createContext: ({ resHeaders }) => createContext({ db: opened.db, headers: request.headers, secure: true, resHeaders }),
    });
  }

  it('answers 429 with Retry-After after repeated failures, while the admin signs in from elsewhere', async () => {
    for (let i = 0; i < SIGN_IN_LIMITS.perUserAddress.limit; i++) {
      expect((await signIn(`guess-${i}`, '203.0.113.5')).status).toBe(401);
    }
    const refused = await signIn('the-right-password', '203.0.113.5');
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(SIGN_IN_LIMITS.perUserAddress.windowMs / 1000);
    const body = (await refused.json()) as { error: { json: { message: string } } };
    expect(body.error.json.message).toMatch(/Too many failed sign-ins.*try again in \d+ s/);
    expect(refused.headers.get('set-cookie')).toBeNull();

    const elsewhere = await signIn('the-right-password', '198.51.100.20');
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.headers.get('set-cookie')).toMatch(/__Host-tern-session=/);

    const limited = await opened.db.select().from(events).where(eq(events.kind, 'auth.rate-limited'));
    expect(limited).toHaveLength(1);
    expect(limited[0]).toMatchObject({ severity: 'warning', objectName: 'root-admin', after: { clientAddress: '203.0.113.5', scope: 'perUserAddress', retryAfterS: retryAfter } });
    const all = JSON.stringify(await opened.db.select().from(events));
    expect(all).not.toContain('the-right-password');
    expect(all).not.toContain('guess-0');
  });
});
