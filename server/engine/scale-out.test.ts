/**
 * Scale-out (docs/architecture.md, docs/testing.md §7 in small): three console replicas, each its own
 * process (test/engine-console.ts --database-url), on one fresh PostgreSQL database, with one
 * real agent under a verifiable workload. Exactly one replica drives the migration; when it is
 * killed with SIGKILL another takes over once its lease runs out (2 s here) and finishes the
 * migration without copying from zero, losing no acknowledged write; and state changes one
 * replica makes reach the subscribers of a replica that never drove it (LISTEN/NOTIFY).
 *
 * Needs a PostgreSQL server: set TERN_TEST_DATABASE_URL (CI does). This test process serves the
 * agent's routes on the same database, as a replica without an engine would; it never reconciles.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { and, eq, like } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { events, migrations } from '@/db/schema';
import { MiB, startEngineFixture, VOLUME_BYTES, type EngineFixture } from '@/test/engine-fixture';
import { waitFor } from '@/test/wait-for';

const root = fileURLToPath(new URL('../..', import.meta.url));
const onPostgres = Boolean(process.env.TERN_TEST_DATABASE_URL);
let fx: EngineFixture | undefined;
const replicas = new Set<ChildProcess>();

afterEach(async () => {
  for (const child of replicas) {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
  replicas.clear();
  await fx?.close();
  fx = undefined;
});

interface Line {
  msg: string;
  id?: string;
  state?: string;
  owner?: string;
}

/** Starts one console replica on the database; resolves once it serves, with its lease owner id. */
async function startReplica(databaseUrl: string, name: string) {
  const child = spawn(process.execPath, ['--conditions=react-server', '--import', 'tsx', 'test/engine-console.ts', '--database-url', databaseUrl], {
    cwd: root,
    env: { ...process.env, TERN_ENGINE_LEASE_MS: '2000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  replicas.add(child);
  const lines: Line[] = [];
  let output = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (line.startsWith('{')) lines.push(JSON.parse(line) as Line);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = once(child, 'exit');
  const ready = await waitFor(`replica ${name} to serve`, async () => {
    if (child.exitCode !== null) throw new Error(`replica ${name} exited (${child.exitCode}):\n${output}`);
    return lines.find((line) => line.msg === 'ready');
  }, 30_000);
  return { name, child, exited, lines, owner: ready.owner!, output: () => output };
}

describe.skipIf(!onPostgres)('scale-out: console replicas on one PostgreSQL (set TERN_TEST_DATABASE_URL to run)', () => {
  it('one replica drives a migration; after it is killed another takes over and completes it, losing nothing; events reach every replica', async () => {
    fx = await startEngineFixture();
    const { db } = fx;
    const started = await Promise.all(['A', 'B', 'C'].map((name) => startReplica(fx!.databaseLocation, name)));
    const byOwner = new Map(started.map((replica) => [replica.owner, replica]));

    const { volume } = await fx.volumeOnArray1('vol-scale-out', MiB / 2);
    const created = await fx.create(volume.id, { throttleBytesPerS: 2 * MiB });

    // Record who holds the lease, with its epoch, for the whole run.
    const history: { owner: string; epoch: number }[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const [row] = await db.select({ owner: migrations.leaseOwner, epoch: migrations.leaseEpoch }).from(migrations).where(eq(migrations.id, created.id));
        const last = history.at(-1);
        if (row?.owner && (last?.owner !== row.owner || last.epoch !== row.epoch)) history.push({ owner: row.owner, epoch: row.epoch });
        await sleep(50);
      }
    })();

    try {
      await waitFor('some but not all bytes copied', async () => {
        const status = await fx!.jobStatus(created.id).catch(() => undefined);
        return status && status.bytesCopied >= 3 * MiB && status.bytesCopied < VOLUME_BYTES / 2;
      }, 40_000);
      const [leased] = await db.select().from(migrations).where(eq(migrations.id, created.id));
      const first = byOwner.get(leased!.leaseOwner ?? '');
      expect(first, `the lease is held by one of the replicas, not ${leased?.leaseOwner}`).toBeDefined();
      expect(history.map((entry) => entry.owner), 'one owner so far').toEqual([first!.owner]);

      first!.child.kill('SIGKILL');
      await first!.exited;
      const survivors = started.filter((replica) => replica !== first);

      await waitFor('a surviving replica to complete the migration', async () => {
        for (const replica of survivors) if (replica.child.exitCode !== null) throw new Error(`replica ${replica.name} exited:\n${replica.output()}`);
        const [row] = await db.select({ state: migrations.state, error: migrations.error }).from(migrations).where(eq(migrations.id, created.id));
        if (row && ['failed', 'cancelled', 'rolled-back'].includes(row.state)) throw new Error(`migration ended ${row.state}: ${row.error ?? ''}`);
        return row?.state === 'completed';
      }, 60_000);
    } finally {
      watching = false;
      await watcher;
    }

    // Exactly two owners in turn: the first, then one survivor, with the epoch bumped once.
    expect(history.map((entry) => entry.epoch)).toEqual([1, 2]);
    const second = byOwner.get(history[1]!.owner);
    expect(second, 'the second owner is a surviving replica').toBeDefined();
    expect(history[1]!.owner).not.toBe(history[0]!.owner);

    // No transition happened twice.
    const transitions = await db
      .select({ kind: events.kind })
      .from(events)
      .where(and(eq(events.objectId, created.id), like(events.kind, 'migration.%')));
    const stateKinds = ['migration.preparing', 'migration.copying', 'migration.ready', 'migration.cutting-over', 'migration.verifying', 'migration.committing', 'migration.completed'];
    for (const kind of stateKinds) {
      const n = transitions.filter((row) => row.kind === kind).length;
      expect(n, `${kind} recorded at most once`).toBeLessThanOrEqual(1);
    }
    expect(transitions.filter((row) => row.kind === 'migration.preparing')).toHaveLength(1);
    expect(transitions.filter((row) => row.kind === 'migration.completed')).toHaveLength(1);

    const status = await fx.jobStatus(created.id);
    expect(status.phase).toBe('committed');
    expect(status.bytesCopied, 'the copy resumed rather than started over').toBeLessThan(1.5 * VOLUME_BYTES);

    // The replica that never held the lease heard both owners' state changes through PostgreSQL.
    const bystander = started.find((replica) => replica !== byOwner.get(history[0]!.owner) && replica !== second)!;
    await waitFor('the bystander to hear the completion', async () => bystander.lines.some((line) => line.id === created.id && line.state === 'completed'));
    const heard = bystander.lines.filter((line) => line.msg === 'migration' && line.id === created.id).map((line) => line.state);
    expect(heard, 'a change the first owner made').toContain('preparing');
    expect(heard, 'a change the second owner made').toContain('completed');

    const report = await fx.stopAndVerify('vol-scale-out');
    expect(report.verify?.checked).toBeGreaterThan(0);
    expect(report.verify?.lost).toBe(0);
  }, 150_000);
});
