/**
 * The operator's endpoints through their real route functions: `/api/health` (open, nothing
 * secret, 503 when the database is gone), `/api/metrics` (Prometheus text, a viewer token or
 * session, figures that move after an action), and the JSON log lines of a sign-in and a token
 * use, which must carry procedure and duration and never a password, token or cookie.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenDatabase } from '@/db/open';
import { hosts } from '@/db/schema';
import { SECURE_COOKIE } from '@/server/auth/cookies';
import { createUser, signIn } from '@/server/auth/sessions';
import { bindRoutes, CONSOLE_URL, routeClient, unbindRoutes } from './api-routes';
import { freshDatabase } from './db';

let database: OpenDatabase;
let route: Awaited<ReturnType<typeof bindRoutes>>;
let folder: string;
let adminCookie: string;
let viewerToken: string;
let closed = false;

beforeAll(async () => {
  database = await freshDatabase();
  route = await bindRoutes(database);
  folder = await mkdtemp(path.join(os.tmpdir(), 'tern-ops-'));
  await createUser(database.db, { username: 'root', password: 'root-password-123', role: 'admin' }, null);
  adminCookie = `${SECURE_COOKIE}=${(await signIn(database.db, 'root', 'root-password-123', 3_600_000)).token}`;
  viewerToken = (await routeClient(route.trpc, { cookie: adminCookie }).tokens.create.mutate({ name: 'prometheus', role: 'viewer', ttlDays: 365 })).token;
});

afterAll(async () => {
  unbindRoutes();
  if (!closed) await database?.close();
  await rm(folder, { recursive: true, force: true });
});

/** Every sample of a Prometheus text exposition, keyed by `name{labels}` as written. */
function parseExposition(text: string) {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/);
    if (type?.[1] && type[2]) {
      types.set(type[1], type[2]);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const sample = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (-?[0-9.e+]+|NaN|\+Inf|-Inf)$/);
    if (!sample?.[1] || !sample[2]) throw new Error(`not an exposition line: ${line}`);
    samples.set(sample[1], Number(sample[2]));
  }
  return { samples, types };
}

async function scrape(headers: Record<string, string>) {
  const response = await route.metrics(new Request(`${CONSOLE_URL}/api/metrics`, { headers }));
  return { response, ...(response.ok ? parseExposition(await response.text()) : { samples: new Map<string, number>(), types: new Map<string, string>() }) };
}

