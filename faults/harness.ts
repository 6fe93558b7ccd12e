/**
 * What every soak scenario of `npm run test:faults` shares: the run count and seed (from
 * scripts/test-faults.mjs through TERN_FAULT_RUNS and TERN_FAULT_SEED), a seeded random source,
 * a writer that runs in this process over the agent's NBD socket (so its ledger of acknowledged
 * writes survives the agent), waiting for a migration to end, and the per-run record each
 * scenario saves as JSON for the runner's table in docs/reliability.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrays } from '@/db/schema';
import { NbdClient } from '@/server/dataplane/nbd/client';
import { verifyLedger, Workload, type BlockTarget, type WriteLedger } from '@/server/dataplane/workload';
import { TERMINAL_STATES } from '@/server/engine/migration-states';
import type { MigrationStatus } from '@/server/protocol/agent-api';
import { spawnAgent, type AgentProcess, type SpawnAgentOptions } from '@/test/agent-process';
import { MiB, VOLUME_BYTES } from '@/test/engine-fixture';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const soakRuns = Math.max(1, Number(process.env.TERN_FAULT_RUNS ?? 3));
export const soakSeed = Number(process.env.TERN_FAULT_SEED ?? 1);
const resultsDir = process.env.TERN_FAULT_RESULTS_DIR ?? path.join(root, 'test-results', 'faults');

/** How long a migration may take to end after its fault before it counts as stuck. */
export const STUCK_AFTER_MS = 120_000;
/** The writer's hot range: the first 2 MiB of each 16 MiB volume, so copies race its writes. */
export const HOT_BYTES = 2 * MiB;
export const THROTTLE_BYTES_PER_S = 4 * MiB;

/** mulberry32, seeded: the same seed draws the same strategies, moments and faults. */
export function random(seed: number) {
  // fmix32 of the seed first, so neighbouring seeds (runs 1, 2, 3) start far apart.
  let x = Math.imul(seed ^ (seed >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  x = (x ^ (x >>> 16)) >>> 0;
  const next = () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = x;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  // Neighbouring seeds still start alike for a draw or two: skip those.
  for (let i = 0; i < 4; i++) next();
  return {
    next,
    between: (low: number, high: number) => low + next() * (high - low),
    pick: <T>(choices: readonly T[]): T => choices[Math.floor(next() * choices.length)]!,
  };
}

export interface RunRecord {
  run: number;
  seed: number;
  strategy: 'mirror' | 'precopy';
  /** What was done, e.g. `kill -9 agent in copying at 41%`. */
  fault: string;
  /** False when the migration had already ended before the fault's moment came. */
  faultHit: boolean;
  /** completed, failed, rolled-back, cancelled, or stuck (not ended within STUCK_AFTER_MS). */
  outcome: string;
  /** For a failed migration: its reason, shortened to a class such as `target write EIO`. */
  reason: string | null;
  /** Whether the outcome is what this fault must lead to (e.g. a persistent target EIO must fail). */
  expected: boolean;
  writesAcknowledged: number;
  writesChecked: number;
  writesLost: number;
  writesIndeterminate: number;
  /** Application writes that returned an error; counted, not lost (their content is indeterminate). */
  writeErrors: number;
  volumeBytes: number;
  bytesCopied: number;
  /** After an agent restart: what the job copied again (its DRL's dirty regions), and what was dirty just before the kill. */
  recopiedBytes: number | null;
  dirtyAtCrashBytes: number | null;
  /** From the fault ending (restart, heal) to the migration's end. */
  recoveryMs: number | null;
  /** Anything worth a reader's attention (an agent that crashed of the fault, say). */
  note: string | null;
}

export interface ScenarioResult {
  scenario: string;
  title: string;
  database: 'pglite' | 'postgres';
  seed: number;
  runs: RunRecord[];
  startedAt: string;
  durationMs: number;
  skipped: string | null;
}

/** Collects a scenario's runs and writes them to test-results/faults/<scenario>.json after each run. */
export function scenarioRecorder(scenario: string, title: string) {
  const started = Date.now();
  const result: ScenarioResult = {
    scenario,
    title,
    database: process.env.TERN_TEST_DATABASE_URL ? 'postgres' : 'pglite',
    seed: soakSeed,
    runs: [],
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    skipped: null,
  };
  const save = () => {
    result.durationMs = Date.now() - started;
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, `${scenario}.json`), `${JSON.stringify(result, null, 1)}\n`);
  };
  return {
    result,
    add(record: RunRecord) {
      result.runs.push(record);
      save();
    },
    skip(reason: string) {
      result.skipped = reason;
      save();
    },
    save,
  };
}

