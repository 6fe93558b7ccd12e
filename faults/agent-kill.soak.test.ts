/**
 * Soak (a), docs/testing.md §3: the agent killed with SIGKILL at a random moment of a
 * migration (mirror and precopy in turn, random moment, random time down), then restarted on its data
 * folder. The console runs in this process with its reconciler; the writer runs here too, over
 * NBD, so its ledger survives the agent. Each run must end completed or failed with a reason,
 * copy again no more than what was dirty at the crash (plus what the DRL's last checkpoint could
 * not yet clear), and lose no acknowledged write.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReconciler } from '@/server/engine/reconciler';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { spawnAgent, type AgentProcess } from '@/test/agent-process';
import { waitFor } from '@/test/wait-for';
import { MiB, startEngineFixture, VOLUME_BYTES, type EngineFixture } from '@/test/engine-fixture';
import { enlargeArray, HOT_BYTES, jobStatusFrom, random, runOutcome, runSeed, scenarioRecorder, soakRuns, startWriter, strategyFor, THROTTLE_BYTES_PER_S, waitForEnd } from './harness';

let fx: EngineFixture;
let agent: AgentProcess;
let stopReconciler: () => Promise<void>;
const recorder = scenarioRecorder('agent-kill', 'kill -9 of the agent at a random moment, restarted');

beforeAll(async () => {
  fx = await startEngineFixture();
  agent = fx.agent;
  await enlargeArray(fx.db, fx.arrayIds['ARR-02'], path.join(fx.root, 'ARR-02'), 64 * 1024 * MiB);
  stopReconciler = startReconciler(fx.db, 250);
}, 60_000);

afterAll(async () => {
  await stopReconciler?.();
  await fx?.close();
});

describe('soak: kill -9 of the agent during a migration', () => {
  for (let run = 1; run <= soakRuns; run++) {
    it(`run ${run}`, async () => {
      const seed = runSeed(1, run);
      const rng = random(seed);
      const strategy = strategyFor(run);
      const name = `kill-agent-${run}`;
      const { volume } = await fx.volumeOnArray1(name, null, false);
      const socket = path.join(agent.dataDir, 'nbd.sock');
      const writer = await startWriter(socket, `dg/${name}`, seed);
      const created = await fx.create(volume.id, { strategy, throttleBytesPerS: THROTTLE_BYTES_PER_S });
      const key = await consoleKeyFor(fx.db, fx.hostId);

      // A moment anywhere from queueing to the end of the copy (16 MiB at 4 MiB/s, then verify).
      await sleep(rng.between(300, 5_500));
      const before = await fx.migrationRow(created.id);
      const beforeJob = await jobStatusFrom(await fx.agentUrl(), key, created.id);
      const faultHit = before.state !== 'completed' && before.state !== 'failed';
      const regionBytes = beforeJob ? VOLUME_BYTES / beforeJob.regionsTotal : null;
      const dirtyAtCrashBytes = beforeJob && regionBytes ? beforeJob.regionsDirty * regionBytes : null;
      const progress = beforeJob ? `${Math.round((100 * beforeJob.bytesCopied) / VOLUME_BYTES)}%` : 'no job yet';
      await agent.stop('SIGKILL');
      await sleep(rng.between(200, 2_000));
      agent = spawnAgent({ consoleUrl: fx.consoleUrl, dataDir: agent.dataDir });
      const restarted = await agent.waitForLog((line) => line.msg === 'started', 30_000);
      const restartedAt = Date.now();
      await writer.reconnect();

      const end = await waitForEnd(async () => {
        const row = await fx.migrationRow(created.id);
        return { state: row.state, error: row.error };
      });
      const recoveryMs = Date.now() - restartedAt;
      // The next run maps a LUN through the agent: the console must know its new URL first.
      await waitFor('the console to know the restarted agent', async () => (await fx.agentUrl()) === restarted.agentUrl);
      const job = await jobStatusFrom(await fx.agentUrl(), key, created.id);
      const written = await writer.finish();

      // What the job copied again after its restart: the dirty regions its DRL held.
      const recopiedRegions = job?.recopiedAfterRestartRegions.at(-1);
      const recopiedBytes = job && recopiedRegions !== undefined ? recopiedRegions * (VOLUME_BYTES / job.regionsTotal) : null;
      // The DRL clears regions at its checkpoints (one a second), so it may still name what was
      // copied in the last two seconds before the kill, and the writer's hot range.
      const marginBytes = 2 * THROTTLE_BYTES_PER_S + HOT_BYTES;
      const withinDirty = recopiedBytes === null || dirtyAtCrashBytes === null || recopiedBytes <= dirtyAtCrashBytes + marginBytes;
      recorder.add({
        run,
        seed,
        strategy,
        fault: `kill -9 agent in ${before.state} (${progress})`,
        faultHit,
        ...runOutcome(end, written, job),
        expected: end.state === 'completed' && withinDirty,
        recopiedBytes,
        dirtyAtCrashBytes,
        recoveryMs,
        note: withinDirty ? null : `re-copied ${recopiedBytes} B, more than the ${dirtyAtCrashBytes} B dirty at the crash plus ${marginBytes} B`,
      });

      expect(written.lost, `acknowledged writes lost, first ${JSON.stringify(written.firstLost)}`).toBe(0);
      expect(written.checked).toBeGreaterThan(0);
      expect(end.state, end.error ?? '').toBe('completed');
      expect(withinDirty, 're-copied no more than was dirty at the crash, plus the checkpoint margin').toBe(true);
    }, 240_000);
  }
});
