/**
 * Many lightweight agents in one process, speaking the real agent ↔ console protocol
 * (server/protocol/agent-api.ts): each enrols with its own one-time token, heartbeats its
 * inventory every 3 s, and serves the console's agent API on its own port for what the engine
 * calls during a migration (map and unmap a LUN, start a job, its status and per-second samples,
 * commit); each job's samples are pushed as the real agent pushes them (server/agent/sample-push.ts).
 * A job really copies its small volume: it reads the source LUN file and writes the target LUN
 * file at the migration's throttle, samples its real progress once a second, and after the copy
 * compares both files before it reports `verified`. There is no application writing, so
 * it is a mirror without writes to mirror; the data plane itself is measured by `bench -- dataplane`.
 *
 *   node --import tsx bench/fleet/agents.ts --plan FILE --tokens FILE --console URL --from I --to J
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import {
  enrolResponse,
  HEARTBEAT_INTERVAL_MS,
  heartbeatResponse,
  mapLunRequest,
  startMigrationRequest,
  throttleRequest,
  type Inventory,
  type LunSeen,
  type MigrationSample,
  type MigrationStatus,
} from '@/server/protocol/agent-api';
import type { Logger } from '@/server/agent/log';
import { startSamplePush, type SamplePush } from '@/server/agent/sample-push';
import { hashInventory } from '@/server/protocol/inventory-hash';
import type { FleetPlan, FleetPlanHost } from './plan';

const { values } = parseArgs({ options: { plan: { type: 'string' }, tokens: { type: 'string' }, console: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } } });
if (!values.plan || !values.tokens || !values.console || values.from === undefined || values.to === undefined) throw new Error('usage: agents.ts --plan FILE --tokens FILE --console URL --from I --to J');
const plan = JSON.parse(await readFile(values.plan, 'utf8')) as FleetPlan;
const tokens = JSON.parse(await readFile(values.tokens, 'utf8')) as string[];
const consoleUrl = values.console;
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const sha256 = (text: string) => createHash('sha256').update(text).digest();
const REGION_BYTES = 64 * 1024;
const MAX_SAMPLES = 120;
const HEARTBEAT_TIMEOUT_MS = 10_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Job {
  status: MigrationStatus;
  samples: MigrationSample[];
  source: FileHandle;
  target: FileHandle;
  sizeBytes: number;
  copiedAtLastSample: number;
}

/** Push failures show in the console's figures (lag, ingestion), not as a thousand agents' log lines. */
const quietLog: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

let enrolRetries = 0;
/** Heartbeat round trips, seen from the agents. */
const heartbeats = { sent: 0, failed: 0, latenciesMs: [] as number[] };

class LightAgent {
  private hostId = '';
  private credential = '';
  private consoleKeyHash = Buffer.alloc(0);
  private agentUrl = '';
  private readonly luns = new Map<string, LunSeen>();
  /** The volume's one plex: on the source LUN until a job commits, then on the target. */
  private plex: { name: string; lunId: string; lunPath: string };
  private readonly jobs = new Map<string, Job>();
  /** The real agent's sample push (server/agent/sample-push.ts), over this agent's jobs. */
  private push: SamplePush | undefined;
  private heldInventoryHash: string | null | undefined;

  constructor(
    private readonly host: FleetPlanHost,
    private readonly token: string,
  ) {
    for (const lun of host.luns) {
      const array = plan.arrays[lun.arrayIndex]!;
      this.luns.set(lun.id, { lunId: lun.id, wwn: lun.wwn, arrayId: array.id, arrayName: array.name, path: lun.path, sizeBytes: lun.sizeBytes, present: true });
    }
    const first = host.luns[0]!;
    this.plex = { name: 'vol-01', lunId: first.id, lunPath: first.path };
  }

