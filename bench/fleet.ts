/**
 * `npm run bench -- fleet`: one console under a fleet's load. A console process
 * (bench/fleet/console.ts: the real agent routes, the real tRPC route handler, the real engine) on
 * PGlite and on PostgreSQL; lightweight agents in a few processes (bench/fleet/agents.ts) that
 * enrol with real tokens, heartbeat their inventory every 3 s and run real small copies for the
 * migrations the engine starts; browsers as SSE subscriptions and paged list queries over HTTP
 * (bench/fleet/clients.ts). Over a measured window it reports list latency, telemetry ingestion
 * and its lag to a subscriber, and the console's CPU and memory, against the bars.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { timeQuery, subscribe, type ListCall, type Subscription } from './fleet/clients';
import { createVolumeFiles, planFleet, type FleetPlan, type FleetShape } from './fleet/plan';
import { hasPostgres, startLocalPostgres, type LocalPostgres } from './fleet/postgres';
import { renderFleetMarkdown, renderFleetText, type FleetRun } from './fleet/report';
import { describeMachine } from './machine';
import { replaceSection } from './markdown-section';
import { quantile, spread } from './stats';

const MiB = 1024 * 1024;

export const usage = `fleet [--hosts 1000] [--luns 100000] [--arrays 50] [--migrations 500] [--agent-processes 4] [--subscribers 50] [--window 60] [--db pglite,postgres] [--postgres-url URL] [--markdown]
  --hosts            lightweight agents (one host each); default 1000
  --luns             LUNs of inventory, spread over the hosts; default 100000
  --arrays           directory arrays; default 50
  --migrations       concurrent migrations (real small copies, telemetry each second); default 500
  --agent-processes  processes the agents are spread over; default 4
  --subscribers      browsers, each subscribed to one migration's samples and to the event log; default 50
  --window           measured seconds once every migration runs; default 60
  --db               databases to run on, in order; default pglite,postgres (postgres: --postgres-url,
                     TERN_TEST_DATABASE_URL, or a throwaway local server when initdb is installed)
  --markdown         also write the tables into docs/benchmarks.md ("## Fleet scale")`;

interface FleetOptions extends FleetShape {
  agentProcesses: number;
  subscribers: number;
  windowS: number;
  databases: ('pglite' | 'postgres')[];
  postgresUrl: string | undefined;
  markdown: boolean;
}

function parseOptions(args: string[]): FleetOptions {
  const { values } = parseArgs({
    args,
    options: {
      ...Object.fromEntries(['hosts', 'luns', 'arrays', 'migrations', 'agent-processes', 'subscribers', 'window', 'db', 'postgres-url'].map((name) => [name, { type: 'string' as const }])),
      markdown: { type: 'boolean' as const },
    },
  }) as { values: Record<string, string | boolean | undefined> };
  const whole = (name: string, fallback: number, min = 1) => {
    const text = values[name] as string | undefined;
    const value = Number(text ?? fallback);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} ${text}: expected a whole number ≥ ${min}`);
    return value;
  };
  const hosts = whole('hosts', 1000);
  const migrations = whole('migrations', 500, 0);
  if (migrations > hosts) throw new Error(`--migrations ${migrations}: at most one per host, and there are ${hosts} hosts`);
  const databases = String(values.db ?? 'pglite,postgres').split(',').map((db) => db.trim());
  for (const db of databases) if (db !== 'pglite' && db !== 'postgres') throw new Error(`--db ${values.db}: expected pglite, postgres, or both separated by a comma`);
  const windowS = whole('window', 60);
  const volumeBytes = 8 * MiB;
  return {
    hosts,
    luns: whole('luns', 100_000),
    arrays: whole('arrays', 50, 2),
    migrations,
    agentProcesses: Math.min(hosts, whole('agent-processes', 4)),
    subscribers: Math.min(migrations, whole('subscribers', 50, 0)),
    windowS,
    databases: databases as FleetOptions['databases'],
    postgresUrl: (values['postgres-url'] as string | undefined) ?? process.env.TERN_TEST_DATABASE_URL,
    markdown: Boolean(values.markdown),
    volumeBytes,
    // Each copy lasts the set-up (about 2 min at full scale), the window and a margin, so every
    // migration is still sending telemetry while it is measured.
    throttleBytesPerS: Math.floor(volumeBytes / (windowS + 300) / 4096) * 4096,
  };
}

/** A child process that prints JSON lines; `next(msg)` waits for the next line with that msg. */
class JsonChild {
  readonly process: ChildProcess;
  private readonly waiting = new Map<string, ((line: Record<string, unknown>) => void)[]>();
  private readonly listeners: ((line: Record<string, unknown>) => void)[] = [];
  private exited: string | undefined;

