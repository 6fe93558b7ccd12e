/**
 * The console under load, as its own process so its CPU and memory are its own: opens the
 * database (PGlite folder or PostgreSQL URL), seeds the plan's arrays, LUNs, limits, a viewer API
 * token and one enrolment token per host, then serves the real agent routes and the real tRPC
 * route handler (streaming, so SSE subscriptions work) on node:http. When every host has enrolled
 * and reported its volume it records the LUN mappings, creates the migrations through the engine
 * and starts the reconciler. Prints JSON lines; every second one with its CPU, memory and counts.
 *
 *   node --conditions=react-server --import tsx bench/fleet/console.ts --plan FILE (--data-dir DIR | --database-url URL)
 */
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { and, count, eq, inArray } from 'drizzle-orm';
import { openDatabase } from '@/db/open';
import { arrays, hosts, lunMappings, luns, volumes } from '@/db/schema';
import { DirectoryArray } from '@/server/arrays';
import { createApiToken } from '@/server/auth/api-tokens';
import { createUser } from '@/server/auth/sessions';
import { createMigration } from '@/server/engine/create';
import { startReconciler } from '@/server/engine/reconciler';
import { bus } from '@/server/events/bus';
import { agentRouteTable } from '@/server/fleet/agent-routes';
import { createEnrolmentToken } from '@/server/fleet/enrolment';
import { setLimits } from '@/server/settings/limits';
import type { FleetPlan } from './plan';

const { values } = parseArgs({ options: { plan: { type: 'string' }, 'data-dir': { type: 'string' }, 'database-url': { type: 'string' } } });
if (!values.plan || !(values['data-dir'] || values['database-url'])) throw new Error('usage: console.ts --plan FILE (--data-dir DIR | --database-url URL)');
const plan = JSON.parse(await readFile(values.plan, 'utf8')) as FleetPlan;
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const system = { kind: 'system' as const, name: 'bench' };

const opened = await openDatabase(values['database-url'] ? { url: values['database-url'] } : { dataDir: values['data-dir']! });
const { db } = opened;

// ---- seed ------------------------------------------------------------------------------------
const seedStarted = performance.now();
for (const array of plan.arrays) {
  await DirectoryArray.initialize({ path: array.folder, capacityBytes: 64 * 1024 ** 4 });
  await db.insert(arrays).values({ id: array.id, name: array.name, vendor: 'Bench', model: 'fleet', tier: 2, driver: 'directory', driverConfig: { path: array.folder }, capacityBytes: 64 * 1024 ** 4 });
}
const allLuns = plan.hosts.flatMap((host) => host.luns);
for (let i = 0; i < allLuns.length; i += 2_000) {
  await db.insert(luns).values(allLuns.slice(i, i + 2_000).map((lun) => ({ id: lun.id, arrayId: plan.arrays[lun.arrayIndex]!.id, name: lun.name, wwn: lun.wwn, sizeBytes: lun.sizeBytes, path: lun.path })));
}
const moving = plan.hosts.filter((host) => host.migrates).length;
await setLimits(db, system, { global: Math.max(1, moving), perHost: 2, perSourceArray: Math.max(1, moving), perTargetArray: Math.max(1, moving), arrayBandwidthBytesPerS: {} });
const admin = await createUser(db, { username: 'bench-admin', password: 'bench-admin-password', role: 'admin' }, null);
const apiToken = (await createApiToken(db, admin, { name: 'bench-viewer', role: 'viewer', ttlDays: 1 })).token;
const enrolmentTokens: string[] = [];
for (const host of plan.hosts) enrolmentTokens.push((await createEnrolmentToken(db, { label: host.hostname, createdBy: 'bench-admin', ttlMs: 3_600_000 })).token);
const seedS = (performance.now() - seedStarted) / 1000;

// ---- serve -----------------------------------------------------------------------------------
(globalThis as unknown as { ternDatabase?: Promise<{ db: typeof db }> }).ternDatabase = Promise.resolve({ db });
const trpcRoute = await import('@/app/api/trpc/[trpc]/route');
const agent = agentRouteTable(db);
let agentRequests = 0;
let trpcRequests = 0;

function route(method: string, pathname: string): ((request: Request) => Promise<Response>) | undefined {
  const agentRoute = agent[`${method} ${pathname}`];
  if (agentRoute) return agentRoute;
  if ((method === 'GET' || method === 'POST') && pathname.startsWith('/api/trpc/')) return method === 'GET' ? trpcRoute.GET : trpcRoute.POST;
  return undefined;
}

