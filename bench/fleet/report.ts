/** The fleet benchmark's figures, bars and tables (text for the terminal, Markdown for docs/benchmarks.md). */
import type { Machine } from '../machine';
import type { Spread } from '../stats';
import { formatSpread, markdownTable, textTable, type Cells } from '../table';
import type { FleetShape } from './plan';

export interface FleetRun {
  database: 'pglite' | 'postgres';
  databaseLocation: string;
  migrationsRunning: number;
  lists: { procedure: string; calls: number; p50Ms: number; p95Ms: number; maxMs: number }[];
  listFailures: number;
  firstFailure: string | undefined;
  samplesPerS: number;
  samplesPerSSpread: Spread | null;
  offeredSamplesPerS: number;
  agentRequestsPerS: Spread | null;
  lag: { received: number; p50Ms: number | null; p95Ms: number | null; maxMs: number | null };
  heartbeat: { received: number; failed: number; p50Ms: number | null; p95Ms: number | null };
  cores: Spread | null;
  coresMean: number | null;
  /** Share of the whole machine's CPU time (every process, every core) in use during the window. */
  machineBusy: number | null;
  rssMiB: Spread | null;
  heapMiB: Spread | null;
  subscriptions: number;
  subscriptionReconnects: number;
  /** Seconds from the start: seeding (console's own), all agents enrolled, migrations created; then the warm-up's length. */
  setup: { seedS: number; enrolledS: number; migrationsCreatedS: number; warmUpS: number; enrolRetries: number };
}

export interface FleetReport {
  options: FleetShape & { agentProcesses: number; subscribers: number; windowS: number };
  machine: Machine;
  runs: FleetRun[];
  skipped: string[];
}

const BARS = { listP95Ms: 100, lagMs: 1000, cores: 1 };
const ms = (value: number | null) => (value === null ? '—' : value.toFixed(0));

function rows(run: FleetRun): Cells[] {
  return [
    ...run.lists.map((list) => [`${list.procedure} p50 / p95 / max, ms (calls)`, `${ms(list.p50Ms)} / ${ms(list.p95Ms)} / ${ms(list.maxMs)} (${list.calls})`]),
    ['list calls that failed', String(run.listFailures)],
    ['migrations copying at the start of the window', String(run.migrationsRunning)],
    ['telemetry offered (1 sample/s per copying migration), samples/s', String(run.offeredSamplesPerS)],
    ['telemetry ingested and published, samples/s (mean; per-second median [range])', `${run.samplesPerS.toFixed(0)}; ${formatSpread(run.samplesPerSSpread, 0)}`],
    ['agent → console requests/s (enrol, heartbeat), per second', formatSpread(run.agentRequestsPerS, 0)],
    ['sample lag, agent timestamp → subscriber, p50 / p95 / max, ms', `${ms(run.lag.p50Ms)} / ${ms(run.lag.p95Ms)} / ${ms(run.lag.maxMs)} (${run.lag.received} samples)`],
    ['heartbeat round trip p50 / p95, ms (failed in the run)', `${ms(run.heartbeat.p50Ms)} / ${ms(run.heartbeat.p95Ms)} (${run.heartbeat.failed})`],
    ['console CPU, cores (mean; per-second median [range])', `${run.coresMean?.toFixed(2) ?? '—'}; ${formatSpread(run.cores, 2)}`],
    ['machine CPU busy (console, database, agents, clients: all cores), %', run.machineBusy === null ? '—' : (run.machineBusy * 100).toFixed(0)],
    ['console RSS, MiB', formatSpread(run.rssMiB, 0)],
    ['console heap used, MiB', formatSpread(run.heapMiB, 0)],
    ['SSE subscriptions (reconnects after a failure)', `${run.subscriptions} (${run.subscriptionReconnects})`],
    ['set-up: seed / all enrolled / migrations created / warm-up, s', `${run.setup.seedS.toFixed(0)} / ${run.setup.enrolledS.toFixed(0)} / ${run.setup.migrationsCreatedS.toFixed(0)} / ${run.setup.warmUpS.toFixed(0)}`],
    ['enrolments retried (console unreachable)', String(run.setup.enrolRetries)],
  ];
}