  constructor(label: string, args: string[]) {
    this.process = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.process.stdout! }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      if (line.msg === 'error') console.error(`${label}: ${String(line.error)}`);
      for (const listener of this.listeners) listener(line);
      const waiters = this.waiting.get(String(line.msg)) ?? [];
      this.waiting.delete(String(line.msg));
      for (const resolve of waiters) resolve(line);
    });
    createInterface({ input: this.process.stderr! }).on('line', (text) => {
      if (!/"level":"(info|debug)"/.test(text)) console.error(`${label}: ${text.slice(0, 500)}`);
    });
    this.process.once('exit', (code, signal) => {
      this.exited = `${label} exited (${signal ?? code})`;
      for (const waiters of this.waiting.values()) for (const resolve of waiters) resolve({ msg: 'exit', error: this.exited });
    });
  }

  onLine(listener: (line: Record<string, unknown>) => void) {
    this.listeners.push(listener);
  }

  async next(msg: string): Promise<Record<string, unknown>> {
    if (this.exited) throw new Error(this.exited);
    const line = await new Promise<Record<string, unknown>>((resolve) => this.waiting.set(msg, [...(this.waiting.get(msg) ?? []), resolve]));
    if (line.msg === 'exit') throw new Error(String(line.error));
    return line;
  }

  async stop() {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The list queries a browser makes, paged as the pages page them, round-robin. */
function listCalls(plan: FleetPlan, perHost: number, index: number): ListCall {
  const array = plan.arrays[index % plan.arrays.length]!;
  const lunsPerArray = Math.ceil((plan.hosts.length * perHost) / plan.arrays.length);
  const pages = Math.max(1, Math.ceil(lunsPerArray / 50));
  const calls: ListCall[] = [
    { procedure: 'hosts.list', input: { page: 1, pageSize: 50, sort: 'hostname', direction: 'asc' } },
    { procedure: 'arrays.list', input: undefined },
    { procedure: 'arrays.luns', input: { arrayId: array.id, page: 1 + ((index * 7919) % pages), pageSize: 50, sort: 'name', direction: 'asc' } },
    { procedure: 'migrations.list', input: { limit: 200 } },
    { procedure: 'events.list', input: { limit: 50 } },
  ];
  return calls[index % calls.length]!;
}

async function runOnce(options: FleetOptions, database: 'pglite' | 'postgres', databaseUrl: string | undefined): Promise<FleetRun> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tern-bench-fleet-'));
  const children: JsonChild[] = [];
  const subscriptions: Subscription[] = [];
  try {
    const plan = planFleet(options, root);
    const planFile = path.join(root, 'plan.json');
    await writeFile(planFile, JSON.stringify(plan));
    await createVolumeFiles(plan);
    const started = performance.now();
    const setup = { seedS: 0, enrolledS: 0, migrationsCreatedS: 0, warmUpS: 0, enrolRetries: 0 };
    const stamp = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

    const consoleChild = new JsonChild('console', ['--conditions=react-server', '--import', 'tsx', 'bench/fleet/console.ts', '--plan', planFile, ...(databaseUrl ? ['--database-url', databaseUrl] : ['--data-dir', path.join(root, 'pglite')])]);
    children.push(consoleChild);
    const usage: Record<string, number>[] = [];
    consoleChild.onLine((line) => {
      if (line.msg === 'usage') usage.push(line as Record<string, number>);
    });
    const ready = await consoleChild.next('ready');
    const consoleUrl = String(ready.url);
    const apiToken = String(ready.apiToken);
    setup.seedS = Number(ready.seedS);
    const tokensFile = path.join(root, 'tokens.json');
    await writeFile(tokensFile, JSON.stringify(ready.enrolmentTokens));
    console.log(`  [${stamp()}] console on ${database} seeded ${options.arrays} arrays, ${plan.hosts.length * plan.hosts[0]!.luns.length} LUNs, ${options.hosts} enrolment tokens in ${Number(ready.seedS).toFixed(1)} s`);

    let measuring = false;
    const heartbeatLatencies: number[] = [];
    let heartbeatsFailed = 0;
    const migrationsCreated = consoleChild.next('migrations-created');
    migrationsCreated.catch(() => undefined); // awaited below; a console that exits first fails the run there
    const perProcess = Math.ceil(options.hosts / options.agentProcesses);
    for (let p = 0; p < options.agentProcesses; p++) {
      const from = p * perProcess;
      const to = Math.min(options.hosts, from + perProcess);
      const child = new JsonChild(`agents ${from}–${to - 1}`, ['--import', 'tsx', 'bench/fleet/agents.ts', '--plan', planFile, '--tokens', tokensFile, '--console', consoleUrl, '--from', String(from), '--to', String(to)]);
      children.push(child);
      child.onLine((line) => {
        if (line.msg !== 'heartbeats') return;
        if (measuring) heartbeatLatencies.push(...(line.latenciesMs as number[]));
        heartbeatsFailed = Number(line.failed);
      });
    }
    const enrolled = await Promise.all(children.slice(1).map((child) => child.next('enrolled')));
    const retries = enrolled.reduce((sum, line) => sum + Number(line.enrolRetries), 0);
    setup.enrolRetries = retries;
    setup.enrolledS = (performance.now() - started) / 1000;
    console.log(`  [${stamp()}] ${options.hosts} agents enrolled in ${options.agentProcesses} processes (${retries} enrolment retries of an unreachable console)`);
    const migrationIds = (await migrationsCreated).migrationIds as string[];
    setup.migrationsCreatedS = (performance.now() - started) / 1000;
    console.log(`  [${stamp()}] ${migrationIds.length} migrations created; the engine admits and starts them`);

    // Browsers: each watches one migration's samples and the event log.
    const lagsMs: number[] = [];
    const samplesSeen = { window: 0 };
    for (let s = 0; s < options.subscribers; s++) {
      subscriptions.push(
        subscribe(consoleUrl, apiToken, 'migrations.onSample', { id: migrationIds[s]! }, (data, arrivedAtMs) => {
          const at = (data as { at?: Date }).at;
          if (!measuring || !(at instanceof Date)) return;
          samplesSeen.window++;
          lagsMs.push(arrivedAtMs - at.getTime());
        }),
        subscribe(consoleUrl, apiToken, 'events.onEvent', {}, () => {}),
      );
    }

    // Warm-up: until every migration is copying (or 3 minutes have passed).
    const warmUpUntil = Date.now() + 180_000;
    let running = 0;
    while (Date.now() < warmUpUntil) {
      try {
        const listed = await fetch(`${consoleUrl}/api/trpc/migrations.list?input=${encodeURIComponent(JSON.stringify({ json: { states: ['syncing', 'copying'], limit: 500 } }))}`, { headers: { authorization: `Bearer ${apiToken}` } });
        running = ((await listed.json()) as { result: { data: { json: unknown[] } } }).result.data.json.length;
      } catch (error) {
        console.log(`  [${stamp()}] warm-up: migrations.list failed (${(error as Error).message}); the console is busy, trying again`);
      }
      if (running >= Math.min(500, migrationIds.length)) break;
      await sleep(2_000);
    }
    console.log(`  [${stamp()}] ${running} migrations copying; measuring for ${options.windowS} s`);

    setup.warmUpS = (performance.now() - started) / 1000 - setup.migrationsCreatedS;
    measuring = true;
    const windowStart = Date.now();
    const windowEnd = windowStart + options.windowS * 1000;
    const machineAtStart = machineCpu();
    const latencies = new Map<string, number[]>();
    const failures: string[] = [];
    let calls = 0;
    while (Date.now() < windowEnd) {
      const call = listCalls(plan, plan.hosts[0]!.luns.length, calls++);
      try {
        const { ms } = await timeQuery(consoleUrl, apiToken, call);
        latencies.set(call.procedure, [...(latencies.get(call.procedure) ?? []), ms]);
      } catch (error) {
        failures.push((error as Error).message);
      }
      await sleep(50);
    }
    measuring = false;
    const machineAtEnd = machineCpu();
    const inWindow = usage.filter((line) => line.atMs! >= windowStart && line.atMs! <= windowEnd);
    const perSecond = inWindow.slice(1).map((line, i) => {
      const previous = inWindow[i]!;
      const seconds = (line.atMs! - previous.atMs!) / 1000;
      return { cores: (line.cpuUs! - previous.cpuUs!) / 1e6 / seconds, samples: (line.samplesPublished! - previous.samplesPublished!) / seconds, agentRequests: (line.agentRequests! - previous.agentRequests!) / seconds };
    });
    const first = inWindow[0];
    const last = inWindow.at(-1);
    const windowS = first && last ? (last.atMs! - first.atMs!) / 1000 : 0;
    const sortedLags = [...lagsMs].sort((a, b) => a - b);
    const sortedHeartbeats = [...heartbeatLatencies].sort((a, b) => a - b);
    const run: FleetRun = {
      database,
      databaseLocation: databaseUrl ? 'PostgreSQL (local server, fresh database)' : 'PGlite (data folder)',
      migrationsRunning: running,
      lists: [...latencies.entries()].map(([procedure, values]) => {
        const sorted = [...values].sort((a, b) => a - b);
        return { procedure, calls: sorted.length, p50Ms: quantile(sorted, 0.5)!, p95Ms: quantile(sorted, 0.95)!, maxMs: sorted.at(-1)! };
      }),
      listFailures: failures.length,
      firstFailure: failures[0],
      samplesPerS: windowS ? (last!.samplesPublished! - first!.samplesPublished!) / windowS : 0,
      samplesPerSSpread: spread(perSecond.map((s) => s.samples)),
      offeredSamplesPerS: running,
      agentRequestsPerS: spread(perSecond.map((s) => s.agentRequests)),
      lag: { received: sortedLags.length, p50Ms: quantile(sortedLags, 0.5), p95Ms: quantile(sortedLags, 0.95), maxMs: sortedLags.at(-1) ?? null },
      heartbeat: { received: sortedHeartbeats.length, failed: heartbeatsFailed, p50Ms: quantile(sortedHeartbeats, 0.5), p95Ms: quantile(sortedHeartbeats, 0.95) },
      cores: spread(perSecond.map((s) => s.cores)),
      coresMean: windowS ? (last!.cpuUs! - first!.cpuUs!) / 1e6 / windowS : null,
      machineBusy: machineAtStart && machineAtEnd ? 1 - (machineAtEnd.idle - machineAtStart.idle) / Math.max(1, machineAtEnd.total - machineAtStart.total) : null,
      rssMiB: spread(inWindow.map((line) => line.rssBytes! / MiB)),
      heapMiB: spread(inWindow.map((line) => line.heapUsedBytes! / MiB)),
      subscriptions: subscriptions.length,
      subscriptionReconnects: subscriptions.reduce((sum, subscription) => sum + subscription.reconnects, 0),
      setup,
    };
    return run;
  } finally {
    for (const subscription of subscriptions) subscription.close();
    for (const child of children.reverse()) await child.stop();
    await rm(root, { recursive: true, force: true });
  }
}