const server = http.createServer((incoming, outgoing) => {
  const url = new URL(incoming.url ?? '/', `http://${incoming.headers.host ?? '127.0.0.1'}`);
  const method = incoming.method ?? 'GET';
  const handler = route(method, url.pathname);
  if (!handler) {
    incoming.resume();
    outgoing.writeHead(404).end();
    return;
  }
  if (url.pathname.startsWith('/api/agent/')) agentRequests++;
  else trpcRequests++;
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, item);
  const abort = new AbortController();
  outgoing.once('close', () => abort.abort());
  const init: RequestInit & { duplex?: 'half' } = {
    method,
    headers,
    signal: abort.signal,
    body: method === 'GET' ? undefined : (Readable.toWeb(incoming) as unknown as ReadableStream<Uint8Array>),
    duplex: 'half',
  };
  void (async () => {
    const response = await handler(new Request(url, init));
    outgoing.writeHead(response.status, Object.fromEntries(response.headers));
    // Streamed, not buffered: an SSE subscription's body never ends.
    if (response.body) Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>).on('error', () => outgoing.destroy()).pipe(outgoing);
    else outgoing.end();
    if (!incoming.complete) incoming.resume();
  })().catch((error: unknown) => {
    if (!outgoing.headersSent) outgoing.writeHead(500, { 'content-type': 'application/json' });
    outgoing.end(JSON.stringify({ error: (error as Error).message }));
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
print({ msg: 'ready', url, apiToken, enrolmentTokens, seedS, database: opened.kind });

// ---- usage, every second ---------------------------------------------------------------------
let samplesPublished = 0;
const stopped = new AbortController();
void (async () => {
  for await (const _sample of bus.listen('sample', stopped.signal)) samplesPublished++;
})();
const usage = setInterval(() => {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  print({ msg: 'usage', atMs: Date.now(), cpuUs: cpu.user + cpu.system, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, samplesPublished, agentRequests, trpcRequests });
}, 1_000);

// ---- once every host has reported its volume: mappings, migrations, engine ------------------
let stopReconciler: (() => Promise<void>) | undefined;
void (async () => {
  for (;;) {
    const [row] = await db.select({ n: count() }).from(volumes);
    if ((row?.n ?? 0) >= plan.hosts.length) break;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  const hostIds = new Map((await db.select({ id: hosts.id, hostname: hosts.hostname }).from(hosts)).map((h) => [h.hostname, h.id]));
  const mappings = plan.hosts.flatMap((host) => host.luns.map((lun) => ({ lunId: lun.id, hostId: hostIds.get(host.hostname)! })));
  for (let i = 0; i < mappings.length; i += 5_000) await db.insert(lunMappings).values(mappings.slice(i, i + 5_000));
  const movingHosts = plan.hosts.filter((host) => host.migrates);
  const movingIds = movingHosts.map((host) => hostIds.get(host.hostname)!);
  const volumeRows = movingIds.length ? await db.select({ id: volumes.id, hostId: volumes.hostId }).from(volumes).where(and(inArray(volumes.hostId, movingIds), eq(volumes.name, 'vol'))) : [];
  const volumeOf = new Map(volumeRows.map((v) => [v.hostId, v.id]));
  const migrationIds: string[] = [];
  for (const host of movingHosts) {
    const source = host.luns[0]!;
    const row = await createMigration(db, system, {
      volumeId: volumeOf.get(hostIds.get(host.hostname)!)!,
      targetArrayId: plan.arrays[(source.arrayIndex + 1) % plan.arrays.length]!.id,
      strategy: 'mirror',
      throttleBytesPerS: plan.throttleBytesPerS,
      cutoverPolicy: { mode: 'auto', commit: 'auto' },
    });
    migrationIds.push(row.id);
  }
  stopReconciler = startReconciler(db);
  print({ msg: 'migrations-created', migrationIds });
})().catch((error: unknown) => {
  print({ msg: 'error', error: (error as Error).stack ?? String(error) });
  process.exit(1);
});

process.once('SIGTERM', () => {
  void (async () => {
    clearInterval(usage);
    await stopReconciler?.();
    stopped.abort();
    server.closeAllConnections();
    server.close();
    await opened.close();
    print({ msg: 'stopped' });
    process.exit(0);
  })();
});