export function judge(run: FleetRun, migrations: number): { met: boolean; text: string }[] {
  const worstList = [...run.lists].sort((a, b) => b.p95Ms - a.p95Ms)[0];
  const full = run.migrationsRunning >= migrations;
  return [
    {
      met: run.lists.every((list) => list.p95Ms < BARS.listP95Ms) && run.listFailures === 0,
      text: `list APIs p95 under ${BARS.listP95Ms} ms: slowest ${worstList ? `${worstList.procedure} p95 ${worstList.p95Ms.toFixed(0)} ms` : '—'}${run.listFailures ? `, ${run.listFailures} calls failed` : ''}`,
    },
    {
      met: run.lag.p95Ms !== null && run.lag.p95Ms < BARS.lagMs,
      text: `subscription lag under ${BARS.lagMs} ms (judged at p95): p95 ${ms(run.lag.p95Ms)} ms, max ${ms(run.lag.maxMs)} ms`,
    },
    {
      met: full && run.coresMean !== null && run.coresMean < BARS.cores && run.samplesPerS >= 0.9 * run.offeredSamplesPerS,
      text: `console under ${BARS.cores} core at ${migrations} migrations, keeping up with their telemetry: ${run.coresMean?.toFixed(2) ?? '—'} cores with ${run.migrationsRunning} copying, ingesting ${run.samplesPerS.toFixed(0)} of ${run.offeredSamplesPerS} samples/s`,
    },
  ];
}

/** Node runs the console's JavaScript (and PGlite) on one thread, so a second near 1 core is a saturated console, not headroom. */
const SATURATED_CORES = 0.95;

const bars = (report: FleetReport, run: FleetRun) => [
  ...judge(run, report.options.migrations).map((bar) => `${bar.met ? 'MET   ' : 'MISSED'}  ${run.database}: ${bar.text}`),
  ...(run.cores && run.cores.max >= SATURATED_CORES
    ? [`NOTE    ${run.database}: the console reached ${run.cores.max.toFixed(2)} cores in its busiest second; its JavaScript runs on one thread, so it was saturated then, and the CPU figure is a ceiling, not headroom`]
    : []),
];

export function renderFleetText(report: FleetReport): string {
  const headers = ['figure', ...report.runs.map((run) => run.database)];
  const table = report.runs.length ? mergeRows(report.runs) : [];
  return [textTable(headers, table), '', ...report.runs.flatMap((run) => bars(report, run)), ...report.skipped.map((text) => `skipped: ${text}`)].join('\n');
}

/** One row per figure, one column per database (figures named by the first run's rows). */
function mergeRows(runs: FleetRun[]): Cells[] {
  const perRun = runs.map(rows);
  const labels = [...new Set(perRun.flatMap((r) => r.map((row) => row[0]!)))];
  return labels.map((label) => [label, ...perRun.map((r) => r.find((row) => row[0] === label)?.[1] ?? '—')]);
}

export function renderFleetMarkdown(report: FleetReport): string {
  const { options, machine } = report;
  const lunsPerHost = Math.max(1, Math.floor(options.luns / options.hosts));
  return [
    '## Fleet scale',
    '',
    '`npm run bench -- fleet --markdown` (bench/fleet.ts). One console process (bench/fleet/console.ts: the real agent routes, the real tRPC route handler on node:http, the real engine and reconciler) under a fleet of lightweight agents speaking the real protocol, on each database in turn.',
    '',
    `- Scale run: ${options.hosts} hosts (lightweight agents in ${options.agentProcesses} processes, each enrolled with its own one-time token and heartbeating every 3 s as the real agent does: the hash of its inventory of ${lunsPerHost} mapped LUNs and one volume, the inventory itself only when the console does not hold that hash); ${options.hosts * lunsPerHost} LUNs on ${options.arrays} directory arrays; ${options.migrations} concurrent migrations, each a real copy of an ${options.volumeBytes / 1024 ** 2} MiB volume file to a target LUN the engine creates and maps, paced at ${(options.throttleBytesPerS / 1024).toFixed(0)} KiB/s by the migration's throttle so it copies through the whole window, sampled once a second from the bytes actually copied and each sample pushed to the console as the real agent pushes it, verified by comparing both files, then committed by the engine; ${options.subscribers} browsers, each an SSE subscription to one migration's \`migrations.onSample\` and one to \`events.onEvent\`, plus one client calling the paged list queries one after another (50 ms apart) with a viewer API token.`,
    `- Window: ${options.windowS} s, starting once every migration is copying (or after 3 minutes of warm-up). CPU is the console process's \`process.cpuUsage()\` per wall second, memory its \`process.memoryUsage()\`, sampled every second inside the window; lag is the time from a sample's \`at\` (stamped by the agent) to its arrival at a subscriber, on one machine's clock. The agents, the clients and the database server (PostgreSQL) run on the same 2 cores as the console, so every figure includes their competition.`,
    `- Machine: ${machine.cpu}, ${machine.memoryGiB} GiB RAM, ${machine.kernel}, Node ${machine.node}; load average at start ${machine.loadAverage} (1/5/15 min); ${machine.date}; commit ${machine.commit}.`,
    ...report.runs.map((run) => `- ${run.database}: ${run.databaseLocation}.`),
    ...report.skipped.map((text) => `- Not run: ${text}.`),
    '',
    markdownTable(['figure', ...report.runs.map((run) => run.database)], mergeRows(report.runs)),
    '',
    '### Bars',
    '',
    ...report.runs.flatMap((run) => bars(report, run).map((line) => `- ${line}`)),
  ].join('\n');
}
