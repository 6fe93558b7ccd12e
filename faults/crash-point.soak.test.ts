/**
 * Soak: the agent killed with SIGKILL at a NAMED crash point (server/dataplane/crash-points.ts)
 * instead of a random moment. Each run restarts the agent with `TERN_CRASH_AT=<point>:<hit>`, so
 * the process kills itself the hit-th time it reaches that durable step of a migration (mirror
 * and precopy in turn, automatic cutover and commit); the console and the writer run here, the
 * writer over NBD so its ledger survives. Once the agent has died it is restarted on its data
 * folder without the variable, and the migration must end (completed, or failed with a reason)
 * with no acknowledged write lost. A run whose point the migration never reached (`faultHit`
 * false) must simply complete.
 *
 * The runs cycle through the points the automatic flow reaches, from one the base seed picks, so
 * even a few runs cover several; server/agent/crash-points.test.ts enumerates all of them in
 * process, this runs them in a real agent process under the real console.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_POINTS, type CrashPointName } from '@/server/dataplane/crash-points';
import { startReconciler } from '@/server/engine/reconciler';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { spawnAgent, type AgentProcess } from '@/test/agent-process';
import { waitFor } from '@/test/wait-for';
import { MiB, startEngineFixture, type EngineFixture } from '@/test/engine-fixture';
import { enlargeArray, isTerminal, jobStatusFrom, random, runOutcome, runSeed, scenarioRecorder, soakRuns, spawnAgentWithEnv, startWriter, strategyFor, THROTTLE_BYTES_PER_S, waitForEnd } from './harness';

/** Points only an operator's rollback or cancel, or a failing job, reaches: a migration with automatic cutover and commit never does. */
const NOT_IN_AUTO_FLOW = /^(rollback\.|cancel\.|fail\.|config\.(rolled-back|cancelled|failed)$)/;
const POINTS: CrashPointName[] = CRASH_POINTS.filter((point) => !NOT_IN_AUTO_FLOW.test(point));
/** Points one migration reaches once (the cutover's, when it does not give up): a hit count above 1 would never come. */
const ONCE_PER_MIGRATION = new Set<CrashPointName>([
  'config.target-attached',
  'job.started',
  'cutover.writes-held',
  'cutover.target-flushed',
  'cutover.switch-recorded',
  'config.switched',
  'verify.recorded',
  'commit.recorded',
  'job.logs-removed',
  'config.committed',
]);

/** A migration here takes about 8 s, and after a restart re-copies at most the 16 MiB volume (4 s at the throttle): a minute without an end is stuck. */
const END_WITHIN_MS = 60_000;
let fx: EngineFixture;
let agent: AgentProcess;
let stopReconciler: () => Promise<void>;
const recorder = scenarioRecorder('crash-point', 'kill -9 of the agent at a named crash point (TERN_CRASH_AT), restarted');
/** Where in POINTS the first run starts, from the base seed. */
const firstPoint = Math.floor(random(runSeed(8, 0)).next() * POINTS.length);

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

/** Stops the agent and starts it again on its data folder (with `env`), once the console knows its new URL. */
async function restartAgent(env: Record<string, string>) {
  if (agent.isRunning()) await agent.stop('SIGTERM');
  agent = spawnAgentWithEnv(env, { consoleUrl: fx.consoleUrl, dataDir: agent.dataDir });
  const started = await agent.waitForLog((line) => line.msg === 'started', 30_000);
  await waitFor('the console to know the restarted agent', async () => (await fx.agentUrl()) === started.agentUrl);
}

describe('soak: kill -9 of the agent at a named crash point', () => {
  for (let run = 1; run <= soakRuns; run++) {
    it(`run ${run}`, async () => {
      const seed = runSeed(8, run);
      const rng = random(seed);
      const strategy = strategyFor(run);
      const point = POINTS[(firstPoint + run - 1) % POINTS.length]!;
      const hit = ONCE_PER_MIGRATION.has(point) ? 1 : 1 + Math.floor(rng.next() * 3);
      await restartAgent({ TERN_CRASH_AT: `${point}:${hit}` });

      const name = `crash-point-${run}`;
      const { volume } = await fx.volumeOnArray1(name, null, false);
      const writer = await startWriter(path.join(agent.dataDir, 'nbd.sock'), `dg/${name}`, seed);
      const created = await fx.create(volume.id, { strategy, throttleBytesPerS: THROTTLE_BYTES_PER_S });
      const key = await consoleKeyFor(fx.db, fx.hostId);

      // Until the agent kills itself at the point, or the migration ends without reaching it.
      const deadline = Date.now() + END_WITHIN_MS;
      let state = (await fx.migrationRow(created.id)).state;
      while (agent.isRunning() && !isTerminal(state) && Date.now() < deadline) {
        await sleep(100);
        state = (await fx.migrationRow(created.id)).state;
      }
      const died = !agent.isRunning();
      const exit = died ? await agent.exited : null;
      const faultHit = exit?.signal === 'SIGKILL';
      const lastWords = died ? agent.output().split('\n').filter(Boolean).slice(-5).join(' | ').slice(0, 300) : '';
      let restartedAt: number | null = null;
      if (died) {
        // Restarted without the variable: the point is passed once, as a real crash would be.
        agent = spawnAgent({ consoleUrl: fx.consoleUrl, dataDir: agent.dataDir });
        const restarted = await agent.waitForLog((line) => line.msg === 'started', 30_000);
        restartedAt = Date.now();
        await writer.reconnect();
        await waitFor('the console to know the restarted agent', async () => (await fx.agentUrl()) === restarted.agentUrl);
      }

      const end = await waitForEnd(async () => {
        const row = await fx.migrationRow(created.id);
        return { state: row.state, error: row.error };
      }, END_WITHIN_MS);
      const recoveryMs = restartedAt === null ? null : Date.now() - restartedAt;
      const job = await jobStatusFrom(await fx.agentUrl(), key, created.id);
      const written = await writer.finish();
      const recopiedRegions = job?.recopiedAfterRestartRegions.at(-1);

      const endedCleanly = end.state === 'completed' || (end.state === 'failed' && Boolean(end.error));
      // An agent that died otherwise than by the armed SIGKILL crashed of something else.
      const crashedOtherwise = died && !faultHit;
      // No point reached: nothing happened, so nothing but completion will do.
      const expected = !crashedOtherwise && (faultHit ? endedCleanly : end.state === 'completed');
      recorder.add({
        run,
        seed,
        strategy,
        fault: `TERN_CRASH_AT=${point}:${hit}${faultHit ? `, reached (the console saw ${state})` : died ? `, the agent exited ${JSON.stringify(exit)}` : ', not reached'}`,
        faultHit,
        ...runOutcome(end, written, job),
        expected,
        recopiedBytes: null,
        dirtyAtCrashBytes: null,
        recoveryMs,
        note: [
          recopiedRegions !== undefined && job ? `re-copied ${recopiedRegions}/${job.regionsTotal} regions after the restart` : null,
          crashedOtherwise ? `the agent died of something else: ${lastWords}` : null,
        ]
          .filter(Boolean)
          .join('; ') || null,
      });

      expect(written.lost, `acknowledged writes lost, first ${JSON.stringify(written.firstLost)}`).toBe(0);
      expect(written.checked).toBeGreaterThan(0);
      expect(crashedOtherwise, `the agent exited ${JSON.stringify(exit)}`).toBe(false);
      expect(expected, `${point}:${hit} (${strategy}) ended ${end.state}: ${end.error ?? ''}`).toBe(true);
    }, 240_000);
  }
});
