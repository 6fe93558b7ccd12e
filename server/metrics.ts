import 'server-only';
/**
 * Prometheus metrics for `GET /api/metrics`, in the text exposition format (version 0.0.4),
 * written by hand: what Tern exposes is a few counters, one histogram and gauges read from the
 * database at scrape time, which does not call for a client library and its dependencies.
 * API request counts and latencies live in this process (per replica); fleet gauges come from
 * the shared database, so every replica reports the same fleet.
 */
import { count, eq, inArray, sql, sum } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Db } from '@/db/open';
import { arrays, arrayState, evacuations, evacuationState, hosts, hostState, migrations, migrationState } from '@/db/schema';
import packageJson from '@/package.json';

/** Request latency buckets in seconds, from a cached read to a slow plan. */
export const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** States in which an agent is copying, so a migration's copy rate counts towards its arrays. */
const COPYING_STATES = ['syncing', 'copying', 'ready', 'cutting-over'] as const;

interface ProcedureStats {
  /** Requests by result code (`OK`, `UNAUTHORIZED`, `BAD_REQUEST`, …). */
  byCode: Map<string, number>;
  type: string;
  bucketCounts: number[];
  sumS: number;
  count: number;
}

/** On `globalThis`: Next.js loads route handlers and instrumentation as separate module graphs. */
const holder = globalThis as unknown as { ternApiStats?: Map<string, ProcedureStats> };
const apiStats = (holder.ternApiStats ??= new Map());

export function recordApiRequest(procedure: string, type: string, code: string, durationS: number) {
  let stats = apiStats.get(procedure);
  if (!stats) {
    stats = { byCode: new Map(), type, bucketCounts: LATENCY_BUCKETS_S.map(() => 0), sumS: 0, count: 0 };
    apiStats.set(procedure, stats);
  }
  stats.byCode.set(code, (stats.byCode.get(code) ?? 0) + 1);
  LATENCY_BUCKETS_S.forEach((bound, index) => {
    if (durationS <= bound) stats.bucketCounts[index] = (stats.bucketCounts[index] ?? 0) + 1;
  });
  stats.sumS += durationS;
  stats.count += 1;
}

