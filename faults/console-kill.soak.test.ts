/**
 * Soak (b), docs/testing.md §3: a console killed with SIGKILL at a random moment of a migration
 * while the agent and the writer carry on. On PGlite the one console (test/engine-console.ts on
 * a data folder) is restarted on the same folder after a random time down; with
 * TERN_TEST_DATABASE_URL, three replicas run on one PostgreSQL database, the one holding the
 * migration's lease is killed while the other two run, and a replacement starts. Each run must
 * end completed, with no state transition recorded twice, the copy not started over, and no
 * acknowledged write lost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, eq, like } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '@/db/open';
import { events, migrations } from '@/db/schema';
import { createMigration } from '@/server/engine/create';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { actor, MiB, startEngineFixture, VOLUME_BYTES, type EngineFixture } from '@/test/engine-fixture';
import { waitFor } from '@/test/wait-for';
import { enlargeArray, jobStatusFrom, random, root, runOutcome, runSeed, scenarioRecorder, soakRuns, startWriter, strategyFor, THROTTLE_BYTES_PER_S, waitForEnd } from './harness';

const onPostgres = Boolean(process.env.TERN_TEST_DATABASE_URL);
let fx: EngineFixture;
let consolePort = 0;
let consoleKey = '';
let agentUrl = '';
const volumeIds: string[] = [];
const consoles = new Set<ChildProcess>();
const recorder = scenarioRecorder(
  'console-kill',
  onPostgres ? 'kill -9 of the replica driving the migration, two others running (PostgreSQL)' : 'kill -9 of the console, restarted on its folder (PGlite)',
);

interface ConsoleLine {
  msg: string;
  id?: string;
  state?: string;
  owner?: string;
}

/** test/engine-console.ts as a process; `lines` are the migration changes it heard. */
async function startConsole(where: { dataDir: string } | { databaseUrl: string }) {
  const args = 'dataDir' in where ? ['--data-dir', where.dataDir, '--port', String(consolePort)] : ['--database-url', where.databaseUrl];
  const child = spawn(process.execPath, ['--conditions=react-server', '--import', 'tsx', 'test/engine-console.ts', ...args], {
    cwd: root,
    env: { ...process.env, TERN_ENGINE_LEASE_MS: onPostgres ? '2000' : '3000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  consoles.add(child);
  const lines: ConsoleLine[] = [];
  let output = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (line.startsWith('{')) lines.push(JSON.parse(line) as ConsoleLine);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = once(child, 'exit');
  void exited.then(() => consoles.delete(child));
  const ready = await waitFor('the console to serve', async () => {
    if (child.exitCode !== null) throw new Error(`console exited (${child.exitCode}):\n${output}`);
    return lines.find((line) => line.msg === 'ready');
  }, 30_000);
  return { child, exited, lines, owner: ready.owner!, output: () => output };
}
type Console = Awaited<ReturnType<typeof startConsole>>;

async function kill(console: Console, signal: NodeJS.Signals) {
  if (console.child.exitCode === null && console.child.signalCode === null) console.child.kill(signal);
  await console.exited;
}

/** State transitions recorded more than once for the migration: a step repeated by two drivers. */
async function repeatedTransitions(db: Db, id: string): Promise<string[]> {
  const rows = await db.select({ kind: events.kind }).from(events).where(and(eq(events.objectId, id), like(events.kind, 'migration.%')));
  const once = ['migration.preparing', 'migration.copying', 'migration.cutting-over', 'migration.verifying', 'migration.committing', 'migration.completed'];
  return once.filter((kind) => rows.filter((row) => row.kind === kind).length > 1);
}

let replicas: Console[] = [];

beforeAll(async () => {
  fx = await startEngineFixture({ persistent: !onPostgres });
  await enlargeArray(fx.db, fx.arrayIds['ARR-02'], path.join(fx.root, 'ARR-02'), 64 * 1024 * MiB);
  // Volumes first, while this process still has the database (PGlite: one process per folder).
  for (let run = 1; run <= soakRuns; run++) volumeIds.push((await fx.volumeOnArray1(`kill-console-${run}`, null, false)).volume.id);
  consoleKey = await consoleKeyFor(fx.db, fx.hostId);
  agentUrl = await fx.agentUrl();
  if (onPostgres) replicas = await Promise.all([1, 2, 3].map(() => startConsole({ databaseUrl: fx.databaseLocation })));
  else consolePort = (await fx.releaseConsole()).port;
}, 120_000);

afterAll(async () => {
  for (const child of consoles) child.kill('SIGKILL');
  await sleep(200);
  await fx?.close();
});

describe(`soak: kill -9 of a console ${onPostgres ? 'replica (PostgreSQL)' : '(PGlite)'}`, () => {
  for (let run = 1; run <= soakRuns; run++) {
    it(`run ${run}`, async () => {
      const seed = runSeed(2, run);
      const rng = random(seed);
      const strategy = strategyFor(run);
      const name = `kill-console-${run}`;
      const dataDir = path.join(fx.root, 'db');
      const input = { volumeId: volumeIds[run - 1]!, targetArrayId: fx.arrayIds['ARR-02'], strategy, throttleBytesPerS: THROTTLE_BYTES_PER_S, cutoverPolicy: { mode: 'auto', commit: 'auto' } } as const;

      let id: string;
      let first: Console;
      if (onPostgres) {
        id = (await createMigration(fx.db, actor, input)).id;
      } else {
        const opened = await openDatabase({ dataDir });
        id = (await createMigration(opened.db, actor, input)).id;
        await opened.close();
        first = await startConsole({ dataDir });
      }
      const writer = await startWriter(path.join(fx.agent.dataDir, 'nbd.sock'), `dg/${name}`, seed);
      await sleep(rng.between(500, 6_000));

      const progress = await jobStatusFrom(agentUrl, consoleKey, id);
      let stateAtKill: string;
      if (onPostgres) {
        const [row] = await fx.db.select().from(migrations).where(eq(migrations.id, id));
        stateAtKill = row!.state;
        first = replicas.find((replica) => replica.owner === row!.leaseOwner) ?? rng.pick(replicas);
      } else {
        stateAtKill = first!.lines.filter((line) => line.id === id).at(-1)?.state ?? 'queued';
      }
      await kill(first!, 'SIGKILL');
      const killedAt = Date.now();
      await sleep(rng.between(200, 2_000));
      const second = await startConsole(onPostgres ? { databaseUrl: fx.databaseLocation } : { dataDir });
      if (onPostgres) replicas = [...replicas.filter((replica) => replica !== first), second];

      let end: { state: string; error: string | null };
      let repeated: string[];
      if (onPostgres) {
        end = await waitForEnd(async () => (await fx.db.select({ state: migrations.state, error: migrations.error }).from(migrations).where(eq(migrations.id, id)))[0]);
        repeated = await repeatedTransitions(fx.db, id);
      } else {
        // The end state may have been reached before the kill; the database says, once the console stops.
        await waitForEnd(async () => {
          const line = [...first!.lines, ...second.lines].filter((entry) => entry.id === id).at(-1);
          return line?.state ? { state: line.state, error: null } : undefined;
        });
        await kill(second, 'SIGTERM');
        const opened = await openDatabase({ dataDir });
        const [row] = await opened.db.select().from(migrations).where(eq(migrations.id, id));
        end = { state: row!.state, error: row!.error };
        if (!['completed', 'failed', 'cancelled', 'rolled-back'].includes(end.state)) end = { state: 'stuck', error: `still ${end.state}` };
        repeated = await repeatedTransitions(opened.db, id);
        await opened.close();
      }
      const recoveryMs = Date.now() - killedAt;
      const job = await jobStatusFrom(agentUrl, consoleKey, id);
      const written = await writer.finish();
      // The console's death must not restart the agent's job: no restart, each pass once, the
      // first pass no larger than the volume. (Precopy's later passes re-copy what the writer
      // dirtied, so bytes copied alone can pass 1.5 volumes without any fault.)
      const passNumbers = job?.passes.map((pass) => pass.pass) ?? [];
      const notFromZero = Boolean(job) && job!.restarts === 0 && new Set(passNumbers).size === passNumbers.length && (job!.passes[0]?.copiedRegions ?? 0) <= job!.regionsTotal;

      recorder.add({
        run,
        seed,
        strategy,
        fault: `kill -9 console in ${stateAtKill} (${progress ? `${Math.round((100 * progress.bytesCopied) / VOLUME_BYTES)}%` : 'no job yet'})`,
        faultHit: !['completed', 'failed'].includes(stateAtKill),
        ...runOutcome(end, written, job),
        expected: end.state === 'completed' && repeated.length === 0 && notFromZero,
        recopiedBytes: notFromZero ? 0 : null,
        dirtyAtCrashBytes: null,
        recoveryMs,
        note: repeated.length ? `transitions recorded twice: ${repeated.join(', ')}` : notFromZero ? null : `the agent's job restarted or repeated a pass: ${JSON.stringify({ restarts: job?.restarts, passes: passNumbers })}`,
      });

      expect(written.lost, `acknowledged writes lost, first ${JSON.stringify(written.firstLost)}`).toBe(0);
      expect(written.checked).toBeGreaterThan(0);
      expect(end.state, end.error ?? '').toBe('completed');
      expect(repeated, 'no state transition recorded twice').toEqual([]);
      expect(notFromZero, 'the copy was not started over').toBe(true);
    }, 240_000);
  }
});