describe('/api/health', () => {
  it('answers 200 with the database state, version and uptime, and nothing else', async () => {
    const response = await route.health();
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['database', 'status', 'uptimeS', 'version']);
    expect(body).toMatchObject({ status: 'ok', database: 'ok', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(body.uptimeS).toBeTypeOf('number');
  });
});

describe('/api/metrics', () => {
  it('refuses a caller with no session or token, and a bad token', async () => {
    expect((await scrape({})).response.status).toBe(401);
    expect((await scrape({ authorization: 'Bearer tern_not-a-real-token' })).response.status).toBe(401);
  });

  it('serves every family in the exposition format to a viewer token, and the figures follow actions', async () => {
    const first = await scrape({ authorization: `Bearer ${viewerToken}` });
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    expect(Object.fromEntries(first.types)).toMatchObject({
      tern_migrations: 'gauge',
      tern_migration_copied_bytes: 'gauge',
      tern_array_copy_rate_bytes_per_second: 'gauge',
      tern_evacuations: 'gauge',
      tern_hosts: 'gauge',
      tern_arrays: 'gauge',
      tern_agent_heartbeat_age_seconds: 'gauge',
      tern_api_requests_total: 'counter',
      tern_api_request_duration_seconds: 'histogram',
      process_cpu_user_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
    });
    expect(first.samples.get('tern_migrations{state="copying"}')).toBe(0);
    expect(first.samples.get('tern_evacuations{state="running"}')).toBe(0);
    expect(first.samples.get('tern_arrays{state="online"}')).toBe(0);
    expect(first.samples.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    const createdBefore = first.samples.get('tern_api_requests_total{procedure="arrays.create",type="mutation",code="OK"}') ?? 0;

    const admin = routeClient(route.trpc, { cookie: adminCookie });
    await admin.arrays.create.mutate({ name: 'ARR-M1', vendor: 'Test', model: 'dir', tier: 1, capacityBytes: 1024 ** 3, driver: { kind: 'directory', path: path.join(folder, 'arr-m1') } });
    await database.db.insert(hosts).values({ hostname: 'db-07', state: 'connected', credentialHash: 'x'.repeat(64), lastHeartbeatAt: new Date(Date.now() - 5_000) });

    const second = await scrape({ cookie: adminCookie });
    expect(second.response.status).toBe(200);
    expect(second.samples.get('tern_arrays{state="online"}')).toBe(1);
    expect(second.samples.get('tern_array_copy_rate_bytes_per_second{array="ARR-M1",direction="target"}')).toBe(0);
    expect(second.samples.get('tern_hosts{state="connected"}')).toBe(1);
    expect(second.samples.get('tern_agent_heartbeat_age_seconds{host="db-07",state="connected"}')).toBeGreaterThanOrEqual(5);
    expect(second.samples.get('tern_api_requests_total{procedure="arrays.create",type="mutation",code="OK"}')).toBe(createdBefore + 1);
    const count = second.samples.get('tern_api_request_duration_seconds_count{procedure="arrays.create"}');
    expect(count).toBe(createdBefore + 1);
    expect(second.samples.get('tern_api_request_duration_seconds_bucket{procedure="arrays.create",le="+Inf"}')).toBe(count);
  });
});

describe('structured logs', () => {
  it('are one JSON object per line with time, level, msg, procedure and duration, and never hold a secret', async () => {
    const lines: string[] = [];
    const original = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
    const capture = (chunk: unknown) => {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    };
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    let sessionCookie = '';
    const password = 'a-Very-secret-passw0rd';
    try {
      await createUser(database.db, { username: 'logcheck', password, role: 'operator' }, null);
      const signedIn = await route.trpc(
        new Request(`${CONSOLE_URL}/api/trpc/auth.signIn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ json: { username: 'logcheck', password } }) }),
      );
      expect(signedIn.status).toBe(200);
      sessionCookie = signedIn.headers.get('set-cookie')?.split(';')[0] ?? '';
      expect(sessionCookie).toContain('=');
      const wrong = await route.trpc(
        new Request(`${CONSOLE_URL}/api/trpc/auth.signIn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ json: { username: 'logcheck', password: `${password}-wrong` } }) }),
      );
      expect(wrong.status).toBe(401);
      await routeClient(route.trpc, { authorization: `Bearer ${viewerToken}` }).settings.get.query();
      await routeClient(route.trpc, { cookie: sessionCookie }).migrations.pause.mutate({ id: '00000000-0000-4000-8000-000000000000' }).catch(() => undefined);
    } finally {
      process.stdout.write = original.out;
      process.stderr.write = original.err;
    }
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const record of records) expect(record).toMatchObject({ t: expect.any(String), level: expect.any(String), msg: expect.any(String) });
    const requests = records.filter((record) => record.msg === 'api request');
    expect(requests.find((record) => record.procedure === 'auth.signIn' && record.code === 'OK')).toMatchObject({ type: 'mutation', durationMs: expect.any(Number) });
    expect(requests.find((record) => record.procedure === 'auth.signIn' && record.code === 'UNAUTHORIZED')).toBeDefined();
    expect(requests.find((record) => record.procedure === 'migrations.pause')).toMatchObject({ user: 'logcheck', via: 'session', durationMs: expect.any(Number) });
    const text = lines.join('\n');
    for (const secret of [password, viewerToken, viewerToken.slice(5), sessionCookie.split('=')[1] ?? 'missing', adminCookie.split('=')[1] ?? 'missing']) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('/api/health without a database', () => {
  it('answers 503 and says the database is the problem', async () => {
    await database.close();
    closed = true;
    const response = await route.health();
    expect(response.status).toBe(503);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.status).toBe('error');
    expect(String(body.database)).toMatch(/^error: /);
  });
});
