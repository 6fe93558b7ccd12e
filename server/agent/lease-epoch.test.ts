/**
 * Lease-epoch fencing on the agent's HTTP API (docs/testing.md §7), table-driven over every mutating
 * migration route: a command from an epoch older than the highest the agent has seen for the
 * migration is refused with 409 `stale-epoch` and changes nothing; an equal, higher or absent
 * epoch passes, a higher one raises the mark and an absent one leaves it; a malformed epoch is a
 * 400; and the mark survives a restart. The agent's real HTTP server, volume runtime and jobs on
 * 1 MiB volumes, on loopback.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, open, rm } from 'node:fs/promises';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEASE_EPOCH_HEADER, type MigrationStatus } from '../protocol/agent-api';
import { waitFor } from '@/test/wait-for';
import { createAgentServer, sha256Hex } from './http-api';
import { createLogger } from './log';
import { DataDir } from './store';
import { VolumeManager } from './volume-manager';
import { VolumeRuntime } from './volume-runtime';
import { Workloads } from './workloads';

const MiB = 1024 * 1024;
const MARK = 5;
const quiet = createLogger(() => undefined);
const consoleKey = randomBytes(32).toString('hex');

let root: string;
let dataDir: DataDir;
let agent: { config: VolumeManager; runtime: VolumeRuntime; workloads: Workloads; server: http.Server; url: string };

async function startAgent() {
  const config = await VolumeManager.open(dataDir);
  const runtime = new VolumeRuntime(config, dataDir.dir, quiet);
  await runtime.open();
  const workloads = new Workloads(runtime);
  const server = createAgentServer({ volumes: config, runtime, workloads, consoleKeySha256: () => sha256Hex(consoleKey), log: quiet });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { config, runtime, workloads, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function stopAgent() {
  agent.server.close();
  await agent.workloads.close();
  await agent.runtime.close();
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'tern-lease-epoch-'));
  dataDir = new DataDir(path.join(root, 'agent'));
  await dataDir.ensure();
  agent = await startAgent();
});

afterAll(async () => {
  if (agent) await stopAgent();
  if (root) await rm(root, { recursive: true, force: true });
});

interface Reply {
  status: number;
  body: MigrationStatus & { error?: string; code?: string };
}

/** One call as the console; `epoch` undefined sends no epoch header, a string sends it as given. */
async function call(method: string, pathname: string, body?: unknown, epoch?: number | string): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${consoleKey}`, 'content-type': 'application/json' };
  if (epoch !== undefined) headers[LEASE_EPOCH_HEADER] = String(epoch);
  const response = await fetch(new URL(pathname, agent.url), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Reply['body'] };
}

const status = async (id: string) => (await call('GET', `/v1/migrations/${id}`)).body;

/** What a refused command must leave as it was. */
const observable = (s: MigrationStatus) => ({ phase: s.phase, paused: s.paused, switched: s.switched, throttleBytesPerS: s.throttleBytesPerS, result: s.result });

/** A 1 MiB volume on its own LUN, and a mapped empty LUN to move it to. */
async function newVolume(name: string) {
  const arrayId = randomUUID();
  const luns = [];
  for (const role of ['source', 'target']) {
    const file = path.join(root, `${name}-${role}.lun`);
    const handle = await open(file, 'w');
    await handle.truncate(MiB);
    await handle.close();
    const lunId = randomUUID();
    await agent.config.mapLun(lunId, { wwn: `wwn-${name}-${role}`, arrayId, arrayName: 'ARR', path: file, sizeBytes: MiB });
    luns.push(lunId);
  }
  await agent.config.createVolume({ diskGroup: 'dg', name, sizeBytes: MiB, lunId: luns[0]! });
  return { volume: `dg/${name}`, targetLunId: luns[1]! };
}

type Setup = 'ready' | 'paused' | 'verified';

/** A job started under epoch MARK and brought to `setup`: ready (manual cutover), paused in ready, or verified. */
async function jobAt(name: string, setup: Setup): Promise<string> {
  const { volume, targetLunId } = await newVolume(name);
  const started = await call('POST', '/v1/migrations', { id: name, volume, targetLunId, strategy: 'precopy', cutover: setup === 'verified' ? 'auto' : 'manual' }, MARK);
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  await waitFor(`${name} to be ${setup === 'verified' ? 'verified' : 'ready'}`, async () => (await status(name)).phase === (setup === 'verified' ? 'verified' : 'ready'));
  if (setup === 'paused') expect((await call('POST', `/v1/migrations/${name}/pause`, {}, MARK)).status).toBe(200);
  return name;
}

interface Route {
  name: string;
  setup: Setup;
  send: (id: string, epoch?: number | string) => Promise<Reply>;
  /** Whether the accepted command's effect shows (the caller waits for it). */
  took: (s: MigrationStatus) => boolean;
}

const action = (name: string, setup: Setup, took: Route['took']): Route => ({
  name,
  setup,
  send: (id, epoch) => call('POST', `/v1/migrations/${id}/${name}`, {}, epoch),
  took,
});

const routes: Route[] = [
  action('pause', 'ready', (s) => s.paused),
  action('resume', 'paused', (s) => !s.paused),
  action('cutover', 'ready', (s) => s.switched),
  action('commit', 'verified', (s) => s.phase === 'committed'),
  action('rollback', 'ready', (s) => s.phase === 'rolled-back'),
  action('cancel', 'ready', (s) => s.phase === 'cancelled'),
  { name: 'throttle', setup: 'ready', send: (id, epoch) => call('PUT', `/v1/migrations/${id}/throttle`, { bytesPerS: 123_456 }, epoch), took: (s) => s.throttleBytesPerS === 123_456 },
];

const accepted = [
  { kind: 'absent', epoch: undefined, markAfter: MARK },
  { kind: 'equal', epoch: MARK, markAfter: MARK },
  { kind: 'higher', epoch: MARK + 1, markAfter: MARK + 1 },
] as const;

/** The mark is `mark`: one below is refused as stale, `mark` itself passes the fence (whatever the action then says). */
async function expectMark(id: string, mark: number) {
  const below = await call('POST', `/v1/migrations/${id}/pause`, {}, mark - 1);
  expect(below.status).toBe(409);
  expect(below.body.code).toBe('stale-epoch');
  expect(below.body.error).toContain(`epoch ${mark - 1} is older than epoch ${mark} `);
  const at = await call('POST', `/v1/migrations/${id}/pause`, {}, mark);
  expect(at.body.code, JSON.stringify(at.body)).not.toBe('stale-epoch');
}

describe('agent fences migration commands by lease epoch', () => {
  describe.each(routes)('$name', (route) => {
    it.each(accepted)('refuses an older epoch unchanged, then accepts an $kind one', async ({ kind, epoch, markAfter }) => {
      const id = await jobAt(`${route.name}-${kind}`, route.setup);
      const before = observable(await status(id));

      const stale = await route.send(id, MARK - 1);
      expect(stale.status).toBe(409);
      expect(stale.body).toEqual({
        code: 'stale-epoch',
        error: `lease epoch ${MARK - 1} is older than epoch ${MARK} this agent has seen for migration ${id}; another console replica drives it now`,
      });
      await sleep(200); // a command that slipped through would show by now (a cutover switches within ms)
      expect(observable(await status(id)), 'a refused command changes nothing').toEqual(before);

      const reply = await route.send(id, epoch);
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
      await waitFor(`${route.name} to take effect`, async () => route.took(await status(id)));
      await expectMark(id, markAfter);
    });
  });

  describe('start', () => {
    it('records the start’s epoch as the new job’s mark, and starts without one from an older console', async () => {
      const { volume, targetLunId } = await newVolume('start-new');
      expect((await call('POST', '/v1/migrations', { id: 'start-new', volume, targetLunId, strategy: 'precopy', cutover: 'manual' }, MARK)).status).toBe(200);
      await expectMark('start-new', MARK);

      const old = await newVolume('start-unfenced');
      expect((await call('POST', '/v1/migrations', { id: 'start-unfenced', volume: old.volume, targetLunId: old.targetLunId, strategy: 'precopy', cutover: 'manual' })).status).toBe(200);
      // No mark yet: any epoch passes and the first one sets it.
      expect((await call('POST', '/v1/migrations/start-unfenced/pause', {}, 1)).status).toBe(200);
      await expectMark('start-unfenced', 1);
    });

    it.each([
      { kind: 'older', epoch: MARK - 1, code: 'stale-epoch', markAfter: MARK },
      { kind: 'absent', epoch: undefined, code: 'migration-exists', markAfter: MARK },
      { kind: 'equal', epoch: MARK, code: 'migration-exists', markAfter: MARK },
      { kind: 'higher', epoch: MARK + 1, code: 'migration-exists', markAfter: MARK + 1 },
    ] as const)('answers a repeated start with an $kind epoch with $code', async ({ kind, epoch, code, markAfter }) => {
      const id = await jobAt(`restart-${kind}`, 'ready');
      const before = observable(await status(id));
      const { volume, targetLunId } = await newVolume(`restart-${kind}-other`);
      const again = await call('POST', '/v1/migrations', { id, volume, targetLunId, strategy: 'mirror' }, epoch);
      expect(again.status).toBe(409);
      expect(again.body.code).toBe(code);
      expect(observable(await status(id))).toEqual(before);
      expect((await status(`restart-${kind}-other`)).code, 'nothing started on the other volume').toBe('no-migration');
      await expectMark(id, markAfter);
    });
  });

  it.each(['-1', '1.5', 'abc', '', '1e3', '9999999999999999', '3, 4'])('refuses a malformed epoch %j with 400, changing nothing', async (header) => {
    const id = await jobAt(`malformed-${Buffer.from(header).toString('hex') || 'empty'}`, 'ready');
    const before = observable(await status(id));
    for (const reply of [
      await call('POST', `/v1/migrations/${id}/pause`, {}, header),
      await call('PUT', `/v1/migrations/${id}/throttle`, { bytesPerS: 1 }, header),
      await call('POST', `/v1/migrations/${id}/cancel`, {}, header),
    ]) {
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe('invalid-request');
      expect(reply.body.error).toMatch(/X-Tern-Lease-Epoch must be one non-negative integer/);
    }
    expect(observable(await status(id))).toEqual(before);
    await expectMark(id, MARK);
  });

  it('reads need no epoch and are never refused for one; a newer one on a status read raises the mark', async () => {
    const id = await jobAt('reads', 'ready');
    expect((await call('GET', `/v1/migrations/${id}`, undefined, 1)).status).toBe(200);
    expect((await call('GET', `/v1/migrations/${id}/samples`, undefined, 99)).status).toBe(200);
    expect((await call('GET', '/v1/migrations', undefined, 99)).status).toBe(200);
    await expectMark(id, MARK);
    // A replica that took the migration over announces its epoch with its first status read.
    expect((await call('GET', `/v1/migrations/${id}`, undefined, MARK + 3)).status).toBe(200);
    await expectMark(id, MARK + 3);
    expect((await call('POST', `/v1/migrations/${id}/pause`, {}, MARK + 2)).body.code).toBe('stale-epoch');
  });

  it('keeps the mark across a restart of the agent', async () => {
    const id = await jobAt('survives', 'ready');
    expect((await call('PUT', `/v1/migrations/${id}/throttle`, { bytesPerS: MiB }, MARK + 2)).status).toBe(200);
    await stopAgent();
    agent = await startAgent();
    await waitFor('the job to resume', async () => (await status(id)).restarts === 1);
    const stale = await call('PUT', `/v1/migrations/${id}/throttle`, { bytesPerS: 1 }, MARK + 1);
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('stale-epoch');
    expect((await status(id)).throttleBytesPerS).toBe(MiB);
    await expectMark(id, MARK + 2);
  });
});
