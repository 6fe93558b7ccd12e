import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { z } from 'zod';
import { bearer, createVolumeRequest, jobId, LEASE_EPOCH_HEADER, mapLunRequest, migrationAction, startMigrationRequest, startWorkloadRequest, throttleRequest, type ApiError } from '../protocol/agent-api';
import type { Logger } from './log';
import { AgentRefusal, type VolumeManager } from './volume-manager';
import type { VolumeRuntime } from './volume-runtime';
import type { Workloads } from './workloads';

const MAX_BODY_BYTES = 1024 * 1024;
const lunPath = /^\/v1\/luns\/([^/]+)$/;
const workloadPath = /^\/v1\/workloads\/([^/]+)\/([^/]+?)(\/verify)?$/;
const migrationPath = /^\/v1\/migrations\/([^/]+)(?:\/([a-z]+))?$/;

export interface AgentApiDeps {
  volumes: VolumeManager;
  runtime: VolumeRuntime;
  workloads: Workloads;
  /** SHA-256 (hex) of the console key, or undefined before enrolment (then every call is refused). */
  consoleKeySha256: () => string | undefined;
  log: Logger;
}

/** The console → agent API of server/protocol/agent-api.ts on node:http. */
export function createAgentServer(deps: AgentApiDeps): http.Server {
  return http.createServer((request, response) => {
    handle(deps, request)
      .catch((error: unknown) => {
        if (error instanceof AgentRefusal) return { status: error.status, body: fail(error.message, error.code) };
        deps.log.error('request failed', { method: request.method, url: request.url, error: (error as Error).message });
        return { status: 500, body: fail(`internal error in the agent: ${(error as Error).message}`, 'internal') };
      })
      .then(({ status, body }) => {
        response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        response.end(JSON.stringify(body));
      });
  });
}

interface Reply {
  status: number;
  body: unknown;
}

async function handle({ volumes, runtime, workloads, consoleKeySha256 }: AgentApiDeps, request: http.IncomingMessage): Promise<Reply> {
  const expected = consoleKeySha256();
  const presented = bearer(request.headers.authorization);
  if (!expected) return { status: 401, body: fail('this agent is not enrolled yet; it accepts no calls until it is', 'not-enrolled') };
  if (!presented || !sameHash(sha256Hex(presented), expected)) {
    request.resume();
    return { status: 401, body: fail('missing or wrong console key (Authorization: Bearer <consoleKey>)', 'unauthenticated') };
  }
  const url = requestUrl(request.url);
  const { pathname } = url;
  const method = request.method ?? 'GET';
  if (pathname === '/v1/inventory') {
    if (method !== 'GET') return notAllowed(method, pathname, 'GET');
    return ok(await volumes.inventory());
  }
  if (pathname === '/v1/volumes') {
    if (method !== 'POST') return notAllowed(method, pathname, 'POST');
    return ok(await volumes.createVolume(await readBody(request, createVolumeRequest)));
  }
  if (pathname === '/v1/workloads') return method === 'GET' ? ok(workloads.list()) : notAllowed(method, pathname, 'GET');
  const workload = workloadPath.exec(pathname);
  if (workload) {
    const volumeName = `${decodePart(workload[1] ?? '')}/${decodePart(workload[2] ?? '')}`;
    if (workload[3]) return method === 'POST' ? ok(await workloads.verify(volumeName)) : notAllowed(method, pathname, 'POST');
    if (method === 'PUT') return ok(await workloads.start(volumeName, await readBody(request, startWorkloadRequest)));
    if (method === 'DELETE') return ok(await workloads.stop(volumeName));
    return notAllowed(method, pathname, 'PUT, DELETE');
  }
  if (pathname === '/v1/migrations') {
    if (method === 'GET') return ok(runtime.list());
    if (method === 'POST') {
      const leaseEpoch = leaseEpochOf(request);
      return ok(await runtime.startMigration(await readBody(request, startMigrationRequest), leaseEpoch));
    }
    return notAllowed(method, pathname, 'GET, POST');
  }
  const migration = migrationPath.exec(pathname);
  if (migration) {
    const id = decodePart(migration[1] ?? '');
    if (!jobId.safeParse(id).success) return { status: 400, body: fail(`${id} is not a migration id`, 'invalid-request') };
    const action = migration[2];
    if (!action) return method === 'GET' ? ok(await runtime.read(id, leaseEpochOf(request))) : notAllowed(method, pathname, 'GET');
    if (action === 'samples') return method === 'GET' ? ok(runtime.samples(id, url.searchParams.get('after') ?? undefined)) : notAllowed(method, pathname, 'GET');
    if (action === 'throttle') {
      if (method !== 'PUT') return notAllowed(method, pathname, 'PUT');
      const leaseEpoch = leaseEpochOf(request);
      return ok(await runtime.setThrottle(id, (await readBody(request, throttleRequest)).bytesPerS, leaseEpoch));
    }
    const parsed = migrationAction.safeParse(action);
    if (!parsed.success) return { status: 404, body: fail(`no such migration action: ${action}; use ${migrationAction.options.join(', ')}`, 'not-found') };
    if (method !== 'POST') return notAllowed(method, pathname, 'POST');
    return ok(await runtime.act(id, parsed.data, leaseEpochOf(request)));
  }
  const lun = lunPath.exec(pathname);
  if (lun) {
    const lunId = decodePart(lun[1] ?? '');
    if (!z.uuid().safeParse(lunId).success) return { status: 400, body: fail(`${lunId} is not a LUN id (a UUID)`, 'invalid-request') };
    if (method === 'PUT') return ok(await volumes.mapLun(lunId, await readBody(request, mapLunRequest)));
    if (method === 'DELETE') return ok(await volumes.unmapLun(lunId));
    return notAllowed(method, pathname, 'PUT, DELETE');
  }
  return { status: 404, body: fail(`no such agent route: ${method} ${pathname}`, 'not-found') };
}