  async start(): Promise<void> {
    const server = http.createServer((incoming, outgoing) => void this.serve(incoming, outgoing));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.agentUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const enrolled = enrolResponse.parse(await this.enrol());
    this.hostId = enrolled.hostId;
    this.credential = enrolled.credential;
    this.consoleKeyHash = sha256(enrolled.consoleKey);
    this.push = startSamplePush({
      consoleUrl,
      hostId: this.hostId,
      credential: this.credential,
      source: { jobSamples: () => [...this.jobs].map(([id, job]) => ({ id, samples: job.samples })) },
      log: quietLog,
    });
    await this.heartbeat();
    // As server/agent/heartbeat.ts: the next heartbeat 3 s after the last one ended (so a slow
    // console is not sent more and more at once), each given up after 10 s. The first waits a
    // random part of the interval, spreading the agents as hosts started at different times are.
    const loop = () => void this.heartbeat().finally(() => setTimeout(loop, HEARTBEAT_INTERVAL_MS));
    setTimeout(loop, Math.random() * HEARTBEAT_INTERVAL_MS);
  }

  /** Retries an unreachable or overloaded console (as a real agent does) but not a refusal. */
  private async enrol(): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(`${consoleUrl}/api/agent/v1/enrol`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token: this.token, hostname: this.host.hostname, agentUrl: this.agentUrl, agentVersion: 'bench-light-1' }),
          signal: AbortSignal.timeout(HEARTBEAT_TIMEOUT_MS),
        });
      } catch (error) {
        if (attempt >= 10) throw new Error(`${this.host.hostname}: console unreachable after ${attempt} tries: ${(error as Error).message}`);
        enrolRetries++;
        await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt));
        continue;
      }
      if (!response.ok) throw new Error(`${this.host.hostname}: enrolment refused: HTTP ${response.status} ${await response.text()}`);
      return response.json();
    }
  }

  private inventory(): Inventory {
    return {
      luns: [...this.luns.values()],
      diskGroups: [{ name: 'dg', volumes: [{ name: 'vol', sizeBytes: plan.volumeBytes, regionSizeBytes: REGION_BYTES, nbdExport: 'dg/vol', plexes: [{ ...this.plex, state: 'active' }] }] }],
    };
  }

  private async heartbeat(): Promise<void> {
    const inventory = this.inventory();
    const inventoryHash = hashInventory(inventory);
    const started = performance.now();
    heartbeats.sent++;
    try {
      const response = await fetch(`${consoleUrl}/api/agent/v1/heartbeat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.hostId}.${this.credential}` },
        body: JSON.stringify({
          agentUrl: this.agentUrl,
          agentVersion: 'bench-light-1',
          inventoryHash,
          ...(inventoryHash === this.heldInventoryHash ? {} : { inventory }),
          writeRates: [{ nbdExport: 'dg/vol', writeRateBytesPerS: 0, writeRateP95BytesPerS: 0 }],
        }),
        signal: AbortSignal.timeout(HEARTBEAT_TIMEOUT_MS),
      });
      const reply = heartbeatResponse.safeParse(await response.json().catch(() => undefined));
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      // As server/agent/heartbeat.ts: the inventory goes only when its hash is not the one the console holds.
      this.heldInventoryHash = reply.success && !reply.data.inventoryWanted ? reply.data.inventoryHash : undefined;
      heartbeats.latenciesMs.push(performance.now() - started);
    } catch {
      heartbeats.failed++;
    }
  }

  private async serve(incoming: http.IncomingMessage, outgoing: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const reply = (status: number, body: unknown) => outgoing.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    try {
      const key = /^Bearer (\S+)$/.exec(incoming.headers.authorization ?? '')?.[1];
      if (!key || !timingSafeEqual(sha256(key), this.consoleKeyHash)) throw new HttpError(401, 'unauthorized', 'console key missing or wrong');
      const url = new URL(incoming.url ?? '/', this.agentUrl);
      const body: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      reply(200, await this.handle(incoming.method ?? 'GET', url, body));
    } catch (error) {
      if (error instanceof HttpError) reply(error.status, { error: error.message, code: error.code });
      else reply(500, { error: (error as Error).message, code: 'internal' });
    }
  }

  private async handle(method: string, url: URL, body: unknown): Promise<unknown> {
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== 'v1') throw new HttpError(404, 'not-found', `no route ${method} ${url.pathname}`);
    const [, resource, id, action] = parts;
    if (resource === 'inventory' && method === 'GET') return this.inventory();
    if (resource === 'luns' && id && method === 'PUT') {
      const request = mapLunRequest.parse(body);
      this.luns.set(id, { lunId: id, ...request, present: true });
      return this.inventory();
    }
    if (resource === 'luns' && id && method === 'DELETE') {
      if (this.plex.lunId === id) throw new HttpError(409, 'lun-in-use', `LUN ${id} holds plex ${this.plex.name}`);
      this.luns.delete(id);
      return this.inventory();
    }
    if (resource === 'migrations' && !id && method === 'POST') return this.startJob(startMigrationRequest.parse(body));
    const job = id ? this.jobs.get(id) : undefined;
    if (resource === 'migrations' && id && !job) throw new HttpError(404, 'not-found', `no migration ${id}`);
    if (job && !action && method === 'GET') return job.status;
    if (job && action === 'samples' && method === 'GET') {
      const after = url.searchParams.get('after');
      return after ? job.samples.filter((sample) => sample.at > after) : job.samples;
    }
    if (job && action === 'throttle' && method === 'PUT') {
      job.status.throttleBytesPerS = throttleRequest.parse(body).bytesPerS;
      return job.status;
    }
    if (job && action === 'commit' && method === 'POST') return this.commit(job);
    if (job && (action === 'pause' || action === 'resume') && method === 'POST') {
      job.status.paused = action === 'pause';
      return job.status;
    }
    throw new HttpError(400, 'unsupported', `the bench agent does not serve ${method} ${url.pathname}`);
  }

  private async startJob(request: ReturnType<typeof startMigrationRequest.parse>): Promise<MigrationStatus> {
    if (this.jobs.has(request.id)) throw new HttpError(409, 'migration-exists', `migration ${request.id} exists`);
    const target = this.luns.get(request.targetLunId);
    if (!target) throw new HttpError(404, 'lun-not-found', `LUN ${request.targetLunId} is not mapped to this host`);
    const regionsTotal = Math.ceil(plan.volumeBytes / REGION_BYTES);
    const status: MigrationStatus = {
      id: request.id,
      volume: request.volume,
      strategy: request.strategy,
      originalStrategy: request.strategy,
      phase: 'copying',
      switched: false,
      pass: 0,
      paused: false,
      source: { ...this.plex },
      target: { name: 'vol-02', lunId: target.lunId, lunPath: target.path },
      throttleBytesPerS: request.throttleBytesPerS ?? null,
      bytesCopied: 0,
      regionsTotal,
      regionsDirty: regionsTotal,
      passes: [{ pass: 0, startedAt: new Date().toISOString(), dirtyRegionsAtStart: regionsTotal, copiedRegions: 0, redirtiedRegions: 0 }],
      verify: null,
      result: null,
      error: null,
      cutoverPauseMs: null,
      restarts: 0,
      recopiedAfterRestartRegions: [],
      faultsRetried: 0,
      lastFault: null,
      sample: null,
    };
    const job: Job = { status, samples: [], source: await open(this.plex.lunPath, 'r'), target: await open(target.path, 'r+'), sizeBytes: plan.volumeBytes, copiedAtLastSample: 0 };
    this.jobs.set(request.id, job);
    void this.run(job);
    return status;
  }

  /** Copies region by region at the throttle (4 slices a second), sampling every second; then verifies. */
  private async run(job: Job) {
    const { status } = job;
    const buffer = Buffer.alloc(REGION_BYTES);
    let lastSampleAt = Date.now();
    // Bytes the throttle allows now: a token bucket filled 4 times a second, spent a region at a time.
    let credit = 0;
    while (status.bytesCopied < job.sizeBytes) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      if (!status.paused) {
        credit = status.throttleBytesPerS === null ? job.sizeBytes : Math.min(credit + status.throttleBytesPerS / 4, 4 * REGION_BYTES + status.throttleBytesPerS);
        while (status.bytesCopied < job.sizeBytes) {
          const length = Math.min(REGION_BYTES, job.sizeBytes - status.bytesCopied);
          if (credit < length) break;
          await job.source.read(buffer, 0, length, status.bytesCopied);
          await job.target.write(buffer, 0, length, status.bytesCopied);
          status.bytesCopied += length;
          credit -= length;
        }
        status.regionsDirty = Math.ceil((job.sizeBytes - status.bytesCopied) / REGION_BYTES);
      }
      if (Date.now() - lastSampleAt >= 1_000) {
        this.sample(job, (Date.now() - lastSampleAt) / 1000);
        lastSampleAt = Date.now();
      }
    }
    await job.target.sync();
    this.sample(job, (Date.now() - lastSampleAt) / 1000);
    status.passes[0]!.copiedRegions = status.regionsTotal;
    status.phase = 'verifying';
    status.switched = true;
    status.cutoverPauseMs = 0;
    const a = Buffer.alloc(REGION_BYTES);
    const b = Buffer.alloc(REGION_BYTES);
    const mismatched: number[] = [];
    for (let offset = 0, region = 0; offset < job.sizeBytes; offset += REGION_BYTES, region++) {
      await job.source.read(a, 0, REGION_BYTES, offset);
      await job.target.read(b, 0, REGION_BYTES, offset);
      if (!a.equals(b)) mismatched.push(region);
    }
    status.verify = { regionsCompared: status.regionsTotal, regionsSkipped: 0, mismatchedRegions: mismatched, ok: mismatched.length === 0, finishedAt: new Date().toISOString() };
    status.phase = mismatched.length ? 'failed' : 'verified';
    if (mismatched.length) status.error = `${mismatched.length} regions differ after the copy`;
    await job.source.close();
    await job.target.close();
  }

  private sample(job: Job, seconds: number) {
    const { status } = job;
    const leftBytes = job.sizeBytes - status.bytesCopied;
    const copyRate = (status.bytesCopied - job.copiedAtLastSample) / Math.max(0.001, seconds);
    job.copiedAtLastSample = status.bytesCopied;
    const sample: MigrationSample = {
      at: new Date().toISOString(),
      phase: status.phase,
      pass: status.pass,
      paused: status.paused,
      regionsTotal: status.regionsTotal,
      regionsSynced: status.regionsTotal - status.regionsDirty,
      regionsDirty: status.regionsDirty,
      leftBytes,
      thresholdBytes: null,
      bytesCopied: status.bytesCopied,
      copyRateBytesPerS: copyRate,
      writeRateBytesPerS: 0,
      writeLatencyP50Ms: null,
      writeLatencyP99Ms: null,
      throttleBytesPerS: status.throttleBytesPerS,
      predictedConvergeS: copyRate > 0 ? leftBytes / copyRate : null,
    };
    status.sample = sample;
    job.samples.push(sample);
    if (job.samples.length > MAX_SAMPLES) job.samples.shift();
    this.push?.notify();
  }

  private commit(job: Job): MigrationStatus {
    if (job.status.phase !== 'verified' && job.status.phase !== 'committed') throw new HttpError(409, 'not-verified', `migration ${job.status.id} is ${job.status.phase}, not verified`);
    job.status.phase = 'committed';
    this.plex = { name: job.status.target.name, lunId: job.status.target.lunId, lunPath: job.status.target.lunPath };
    return job.status;
  }
}

const from = Number(values.from);
const to = Number(values.to);
const agents = plan.hosts.slice(from, to).map((host, i) => new LightAgent(host, tokens[from + i]!));
// Enrol a few at a time, as a fleet rollout would, rather than all in one burst.
for (let i = 0; i < agents.length; i += 5) await Promise.all(agents.slice(i, i + 5).map((agent) => agent.start()));
print({ msg: 'enrolled', agents: agents.length, enrolRetries });

setInterval(() => {
  const latencies = heartbeats.latenciesMs.splice(0);
  print({ msg: 'heartbeats', sent: heartbeats.sent, failed: heartbeats.failed, latenciesMs: latencies.map((ms) => Math.round(ms * 10) / 10) });
}, 5_000);
process.once('SIGTERM', () => process.exit(0));
