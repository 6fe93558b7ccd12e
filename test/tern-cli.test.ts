/**
 * The `tern` command end to end: the real tRPC route on node:http with a real database and a
 * real agent under a verifiable workload. Lists, a plan, refusals (usage → 2, the console's
 * refusal → 1, and nothing changes), then an evacuation started, paused, resumed and watched to
 * completion by the command, with no acknowledged write lost. `watch` sleeps through an
 * injected function that runs engine ticks, so the evacuation advances while it watches.
 */
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evacuations } from '@/db/schema';
import { appRouter } from '@/server/api/root';
import { createApiToken } from '@/server/auth/api-tokens';
import { createUser } from '@/server/auth/sessions';
import { reconcileOnce } from '@/server/engine/reconciler';
import { bindRoutes, unbindRoutes } from '@/test/api-routes';
import { startConsoleServer, type ConsoleServer } from '@/test/console-server';
import { startEngineFixture, type EngineFixture } from '@/test/engine-fixture';
import { run } from '@/cli/tern';

let fx: EngineFixture;
let server: ConsoleServer;
let operatorToken: string;
let viewerToken: string;
let revokedToken: string;

beforeAll(async () => {
  fx = await startEngineFixture();
  await fx.volumeOnArray1('cli-a', 1024 * 1024 / 2);
  const route = await bindRoutes({ db: fx.db });
  const routes = Object.fromEntries(
    Object.keys(appRouter._def.procedures).flatMap((procedure) => [`GET /api/trpc/${procedure}`, `POST /api/trpc/${procedure}`].map((key) => [key, route.trpc])),
  );
  server = await startConsoleServer(routes);
  const admin = await createUser(fx.db, { username: 'cli-admin', password: 'cli-admin-password', role: 'admin' }, null);
  operatorToken = (await createApiToken(fx.db, admin, { name: 'cli-operator', role: 'operator', ttlDays: 1 })).token;
  viewerToken = (await createApiToken(fx.db, admin, { name: 'cli-viewer', role: 'viewer', ttlDays: 1 })).token;
  const revoked = await createApiToken(fx.db, admin, { name: 'cli-revoked', role: 'admin', ttlDays: 1 });
  revokedToken = revoked.token;
  await appRouter.createCaller({ db: fx.db, user: admin, sessionToken: undefined, secure: false, clientAddress: 'test' }).tokens.revoke({ id: revoked.id });
}, 90_000);

afterAll(async () => {
  unbindRoutes();
  await server?.close();
  await fx?.close();
});

/** Runs one command line in process and collects what it prints. */
async function tern(args: string[], token = operatorToken, tick = false, extraEnv: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(args, { TERN_URL: server.url, TERN_TOKEN: token, ...extraEnv }, {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    // Instead of waiting a second: let the engine take a step, as the console's loop would.
    sleep: async () => {
      if (tick) await reconcileOnce(fx.db);
      await sleep(tick ? 150 : 0);
    },
  });
  return { code, out: out.join('\n'), err: err.join('\n'), lines: out };
}