async function readBody<T>(request: http.IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new AgentRefusal(`request body is over ${MAX_BODY_BYTES} bytes`, 413, 'too-large');
    chunks.push(chunk);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new AgentRefusal(`request body is not valid JSON: ${(error as Error).message}`, 400, 'bad-json');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new AgentRefusal(`invalid request: ${z.prettifyError(parsed.error)}`, 400, 'invalid-request');
  return parsed.data;
}

/**
 * The lease epoch a migration command was made under (`X-Tern-Lease-Epoch`), or undefined from a
 * console that sends none. Anything but one non-negative decimal integer is the caller's mistake.
 */
function leaseEpochOf(request: http.IncomingMessage): number | undefined {
  const header = request.headers[LEASE_EPOCH_HEADER];
  if (header === undefined) return undefined;
  if (typeof header === 'string' && /^\d{1,15}$/.test(header)) return Number(header);
  throw new AgentRefusal(`X-Tern-Lease-Epoch must be one non-negative integer, not "${String(header).slice(0, 40)}"`, 400, 'invalid-request');
}

/**
 * The request target as a URL. Prefixed rather than resolved against a base, so a target such as
 * `//host/x` stays a path instead of naming another host; one that still does not parse is a 400.
 */
function requestUrl(target: string | undefined): URL {
  try {
    return new URL(`http://agent${target?.startsWith('/') ? target : `/${target ?? ''}`}`);
  } catch {
    throw new AgentRefusal(`request target "${(target ?? '').slice(0, 100)}" is not a valid path`, 400, 'invalid-request');
  }
}

/** A path parameter; bad percent-encoding (`%ZZ`) is the caller's mistake, not an internal error. */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new AgentRefusal(`path segment "${part.slice(0, 100)}" is not valid percent-encoding`, 400, 'invalid-request');
  }
}

const ok = (body: unknown): Reply => ({ status: 200, body });
const notAllowed = (method: string, path: string, allowed: string): Reply => ({
  status: 405,
  body: fail(`${method} is not allowed on ${path}; use ${allowed}`, 'method-not-allowed'),
});

function fail(error: string, code: string): ApiError {
  return { error, code };
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Both sides are hex SHA-256 digests, so equal length; the comparison takes constant time. */
function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