/**
 * Mirror and precopy in turn, starting from one the base seed picks, so even a short soak meets
 * both strategies under every fault.
 */
export function strategyFor(run: number): 'mirror' | 'precopy' {
  return (run + soakSeed) % 2 === 0 ? 'mirror' : 'precopy';
}

/** The seed of run `run` of a scenario: distinct per scenario, reproducible from the base seed. */
export function runSeed(scenarioIndex: number, run: number): number {
  return (soakSeed * 1000 + scenarioIndex * 100 + run) >>> 0;
}

/**
 * An application writing to a volume through the agent's NBD Unix socket from this process, so
 * the ledger of acknowledged writes outlives an agent killed with SIGKILL. `reconnect` follows
 * the agent after a restart; `finish` stops writing and verifies every acknowledged write.
 */
export async function startWriter(socketPath: string, exportName: string, seed: number) {
  let client = await NbdClient.connect({ path: socketPath }, exportName);
  // The longest any one write took to be answered (failed ones too), for scenarios that stall a LUN.
  let maxWriteLatencyMs = 0;
  const timed = (device: NbdClient): BlockTarget => ({
    sizeBytes: device.sizeBytes,
    read: (offset, length) => device.read(offset, length),
    async write(offset, data, options) {
      const started = performance.now();
      try {
        await device.write(offset, data, options);
      } finally {
        maxWriteLatencyMs = Math.max(maxWriteLatencyMs, performance.now() - started);
      }
    },
  });
  const workload = new Workload(timed(client), { depth: 4, writeRateBytesPerS: MiB, seed, range: { offset: 0, length: HOT_BYTES } });
  workload.start();
  return {
    workload,
    maxWriteLatencyMs: () => maxWriteLatencyMs,
    async reconnect(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          client = await NbdClient.connect({ path: socketPath }, exportName);
          workload.retarget(timed(client));
          return;
        } catch (error) {
          if (Date.now() > deadline) throw new Error(`cannot reconnect the writer to ${exportName}: ${(error as Error).message}`);
          await sleep(200);
        }
      }
    },
    async finish() {
      await workload.stop();
      // A fresh connection: the last one may have died with the agent.
      const reader = await NbdClient.connect({ path: socketPath }, exportName);
      try {
        const report = await verifyLedger(reader, workload.ledger());
        return {
          acknowledged: workload.acknowledged.size,
          checked: report.checked,
          lost: report.lost.length,
          indeterminate: report.indeterminate,
          errors: workload.stats.errors,
          firstLost: report.lost[0] ?? null,
          maxWriteLatencyMs: Math.round(maxWriteLatencyMs),
        };
      } finally {
        await reader.close();
      }
    },
  };
}

type WriterReport = Awaited<ReturnType<Awaited<ReturnType<typeof startWriter>>['finish']>>;

/** The fields every run records the same way: how the migration ended, the writer's ledger, what the job copied. */
export function runOutcome(end: { state: string; error: string | null }, written: WriterReport, job: { bytesCopied: number } | undefined) {
  return {
    outcome: end.state,
    reason: end.state === 'completed' ? null : reasonClass(end.error),
    writesAcknowledged: written.acknowledged,
    writesChecked: written.checked,
    writesLost: written.lost,
    writesIndeterminate: written.indeterminate,
    writeErrors: written.errors,
    volumeBytes: VOLUME_BYTES,
    bytesCopied: job?.bytesCopied ?? 0,
  };
}

export const isTerminal = (state: string) => (TERMINAL_STATES as readonly string[]).includes(state);

/** Polls `probe` until the migration is in a terminal state, or reports `stuck` after `timeoutMs`. */
export async function waitForEnd(probe: () => Promise<{ state: string; error: string | null } | undefined>, timeoutMs = STUCK_AFTER_MS) {
  const deadline = Date.now() + timeoutMs;
  let last: { state: string; error: string | null } | undefined;
  while (Date.now() < deadline) {
    last = await probe().catch(() => last);
    if (last && isTerminal(last.state)) return last;
    await sleep(250);
  }
  return { state: 'stuck', error: `still ${last?.state ?? 'unknown'} after ${timeoutMs / 1000} s` };
}

