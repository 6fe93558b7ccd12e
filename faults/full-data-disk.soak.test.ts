/**
 * Soak (e): the agent's data disk fills up in the middle of a migration. The agent's data folder
 * (identity, job state files, dirty-region logs, the NBD socket) is moved onto a small tmpfs;
 * at a random moment a filler file takes every free byte for a random 2–5 s, then is removed.
 * The LUNs live on the arrays, elsewhere, so the writer's data is never on the full disk: what
 * fills is where the agent keeps its state. Each run must end completed or failed with a reason,
 * the agent must not die of it, and no acknowledged write may be lost.
 *
 * Needs `mount -t tmpfs` (root); without it the scenario records why it was skipped.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReconciler } from '@/server/engine/reconciler';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { killAllAgents, spawnAgent, type AgentProcess } from '@/test/agent-process';
import { waitFor } from '@/test/wait-for';
import { MiB, startEngineFixture, type EngineFixture } from '@/test/engine-fixture';
import { enlargeArray, jobStatusFrom, random, runOutcome, runSeed, scenarioRecorder, soakRuns, startWriter, strategyFor, THROTTLE_BYTES_PER_S, waitForEnd } from './harness';

const TMPFS_BYTES = 16 * MiB;
let fx: EngineFixture;
let agent: AgentProcess;
let mounted = '';
let stopReconciler: (() => Promise<void>) | undefined;
const recorder = scenarioRecorder('full-data-disk', `the agent's data disk (a ${TMPFS_BYTES / MiB} MiB tmpfs) full for 2–5 s`);

function tmpfsAvailable(): string | null {
  const probe = path.join(os.tmpdir(), `tern-tmpfs-probe-${process.pid}`);
  try {
    execFileSync('mkdir', ['-p', probe]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe]);
    return null;
  } catch (error) {
    return `mount -t tmpfs is not allowed here (${((error as { stderr?: Buffer }).stderr?.toString() || (error as Error).message).trim()}); run as root to include it`;
  } finally {
    execFileSync('rm', ['-rf', probe]);
  }
}
const unavailable = tmpfsAvailable();

beforeAll(async () => {
  if (unavailable) return recorder.skip(unavailable);
  fx = await startEngineFixture();
  await enlargeArray(fx.db, fx.arrayIds['ARR-02'], path.join(fx.root, 'ARR-02'), 64 * 1024 * MiB);
  // The same agent, its data folder now on a small tmpfs of its own.
  const dataDir = fx.agent.dataDir;
  await fx.agent.stop('SIGTERM');
  const saved = await mkdtemp(path.join(os.tmpdir(), 'tern-agent-data-'));
  await cp(dataDir, saved, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', dataDir]);
  mounted = dataDir;
  await cp(saved, dataDir, { recursive: true });
  await rm(saved, { recursive: true, force: true });
  agent = spawnAgent({ consoleUrl: fx.consoleUrl, dataDir });
  const started = await agent.waitForLog((line) => line.msg === 'started', 30_000);
  await waitFor('the console to know the restarted agent', async () => (await fx.agentUrl()) === started.agentUrl);
  stopReconciler = startReconciler(fx.db, 250);
}, 60_000);

afterAll(async () => {
  await stopReconciler?.();
  await killAllAgents();
  if (mounted) execFileSync('umount', [mounted]);
  await fx?.close();
});

/** Fills the file system holding `folder` to the last byte; returns the filler's path and size. */
async function fill(folder: string) {
  const file = path.join(folder, 'filler');
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0xee);
  let bytes = 0;
  try {
    for (;;) {
      const size = await handle.write(chunk).then(
        (written) => written.bytesWritten,
        () => 0,
      );
      if (size === 0) break;
      bytes += size;
    }
    // Then the last bytes smaller than a chunk.
    for (let small = 4096; small >= 1; small /= 2) while ((await handle.write(chunk.subarray(0, small)).then((w) => w.bytesWritten, () => 0)) > 0) bytes += small;
  } finally {
    await handle.close();
  }
  return { file, bytes };
}

describe.skipIf(unavailable)("soak: the agent's data disk full during a migration", () => {
  for (let run = 1; run <= soakRuns; run++) {
    it(`run ${run}`, async () => {
      const seed = runSeed(5, run);
      const rng = random(seed);
      const strategy = strategyFor(run);
      const name = `full-disk-${run}`;
      const { volume } = await fx.volumeOnArray1(name, null, false);
      const writer = await startWriter(path.join(agent.dataDir, 'nbd.sock'), `dg/${name}`, seed);
      const created = await fx.create(volume.id, { strategy, throttleBytesPerS: THROTTLE_BYTES_PER_S });
      const key = await consoleKeyFor(fx.db, fx.hostId);

      await sleep(rng.between(300, 5_000));
      const before = await fx.migrationRow(created.id);
      const filler = await fill(agent.dataDir);
      const fullMs = Math.round(rng.between(2_000, 5_000));
      await sleep(fullMs);
      await rm(filler.file, { force: true });
      const freedAt = Date.now();
      // An agent that died of the full disk is a finding; restart it so the run can still end.
      let crashed: string | null = null;
      if (!agent.isRunning()) {
        // The error and the first frames of its stack, from what the process printed as it died.
        const lines = agent.output().split('\n').filter(Boolean);
        const at = lines.findIndex((line) => /Error|ENOSPC/.test(line) && !line.startsWith('{'));
        crashed = lines.slice(Math.max(0, at), Math.max(0, at) + 4).map((line) => line.trim()).join(' | ').slice(0, 400);
        agent = spawnAgent({ consoleUrl: fx.consoleUrl, dataDir: agent.dataDir });
        const restarted = await agent.waitForLog((line) => line.msg === 'started', 30_000);
        await waitFor('the console to know the restarted agent', async () => (await fx.agentUrl()) === restarted.agentUrl);
        await writer.reconnect();
      }

      const end = await waitForEnd(async () => {
        const row = await fx.migrationRow(created.id);
        return { state: row.state, error: row.error };
      });
      const recoveryMs = Date.now() - freedAt;
      const job = await jobStatusFrom(await fx.agentUrl(), key, created.id);
      const written = await writer.finish();
      const endedCleanly = end.state === 'completed' || (end.state === 'failed' && Boolean(end.error));

      recorder.add({
        run,
        seed,
        strategy,
        fault: `data disk full ${(fullMs / 1000).toFixed(1)} s in ${before.state} (filler ${(filler.bytes / MiB).toFixed(1)} MiB)`,
        faultHit: !['completed', 'failed'].includes(before.state),
        ...runOutcome(end, written, job),
        expected: endedCleanly && !crashed,
        recopiedBytes: null,
        dirtyAtCrashBytes: null,
        recoveryMs,
        note: crashed ? `the agent exited while the disk was full: ${crashed}` : null,
      });

      expect(written.lost, `acknowledged writes lost, first ${JSON.stringify(written.firstLost)}`).toBe(0);
      expect(written.checked).toBeGreaterThan(0);
      expect(crashed, 'the agent survives a full data disk').toBeNull();
      expect(endedCleanly, `ended ${end.state}: ${end.error ?? ''}`).toBe(true);
    }, 240_000);
  }
});
