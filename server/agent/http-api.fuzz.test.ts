/**
 * Hostile input for a real agent's HTTP API (docs/testing.md item 10): random and malformed requests
 * (methods, paths with bad percent-encoding and traversal, bodies that are not JSON, too large or
 * almost valid, every kind of Authorization header, lease-epoch headers valid and not) against a
 * real agent process that holds a LUN and a volume. Without the console key every request is
 * answered 401; with it, no 500; the agent never crashes, and answers a normal call afterwards.
 * Folders in bodies are confined to the test's sandbox (tests run as root here). TERN_FUZZ_RUNS
 * scales the request count.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenDatabase } from '@/db/open';
import { arrays, hosts, luns } from '@/db/schema';
import { agentClient } from '@/server/fleet/agent-client';
import { agentRouteTable } from '@/server/fleet/agent-routes';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { createEnrolmentToken } from '@/server/fleet/enrolment';
import { LEASE_EPOCH_HEADER } from '@/server/protocol/agent-api';
import { killAllAgents, spawnAgent, type AgentProcess } from '@/test/agent-process';
import { startConsoleServer, type ConsoleServer } from '@/test/console-server';
import { freshDatabase } from '@/test/db';

const RUNS = Number(process.env.TERN_FUZZ_RUNS ?? 30) * 10;
const MiB = 1024 * 1024;

let opened: OpenDatabase;
let consoleServer: ConsoleServer;
let sandbox: string;
let agent: AgentProcess;
let agentUrl: URL;
let consoleKey: string;
let lunId: string;

beforeAll(async () => {
  opened = await freshDatabase();
  const { db } = opened;
  consoleServer = await startConsoleServer(agentRouteTable(db));
  sandbox = await mkdtemp(path.join(os.tmpdir(), 'tern-agent-fuzz-'));
  await mkdir(path.join(sandbox, 'luns'));
  const { token } = await createEnrolmentToken(db, { label: 'fuzz', createdBy: 'test' });
  agent = spawnAgent({ consoleUrl: consoleServer.url, dataDir: path.join(sandbox, 'agent'), token, hostname: 'fuzz-agent' });
  const started = await agent.waitForLog((line) => line.msg === 'started');
  const hostId = started.hostId as string;
  agentUrl = new URL(started.agentUrl as string);
  consoleKey = await consoleKeyFor(db, hostId);

  // Something for the requests to hit: a mapped LUN with a volume on it.
  const [array] = await db.insert(arrays).values({ name: 'fuzz-array', vendor: 'Tern', model: 'directory', tier: 1, driver: 'directory', driverConfig: { path: path.join(sandbox, 'luns') }, capacityBytes: 1024 * MiB }).returning();
  const file = path.join(sandbox, 'luns', 'lun-1.lun');
  const handle = await open(file, 'w');
  await handle.truncate(16 * MiB);
  await handle.close();
  const [lun] = await db.insert(luns).values({ arrayId: array!.id, name: 'lun-1', wwn: `wwn-fuzz-${randomBytes(3).toString('hex')}`, sizeBytes: 16 * MiB, path: file }).returning();
  lunId = lun!.id;
  const [host] = await db.select({ id: hosts.id, hostname: hosts.hostname, agentUrl: hosts.agentUrl }).from(hosts).where(eq(hosts.id, hostId));
  await agentClient.mapLun(db, host!, lunId, { wwn: lun!.wwn, arrayId: array!.id, arrayName: 'fuzz-array', path: file, sizeBytes: lun!.sizeBytes });
  await agentClient.createVolume(db, host!, { diskGroup: 'dg', name: 'vol', sizeBytes: 4 * MiB, lunId });
}, 60_000);

afterAll(async () => {
  await killAllAgents();
  await consoleServer?.close();
  await opened?.close();
  if (sandbox) await rm(sandbox, { recursive: true, force: true });
});

interface Reply {
  status: number;
  body: string;
}

/** One request over node:http, which sends any method token and any path bytes as given. */
function send(method: string, target: string, headers: Record<string, string>, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: agentUrl.hostname, port: agentUrl.port, method, path: target, headers, timeout: 20_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer to ${method} ${target} within 20 s`)));
    // The agent may answer 401/413 and close before reading a large body: that is not a failure.
    request.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? resolve({ status: -1, body: '' }) : reject(error)));
    request.end(body);
  });
}

// ---- arbitraries ----------------------------------------------------------------------------

const segment = fc.oneof(
  fc.constantFrom('dg', 'vol', 'pause', 'resume', 'cutover', 'commit', 'rollback', 'cancel', 'throttle', 'samples', 'verify', '..', '.', '', '%2e%2e', '%ZZ', '%', '%00', '%2F', '%C0%AF', 'mig-1', 'a'.repeat(5000)),
  fc.uuid(),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map(encodeURIComponent),
  fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/),
);
const route = fc.constantFrom('/v1/inventory', '/v1/volumes', '/v1/workloads', '/v1/migrations', '/v1/luns', '/v1/workloads/dg/vol', '/v1/workloads/dg/vol/verify', '/', '/v2', '//v1//inventory', '/v1/inventory/../luns');
const target = fc.oneof(
  route,
  fc.tuple(route, fc.array(segment, { maxLength: 3 })).map(([base, rest]) => [base, ...rest].join('/')),
  fc.tuple(route, fc.string({ maxLength: 30 })).map(([base, query]) => `${base}?after=${encodeURIComponent(query)}&after=%ZZ`),
);
const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'PROPFIND', 'get');

const value = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 4096, 4 * MiB, 2 ** 53, 1e308, null, true, '', 'dg/vol', 'mirror', 'precopy', 'random', 'sequential'),
  fc.string({ maxLength: 40 }),
  fc.uuid(),
  fc.constant(undefined).map(() => lunId),
  fc.constant(undefined).map(() => randomUUID()),
);
const protocolKeys = ['wwn', 'arrayId', 'arrayName', 'path', 'sizeBytes', 'diskGroup', 'name', 'lunId', 'id', 'volume', 'targetLunId', 'strategy', 'throttleBytesPerS', 'bytesPerS', 'pauseBudgetMs', 'stallPasses', 'writeRateBytesPerS', 'blockSizeBytes', 'pattern', 'readShare'];
const nearValid = fc.dictionary(fc.constantFrom(...protocolKeys), value, { maxKeys: 10 }).map((object) => {
  // Any folder a body names stays inside the sandbox.
  if (typeof object.path === 'string') object.path = path.join(sandbox, 'luns', object.path.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60) || 'x');
  return object;
});
const body = fc.oneof(
  fc.constant(undefined),
  nearValid.map((object) => Buffer.from(JSON.stringify(object))),
  fc.json({ maxDepth: 3 }).map((text) => Buffer.from(text)),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.constantFrom('{', '{"a":', 'null', '[]', '"x"', '{"__proto__":{"polluted":1}}', '\uFEFF{}').map((text) => Buffer.from(text)),
  fc.integer({ min: 1, max: 3 }).map((mib) => Buffer.alloc(mib * MiB, 0x7b)),
);

type Auth = 'none' | 'right' | 'wrong';
const authorization = fc.oneof(
  fc.constant<[Auth, string | undefined]>(['none', undefined]),
  { weight: 3, arbitrary: fc.constant<[Auth, string | undefined]>(['right', 'right']) },
  fc.constantFrom<[Auth, string]>(['wrong', ''], ['wrong', 'Bearer'], ['wrong', 'Bearer '], ['wrong', 'bearer KEY'], ['wrong', 'Basic KEY'], ['wrong', 'Bearer KEYx'], ['wrong', 'Bearer KEY KEY'], ['wrong', 'Bearer a']),
  fc.string({ maxLength: 60 }).map((text): [Auth, string] => ['wrong', `Bearer ${text.replace(/[^\x21-\x7e]/g, '')}x`]),
);

/** The lease-epoch header of migration commands: mostly absent, else a valid epoch or garbage. */
const leaseEpoch = fc.oneof(
  { weight: 4, arbitrary: fc.constant<string | undefined>(undefined) },
  fc.nat({ max: 20 }).map(String),
  fc.constantFrom('-1', '1.5', 'abc', '', '1e3', '9'.repeat(30), '3, 4', ' 7 ', '0x10'),
  fc.string({ maxLength: 20 }).map((text) => text.replace(/[^\x20-\x7e]/g, '')),
);

describe('agent HTTP API under hostile requests', () => {
  it('enforces the console key on every request, never answers 500, and never crashes', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(method, target, body, authorization, leaseEpoch, async (verb, where, payload, [auth, header], epoch) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (epoch !== undefined) headers[LEASE_EPOCH_HEADER] = epoch;
        if (header !== undefined) headers.authorization = auth === 'right' ? `Bearer ${consoleKey}` : header.replaceAll('KEY', consoleKey);
        const reply = await send(verb, where, headers, payload);
        seen.set(`${auth} ${reply.status}`, (seen.get(`${auth} ${reply.status}`) ?? 0) + 1);
        if (reply.status === -1) return; // closed before reading a large body; checked below that the agent lives
        // Node's HTTP parser answers a request it cannot parse (a lowercase method, say) with a
        // bare 400 before the agent's handler sees it: nothing was processed, so nothing to authorise.
        if (reply.status === 400 && reply.body === '') return;
        if (auth !== 'right') expect(reply.status, `${verb} ${where} without the key (${headers.authorization}): ${reply.body.slice(0, 300)}`).toBe(401);
        else expect(reply.status, `${verb} ${where}: ${reply.body.slice(0, 300)}`).not.toBeGreaterThanOrEqual(500);
        if (reply.status !== 200 && verb !== 'HEAD') expect(JSON.parse(reply.body)).toMatchObject({ error: expect.any(String), code: expect.any(String) });
      }),
      {
        numRuns: RUNS,
        endOnFailure: true,
        // Known sharp edges first: bad percent-encoding in each route's parameters, with the key.
        examples: [
          ['DELETE', '/v1/luns/%ZZ', undefined, ['right', 'right'], undefined],
          ['GET', '/v1/migrations/%ZZ', undefined, ['right', 'right'], undefined],
          ['POST', '/v1/migrations/%E0%A4%A/pause', Buffer.from('{}'), ['right', 'right'], undefined],
          ['PUT', '/v1/workloads/%ZZ/vol', Buffer.from('{}'), ['right', 'right'], undefined],
          ['POST', '/v1/workloads/dg/%C0%AF/verify', Buffer.from('{}'), ['right', 'right'], undefined],
          ['GET', '/v1/inventory', undefined, ['right', 'right'], undefined],
          ['DELETE', '/v1/luns/%ZZ', undefined, ['none', undefined], undefined],
          ['POST', '/v1/migrations/mig-1/pause', Buffer.from('{}'), ['right', 'right'], 'abc'],
          ['PUT', '/v1/migrations/mig-1/throttle', Buffer.from('{"bytesPerS":1}'), ['right', 'right'], '9'.repeat(30)],
          ['POST', '/v1/migrations', Buffer.from('{}'), ['right', 'right'], '-1'],
        ],
      },
    );
    expect(agent.isRunning()).toBe(true);
    // The properties held on requests that got through with the key, not only on refusals.
    expect([...seen.keys()].some((key) => key.startsWith('right 200'))).toBe(true);
    expect([...seen.keys()].some((key) => /^right 4\d\d/.test(key))).toBe(true);
    expect((await send('GET', '/v1/inventory', { authorization: `Bearer ${consoleKey}` })).status).toBe(200);
  }, 300_000);

  it('survives malformed HTTP on the raw socket', async () => {
    const garbage = ['\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GET /v1/inventory HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 'POST /v1/volumes HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', `${'A'.repeat(100_000)}\r\n`, '\x00\x01\x02\x03', 'GET /v1/inventory HTTP/1.1\r\nAuthorization: Bearer x\r\nHost: x\r\n'];
    for (const text of garbage) {
      await new Promise<void>((resolve) => {
        const socket = net.connect({ host: agentUrl.hostname, port: Number(agentUrl.port) }, () => {
          socket.end(text);
        });
        socket.on('data', () => undefined);
        socket.setTimeout(2_000, () => socket.destroy());
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      });
    }
    expect(agent.isRunning()).toBe(true);
    expect((await send('GET', '/v1/inventory', { authorization: `Bearer ${consoleKey}` })).status).toBe(200);
  }, 60_000);
});
