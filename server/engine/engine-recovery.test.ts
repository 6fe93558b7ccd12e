/**
 * Recovery (docs/testing.md 2 and 3, in small): a console process killed with SIGKILL in
 * the middle of a migration and started again on the same data folder; an agent killed with
 * SIGKILL and restarted. Each migration must complete without starting the copy over, and every
 * acknowledged write must survive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { and, count, eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '@/db/open';
import { events, luns, migrations } from '@/db/schema';
import { NbdClient } from '@/server/dataplane/nbd/client';
import { verifyLedger, Workload } from '@/server/dataplane/workload';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import type { MigrationStatus } from '@/server/protocol/agent-api';
import { spawnAgent } from '@/test/agent-process';
import { MiB, startEngineFixture, VOLUME_BYTES, type EngineFixture, type WorkloadReport } from '@/test/engine-fixture';
import { waitFor } from '@/test/wait-for';
import { reconcileOnce } from './reconciler';

const root = fileURLToPath(new URL('../..', import.meta.url));
let fx: EngineFixture | undefined;
const consoles = new Set<ChildProcess>();

afterEach(async () => {
  for (const child of consoles) {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
  consoles.clear();
  await fx?.close();
  fx = undefined;
});

/** Starts test/engine-console.ts on the data folder and port; resolves once it serves. */
async function startConsole(dataDir: string, port: number) {
  const child = spawn(process.execPath, ['--conditions=react-server', '--import', 'tsx', 'test/engine-console.ts', '--data-dir', dataDir, '--port', String(port)], {
    cwd: root,
    // A short lease, so the second console takes over from the dead first one within seconds.
    env: { ...process.env, TERN_ENGINE_LEASE_MS: '3000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  consoles.add(child);
  const lines: { msg: string; id?: string; state?: string }[] = [];
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    for (const line of chunk.split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line) as (typeof lines)[number]);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = once(child, 'exit');
  const waitForLine = (what: string, predicate: (line: (typeof lines)[number]) => boolean, timeoutMs = 30_000) =>
    waitFor(what, async () => {
      if (child.exitCode !== null) throw new Error(`console exited (${child.exitCode}) before ${what}:\n${output}`);
      return lines.find(predicate);
    }, timeoutMs);
  await waitForLine('the console to serve', (line) => line.msg === 'ready');
  return { child, exited, waitForLine };
}

describe('recovery', () => {
  it('resumes a migration after the console is killed with SIGKILL, without copying from zero', async () => {
    fx = await startEngineFixture({ persistent: true });
    const { volume, sourceLunId } = await fx.volumeOnArray1('vol-console-crash', MiB / 2);
    const created = await fx.create(volume.id, { throttleBytesPerS: 4 * MiB });
    const key = await consoleKeyFor(fx.db, fx.hostId);
    const agentUrl = await fx.agentUrl();
    const agentGet = async <T>(route: string): Promise<T> => {
      const response = await fetch(new URL(route, agentUrl), { headers: { authorization: `Bearer ${key}` } });
      return (await response.json()) as T;
    };
    const job = () => agentGet<MigrationStatus & { error?: string }>(`/v1/migrations/${created.id}`);
    const { port } = await fx.releaseConsole();
    const dataDir = path.join(fx.root, 'db');

    const first = await startConsole(dataDir, port);
    await waitFor('some but not all bytes copied', async () => {
      const status = await job();
      return status.bytesCopied >= 3 * MiB && status.bytesCopied < VOLUME_BYTES / 2;
    }, 30_000);
    first.child.kill('SIGKILL');
    await first.exited;

    // The agent keeps copying while no console runs; a new console on the same folder takes over.
    const second = await startConsole(dataDir, port);
    await second.waitForLine('the migration to complete', (line) => line.id === created.id && line.state === 'completed', 40_000);
    second.child.kill('SIGTERM');
    await second.exited;

    const status = await job();
    expect(status.phase).toBe('committed');
    expect(status.bytesCopied, 'the copy resumed rather than started over').toBeLessThan(1.5 * VOLUME_BYTES);
    const reopened = await openDatabase({ dataDir });
    try {
      const [row] = await reopened.db.select().from(migrations).where(eq(migrations.id, created.id));
      expect(row?.state).toBe('completed');
      expect(await reopened.db.select().from(luns).where(eq(luns.id, sourceLunId))).toHaveLength(0);
      const preparing = await reopened.db.select({ n: count() }).from(events).where(and(eq(events.objectId, created.id), eq(events.kind, 'migration.preparing')));
      expect(preparing[0]?.n, 'prepared once').toBe(1);
    } finally {
      await reopened.close();
    }
    await fetch(new URL('/v1/workloads/dg/vol-console-crash', agentUrl), { method: 'DELETE', headers: { authorization: `Bearer ${key}` } });
    const verified = await fetch(new URL('/v1/workloads/dg/vol-console-crash/verify', agentUrl), { method: 'POST', headers: { authorization: `Bearer ${key}` } });
    const report = (await verified.json()) as WorkloadReport;
    expect(report.verify?.checked).toBeGreaterThan(0);
    expect(report.verify?.lost).toBe(0);
  }, 90_000);

  it('marks the agent unreachable while it is down and completes after it restarts, losing nothing', async () => {
    fx = await startEngineFixture();
    const { db } = fx;
    const { volume } = await fx.volumeOnArray1('vol-agent-crash', null, false);
    // The writer runs here, over NBD, so its ledger of acknowledged writes survives the agent.
    const socket = { path: path.join(fx.agent.dataDir, 'nbd.sock') };
    let client = await NbdClient.connect(socket, 'dg/vol-agent-crash');
    const workload = new Workload(client, { depth: 4, writeRateBytesPerS: MiB, seed: 7, range: { offset: 0, length: MiB / 2 } });
    workload.start();
    try {
      const created = await fx.create(volume.id, { throttleBytesPerS: 4 * MiB });
      await fx.reconcileUntil(created.id, ['copying']);
      // Past the job's first checkpoints (one a second), so the restart can prove regions clean.
      await waitFor('some bytes copied', async () => (await fx!.jobStatus(created.id)).bytesCopied >= 6 * MiB);

      await fx.agent.stop('SIGKILL');
      // A steadily copying migration is followed every few seconds (STEADY_FOLLOW_MS), so the
      // engine notices within that, not necessarily at the first tick.
      await waitFor('the engine to note the agent unreachable', async () => {
        await reconcileOnce(db);
        return (await fx!.migrationRow(created.id)).agentUnreachableSince !== null;
      }, 15_000);
      const down = await fx.migrationRow(created.id);
      expect(down.state).toBe('copying');
      expect(down.agentUnreachableSince).toBeInstanceOf(Date);
      const [note] = await db.select().from(events).where(and(eq(events.objectId, created.id), eq(events.kind, 'migration.agent-unreachable')));
      expect(note?.message).toMatch(/agent on engine-host is unreachable.*the migration stays copying/);

      const restarted = spawnAgent({ consoleUrl: fx.consoleUrl, dataDir: fx.agent.dataDir });
      await restarted.waitForLog((line) => line.msg === 'NBD exports ready', 20_000);
      client = await NbdClient.connect(socket, 'dg/vol-agent-crash');
      workload.retarget(client);
      const done = await fx.reconcileUntil(created.id, ['completed']);
      expect(done.agentUnreachableSince).toBeNull();
      expect(await db.select().from(events).where(and(eq(events.objectId, created.id), eq(events.kind, 'migration.agent-reachable')))).toHaveLength(1);
      const status = await fx.jobStatus(created.id);
      expect(status.restarts).toBe(1);
      expect(status.recopiedAfterRestartRegions.at(-1), 'only what the DRL could not prove clean was copied again').toBeLessThan(status.regionsTotal);
      expect(status.verify?.ok).toBe(true);
      expect(status.bytesCopied, 'the copy resumed rather than started over').toBeLessThan(1.5 * VOLUME_BYTES);
    } finally {
      await workload.stop();
    }
    expect(workload.stats.writes).toBeGreaterThan(0);
    const report = await verifyLedger(client, workload.ledger());
    expect(report.lost).toEqual([]);
    expect(report.checked).toBeGreaterThan(0);
    await client.close();
  }, 90_000);
});