describe('tern', () => {
  it('lists arrays, hosts and migrations as tables or JSON', async () => {
    const arrays = await tern(['arrays']);
    expect(arrays.code).toBe(0);
    expect(arrays.lines[0]).toMatch(/^NAME\s+STATE\s+TIER\s+CAPACITY/);
    expect(arrays.out).toMatch(/ARR-01\s+online\s+1\s+256 MiB/);
    const json = JSON.parse((await tern(['arrays', '--json'])).out) as { name: string }[];
    expect(json.map((a) => a.name)).toEqual(['ARR-01', 'ARR-02', 'ARR-03']);
    expect((await tern(['hosts'])).out).toMatch(/engine-host\s+connected\s+1\s+ARR-01/);
    const migrations = await tern(['migrations', '--state', 'copying,queued']);
    expect(migrations).toMatchObject({ code: 0 });
    expect(migrations.lines).toHaveLength(1);
  });

  it('plans an evacuation without changing anything', async () => {
    const plan = await tern(['evacuate', 'plan', 'ARR-01', '--targets', 'ARR-02']);
    expect(plan.code).toBe(0);
    expect(plan.out).toMatch(/dg\/cli-a\s+engine-host\s+16.0 MiB\s+ARR-02/);
    expect(plan.out).toContain('Predicted:');
    const json = JSON.parse((await tern(['evacuate', 'plan', 'ARR-01', '--json'])).out) as { moves: unknown[]; blocked: boolean };
    expect(json).toMatchObject({ blocked: false });
    expect(json.moves).toHaveLength(1);
    expect(await fx.db.select().from(evacuations)).toHaveLength(0);
  });

  it('exits 2 on wrong usage and 1 on a refusal, with the reason, and changes nothing', async () => {
    expect(await tern([])).toMatchObject({ code: 2 });
    expect(await tern(['frobnicate'])).toMatchObject({ code: 2, err: expect.stringContaining('unknown command') });
    expect(await tern(['arrays', '--colour'])).toMatchObject({ code: 2 });
    expect(await tern(['evacuate', 'plan', 'ARR-99'])).toMatchObject({ code: 2, err: expect.stringContaining('no array named ARR-99') });
    expect(await tern(['evacuate', 'start', 'ARR-01'])).toMatchObject({ code: 2, err: expect.stringContaining('--yes') });
    expect(await tern(['evacuate', 'start', 'ARR-01', '--yes'], viewerToken)).toMatchObject({ code: 1, err: expect.stringContaining('requires the operator role') });
    expect(await tern(['arrays'], revokedToken)).toMatchObject({ code: 1, err: expect.stringContaining('UNAUTHORIZED') });
    expect(await tern(['migrations', '--state', 'sideways'])).toMatchObject({ code: 1, err: expect.stringContaining('BAD_REQUEST') });
    expect(await tern(['evacuation', 'pause', '00000000-0000-4000-8000-000000000000'])).toMatchObject({ code: 1, err: expect.stringContaining('does not exist') });
    expect(await fx.db.select().from(evacuations)).toHaveLength(0);
  });

  it('starts, pauses, resumes and watches an evacuation to completion; nothing acknowledged is lost', async () => {
    const started = await tern(['evacuate', 'start', 'ARR-01', '--targets', 'ARR-02', '--yes', '--json']);
    expect(started.code).toBe(0);
    const { id } = JSON.parse(started.out) as { id: string };
    expect((await tern(['evacuations'])).out).toMatch(new RegExp(`${id}\\s+ARR-01\\s+running`));

    expect(await tern(['evacuation', 'pause', id])).toMatchObject({ code: 0, out: expect.stringContaining('now paused') });
    expect(await tern(['evacuation', 'pause', id])).toMatchObject({ code: 1, err: expect.stringContaining('cannot pause an evacuation that is paused') });
    expect(await tern(['evacuation', 'resume', id])).toMatchObject({ code: 0, out: expect.stringContaining('now running') });

    const watched = await tern(['evacuation', 'watch', id], operatorToken, true);
    expect(watched.code).toBe(0);
    expect(watched.lines.length).toBeGreaterThan(1);
    expect(watched.lines.at(-1)).toMatch(/^\d\d:\d\d:\d\d completed · 1\/1 switched · 0 B left on source/);
    expect(await tern(['evacuation', 'commit-all', id, '--yes'])).toMatchObject({ code: 1, err: expect.stringContaining('completed') });
    expect((await tern(['migrations', '--state', 'completed'])).out).toMatch(/engine-host\s+dg\/cli-a\s+ARR-01\s+ARR-02\s+completed/);

    const report = await fx.stopAndVerify('cli-a');
    expect(report.verify?.lost).toBe(0);
    expect(report.verify?.checked).toBeGreaterThan(0);
  }, 120_000);

  it('creates a token by signing in (never with another token), lists it without the secret and revokes it', async () => {
    expect(await tern(['token', 'create', 'nightly', '--role', 'viewer', '--user', 'cli-admin'], operatorToken, false, { TERN_PASSWORD: 'wrong-password' })).toMatchObject({ code: 1, err: expect.stringContaining('sign-in refused') });
    expect(await tern(['token', 'create', 'nightly', '--role', 'root', '--user', 'cli-admin'], operatorToken, false, { TERN_PASSWORD: 'cli-admin-password' })).toMatchObject({ code: 2 });
    const created = await tern(['token', 'create', 'nightly', '--role', 'viewer', '--days', '7', '--user', 'cli-admin'], operatorToken, false, { TERN_PASSWORD: 'cli-admin-password' });
    expect(created.code).toBe(0);
    const nightly = created.out.trim();
    expect(nightly).toMatch(/^tern_[A-Za-z0-9_-]{43}$/);
    expect(await tern(['arrays'], nightly)).toMatchObject({ code: 0 });
    expect(await tern(['tokens'], nightly)).toMatchObject({ code: 1, err: expect.stringContaining('FORBIDDEN') });
    const adminToken = (await tern(['token', 'create', 'cli-ops', '--role', 'admin', '--user', 'cli-admin', '--json'], operatorToken, false, { TERN_PASSWORD: 'cli-admin-password' })).out;
    const admin = (JSON.parse(adminToken) as { token: string }).token;
    const listed = await tern(['tokens', '--json'], admin);
    const rows = JSON.parse(listed.out) as { id: string; name: string; revokedAt: string | null }[];
    expect(listed.out).not.toContain(nightly);
    const id = rows.find((row) => row.name === 'nightly')?.id ?? 'missing';
    expect(await tern(['token', 'revoke', id], admin)).toMatchObject({ code: 0, out: expect.stringContaining('revoked API token "nightly"') });
    expect(await tern(['arrays'], nightly)).toMatchObject({ code: 1, err: expect.stringContaining('UNAUTHORIZED') });
  });

  it('runs as a command: npm run tern / bin/tern.mjs, with its exit code', async () => {
    const exec = promisify(execFile);
    const { stdout } = await exec(process.execPath, ['bin/tern.mjs', 'hosts', '--json'], { env: { ...process.env, TERN_URL: server.url, TERN_TOKEN: viewerToken } });
    expect((JSON.parse(stdout) as { hostname: string }[]).map((h) => h.hostname)).toEqual(['engine-host']);
    const refused = await exec(process.execPath, ['bin/tern.mjs', 'arrays'], { env: { ...process.env, TERN_URL: server.url, TERN_TOKEN: revokedToken } }).catch((error: { code: number; stderr: string }) => error);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('revoked or expired') });
  });
});