/** A failure reason as a class for the table: side, operation and errno when it names them. */
export function reasonClass(error: string | null): string | null {
  if (!error) return null;
  const io = /(source|target) LUN (read|write|flush) error at offset \d+ \((\w+)\)/.exec(error);
  if (io) return `${io[1]} ${io[2]} ${io[3]}`;
  const text = error.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '…');
  // Cut at a word, not inside one, so a class still reads as words.
  return text.length <= 110 ? text : `${text.slice(0, text.lastIndexOf(' ', 110))} …`;
}

/** Calls the agent's HTTP API as the console; undefined when it does not answer in time. */
export async function jobStatusFrom(agentUrl: string, consoleKey: string, id: string): Promise<MigrationStatus | undefined> {
  try {
    const response = await fetch(new URL(`/v1/migrations/${id}`, agentUrl), { headers: { authorization: `Bearer ${consoleKey}` }, signal: AbortSignal.timeout(3_000) });
    return response.ok ? ((await response.json()) as MigrationStatus) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Raises a directory array's declared capacity (its manifest and its row), so many runs can
 * move 16 MiB volumes onto one fixture's target array; the LUN files are sparse.
 */
export async function enlargeArray(db: Db, arrayId: string, folder: string, capacityBytes: number) {
  const manifestFile = path.join(folder, 'tern-array.json');
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { capacityBytes: number };
  manifest.capacityBytes = capacityBytes;
  await writeFile(manifestFile, JSON.stringify(manifest));
  await db.update(arrays).set({ capacityBytes }).where(eq(arrays.id, arrayId));
}

/**
 * spawnAgent (test/agent-process.ts) with extra environment variables, such as `TERN_CRASH_AT`
 * (server/dataplane/crash-points.ts). spawnAgent copies process.env when it spawns, before it
 * returns, so the variables are set for that call only and this process never sees them after.
 */
export function spawnAgentWithEnv(env: Record<string, string>, options: SpawnAgentOptions): AgentProcess {
  const saved = Object.entries(process.env).filter(([name]) => name in env);
  Object.assign(process.env, env);
  try {
    return spawnAgent(options);
  } finally {
    for (const name of Object.keys(env)) delete process.env[name];
    for (const [name, value] of saved) process.env[name] = value;
  }
}

/**
 * Polls the agent's status of a job until it has copied `fraction` of the volume and not yet
 * switched: a moment "during the copy". Undefined when the job switched or ended first, or did
 * not get there within `timeoutMs`.
 */
export async function untilCopied(status: () => Promise<MigrationStatus | undefined>, fraction: number, timeoutMs = 30_000): Promise<MigrationStatus | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const job = await status();
    if (job && (job.switched || !['copying', 'converging', 'ready', 'cutting-over'].includes(job.phase))) return undefined;
    if (job && job.bytesCopied >= fraction * VOLUME_BYTES) return job;
    await sleep(50);
  }
  return undefined;
}

/**
 * What an agent restarted now would serve: the ledger checked against the LUN file of the plex the
 * agent's volume configuration (`state.json` in its data folder, server/agent/store.ts) lists as
 * active, read from the file system rather than through the running agent, whose open file
 * handle may outlive the file's name.
 */
export async function ledgerOnDisk(agentDataDir: string, exportName: string, ledger: WriteLedger) {
  const state = JSON.parse(await readFile(path.join(agentDataDir, 'state.json'), 'utf8')) as { diskGroups: { volumes: { nbdExport: string; plexes: { lunPath: string; state: string }[] }[] }[] };
  const volume = state.diskGroups.flatMap((group) => group.volumes).find((candidate) => candidate.nbdExport === exportName);
  const plex = volume?.plexes.find((candidate) => candidate.state === 'active');
  if (!plex) return { lunPath: null, missing: `the configuration lists no active plex for ${exportName}`, checked: 0, lost: ledger.acknowledged.length };
  const handle = await open(plex.lunPath, 'r').catch((error: NodeJS.ErrnoException) => error);
  if (handle instanceof Error) return { lunPath: plex.lunPath, missing: `${plex.lunPath}: ${handle.code ?? handle.message}`, checked: 0, lost: ledger.acknowledged.length };
  try {
    const file: BlockTarget = {
      sizeBytes: VOLUME_BYTES,
      async read(offset, length) {
        const buffer = Buffer.alloc(length);
        await handle.read(buffer, 0, length, offset);
        return buffer;
      },
      write: () => Promise.reject(new Error('read only')),
    };
    const report = await verifyLedger(file, ledger);
    return { lunPath: plex.lunPath, missing: null, checked: report.checked, lost: report.lost.length };
  } finally {
    await handle.close();
  }
}