/** The machine's CPU time counters (all processes, all cores) from /proc/stat; undefined where there is none. */
function machineCpu(): { idle: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { idle: fields[3]! + (fields[4] ?? 0), total: fields.reduce((sum, value) => sum + value, 0) };
  } catch {
    return undefined;
  }
}

export async function runFleet(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const machine = describeMachine();
  const runs: FleetRun[] = [];
  const skipped: string[] = [];
  for (const database of options.databases) {
    let local: LocalPostgres | undefined;
    let url: string | undefined;
    if (database === 'postgres') {
      if (options.postgresUrl) url = await freshDatabase(options.postgresUrl);
      else if (hasPostgres()) url = (local = await startLocalPostgres()).url;
      else {
        skipped.push('PostgreSQL: no --postgres-url, TERN_TEST_DATABASE_URL or local initdb');
        continue;
      }
    }
    console.log(`fleet on ${database}: ${options.hosts} hosts, ${options.luns} LUNs on ${options.arrays} arrays, ${options.migrations} migrations, ${options.subscribers} browsers …`);
    try {
      const run = await runOnce(options, database, url);
      runs.push(run);
      console.log(`\n${renderFleetText({ options, machine, runs: [run], skipped: [] })}\n`);
    } catch (error) {
      skipped.push(`${database === 'pglite' ? 'PGlite' : 'PostgreSQL'} at this scale: the run failed: ${(error as Error).message}`);
      console.error(`fleet on ${database} failed: ${(error as Error).message}`);
    } finally {
      local?.stop();
    }
  }
  const report = { options, machine, runs, skipped };
  console.log(`\n${renderFleetText(report)}`);
  if (options.markdown) {
    await replaceSection(path.join(process.cwd(), 'docs', 'benchmarks.md'), renderFleetMarkdown(report));
    console.log('\nwrote the "## Fleet scale" section of docs/benchmarks.md');
  }
}

/** A new database on the given server, so every run starts empty. */
async function freshDatabase(serverUrl: string): Promise<string> {
  const { default: postgres } = await import('postgres');
  const name = `tern_bench_fleet_${Date.now()}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