type Labels = Record<string, string>;
interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  samples: { suffix?: string; labels?: Labels; value: number }[];
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export function exposition(families: Family[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {});
      const labelText = labels.length ? `{${labels.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(',')}}` : '';
      lines.push(`${family.name}${sample.suffix ?? ''}${labelText} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function apiFamilies(): Family[] {
  const requests: Family = { name: 'tern_api_requests_total', help: 'tRPC calls handled by this console process, by procedure, type and result code.', type: 'counter', samples: [] };
  const latency: Family = { name: 'tern_api_request_duration_seconds', help: 'Time to answer a tRPC call (for subscriptions: to start the stream), by procedure.', type: 'histogram', samples: [] };
  for (const [procedure, stats] of [...apiStats].sort(([a], [b]) => a.localeCompare(b))) {
    for (const [code, value] of stats.byCode) requests.samples.push({ labels: { procedure, type: stats.type, code }, value });
    LATENCY_BUCKETS_S.forEach((bound, index) => latency.samples.push({ suffix: '_bucket', labels: { procedure, le: String(bound) }, value: stats.bucketCounts[index] ?? 0 }));
    latency.samples.push({ suffix: '_bucket', labels: { procedure, le: '+Inf' }, value: stats.count });
    latency.samples.push({ suffix: '_sum', labels: { procedure }, value: stats.sumS });
    latency.samples.push({ suffix: '_count', labels: { procedure }, value: stats.count });
  }
  return [requests, latency];
}

/** Counts by state with every state present, so a state that empties reads 0 instead of vanishing. */
function byState<S extends string>(states: readonly S[], rows: { state: S; n: number }[]) {
  const counts = new Map(rows.map((row) => [row.state, Number(row.n)]));
  return states.map((state) => ({ labels: { state }, value: counts.get(state) ?? 0 }));
}

async function fleetFamilies(db: Db, now: Date): Promise<Family[]> {
  const migrationRows = await db.select({ state: migrations.state, n: count() }).from(migrations).groupBy(migrations.state);
  const [copied] = await db.select({ bytes: sum(migrations.bytesCopied).mapWith(Number) }).from(migrations);
  const evacuationRows = await db.select({ state: evacuations.state, n: count() }).from(evacuations).groupBy(evacuations.state);
  const hostRows = await db.select({ state: hosts.state, n: count() }).from(hosts).groupBy(hosts.state);
  const arrayRows = await db.select({ state: arrays.state, n: count() }).from(arrays).groupBy(arrays.state);
  const heartbeats = await db.select({ hostname: hosts.hostname, state: hosts.state, lastHeartbeatAt: hosts.lastHeartbeatAt }).from(hosts).orderBy(hosts.hostname);

  // The copy rate of each copying migration is its agent's latest sample, stored on the row.
  const source = alias(arrays, 'source_array');
  const target = alias(arrays, 'target_array');
  const copying = await db
    .select({ source: source.name, target: target.name, rate: migrations.copyRateBytesPerS })
    .from(migrations)
    .innerJoin(target, eq(target.id, migrations.targetArrayId))
    .leftJoin(source, eq(source.id, migrations.sourceArrayId))
    .where(inArray(migrations.state, [...COPYING_STATES]));
  const arrayNames = await db.select({ name: arrays.name }).from(arrays).orderBy(arrays.name);
  const readRate = new Map(arrayNames.map(({ name }) => [name, 0]));
  const writeRate = new Map(arrayNames.map(({ name }) => [name, 0]));
  for (const row of copying) {
    if (row.source) readRate.set(row.source, (readRate.get(row.source) ?? 0) + (row.rate ?? 0));
    writeRate.set(row.target, (writeRate.get(row.target) ?? 0) + (row.rate ?? 0));
  }

  return [
    { name: 'tern_migrations', help: 'Migrations by state.', type: 'gauge', samples: byState(migrationState.enumValues, migrationRows) },
    {
      name: 'tern_migration_copied_bytes',
      help: 'Bytes copied by all migrations, as their agents last reported (a rolled-back migration keeps what it copied).',
      type: 'gauge',
      samples: [{ value: copied?.bytes ?? 0 }],
    },
    {
      name: 'tern_array_copy_rate_bytes_per_second',
      help: 'Copy rate of the migrations reading from (direction="source") or writing to (direction="target") each array, from their latest samples.',
      type: 'gauge',
      samples: [
        ...[...readRate].map(([array, value]) => ({ labels: { array, direction: 'source' }, value })),
        ...[...writeRate].map(([array, value]) => ({ labels: { array, direction: 'target' }, value })),
      ],
    },
    { name: 'tern_evacuations', help: 'Evacuations by state.', type: 'gauge', samples: byState(evacuationState.enumValues, evacuationRows) },
    { name: 'tern_hosts', help: 'Managed hosts by agent state.', type: 'gauge', samples: byState(hostState.enumValues, hostRows) },
    { name: 'tern_arrays', help: 'Arrays by state.', type: 'gauge', samples: byState(arrayState.enumValues, arrayRows) },
    {
      name: 'tern_agent_heartbeat_age_seconds',
      help: 'Seconds since each host agent last heartbeat (hosts that never reported are left out).',
      type: 'gauge',
      samples: heartbeats
        .filter((row) => row.lastHeartbeatAt)
        .map((row) => ({ labels: { host: row.hostname, state: row.state }, value: Math.max(0, (now.getTime() - (row.lastHeartbeatAt?.getTime() ?? 0)) / 1000) })),
    },
  ];
}

function processFamilies(): Family[] {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return [
    { name: 'process_cpu_user_seconds_total', help: 'User CPU time spent by the console process.', type: 'counter', samples: [{ value: cpu.user / 1e6 }] },
    { name: 'process_cpu_system_seconds_total', help: 'System CPU time spent by the console process.', type: 'counter', samples: [{ value: cpu.system / 1e6 }] },
    { name: 'process_resident_memory_bytes', help: 'Resident memory of the console process.', type: 'gauge', samples: [{ value: memory.rss }] },
    { name: 'nodejs_heap_used_bytes', help: 'V8 heap in use.', type: 'gauge', samples: [{ value: memory.heapUsed }] },
    { name: 'process_start_time_seconds', help: 'When the console process started, in Unix seconds.', type: 'gauge', samples: [{ value: Math.round(Date.now() / 1000 - process.uptime()) }] },
    { name: 'tern_build_info', help: 'The console version.', type: 'gauge', samples: [{ labels: { version: packageJson.version }, value: 1 }] },
  ];
}

/** The whole scrape: fleet gauges from the database, then this process's API and runtime figures. */
export async function collectMetrics(db: Db, now = new Date()): Promise<string> {
  return exposition([...(await fleetFamilies(db, now)), ...apiFamilies(), ...processFamilies()]);
}

/** A constant SQL probe for the health check. */
export async function pingDatabase(db: Db): Promise<void> {
  await db.execute(sql`select 1`);
}
