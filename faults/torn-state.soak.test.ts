/**
 * Soak: the agent killed with SIGKILL mid-copy, and the job's files on its data disk damaged
 * before it restarts, one way per run (round-robin, mirror and precopy in turn):
 *
 * - `truncated state file`: `job-<id>.json` replaced by a random prefix of itself, the torn write
 *   the atomic rename (server/dataplane/durable-file.ts) exists to prevent. The restarted agent
 *   must not crash, must log that it cannot read the record, must not serve the volume from a
 *   stale plex (the writer's ledger, read back through the restarted agent, shows it), and the
 *   migration must end: failed with a reason, or completed.
 * - `deleted DRL`: `job-<id>.drl` removed. The job resumes and, having no log of what is clean,
 *   re-copies every region (docs/dataplane.md), then completes.
 *
 * No acknowledged write may be lost either way.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReconciler } from '@/server/engine/reconciler';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { spawnAgent, type AgentProcess } from '@/test/agent-process';
import { waitFor } from '@/test/wait-for';
import { MiB, startEngineFixture, VOLUME_BYTES, type EngineFixture } from '@/test/engine-fixture';
import { enlargeArray, jobStatusFrom, random, runOutcome, runSeed, scenarioRecorder, soakRuns, soakSeed, startWriter, strategyFor, THROTTLE_BYTES_PER_S, untilCopied, waitForEnd } from './harness';

/** After the restart the job re-copies at most the whole volume (4 s at the throttle) and verifies it: a minute is ample. */
const END_WITHIN_MS = 60_000;
let fx: EngineFixture;
let agent: AgentProcess;
let stopReconciler: () => Promise<void>;
const recorder = scenarioRecorder('torn-state', "kill -9 mid-copy, then the job's state file truncated or its DRL deleted, restarted");

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

describe("soak: the job's state damaged while the agent is down", () => {
  for (let run = 1; run <= soakRuns; run++) {
    it(`run ${run}`, async () => {
      const seed = runSeed(9, run);
      const rng = random(seed);
      const strategy = strategyFor(run);
      // Round-robin over the kinds, starting from one the base seed picks.
      const kind = (['truncated state file', 'deleted DRL'] as const)[(run + soakSeed) % 2]!;
      const name = `torn-state-${run}`;
      const { volume } = await fx.volumeOnArray1(name, null, false);
      const writer = await startWriter(path.join(agent.dataDir, 'nbd.sock'), `dg/${name}`, seed);
      const created = await fx.create(volume.id, { strategy, throttleBytesPerS: THROTTLE_BYTES_PER_S });
      const key = await consoleKeyFor(fx.db, fx.hostId);
      const status = async () => jobStatusFrom(await fx.agentUrl(), key, created.id);

      const at = await untilCopied(status, rng.between(0.2, 0.7));
      const dirtyAtCrashBytes = at ? at.regionsDirty * (VOLUME_BYTES / at.regionsTotal) : null;
      await agent.stop('SIGKILL');
      const stateFile = path.join(agent.dataDir, 'jobs', `job-${created.id}.json`);
      let damage: string;
      if (kind === 'truncated state file') {
        const text = await readFile(stateFile);
        const keep = Math.floor(text.length * rng.between(0.05, 0.95));
        await writeFile(stateFile, text.subarray(0, keep));
        damage = `state file cut to ${keep} of ${text.length} B`;
      } else {
        await rm(path.join(agent.dataDir, 'jobs', `job-${created.id}.drl`));
        damage = 'DRL deleted';
      }
      await sleep(rng.between(200, 1_000));
      agent = spawnAgent({ consoleUrl: fx.consoleUrl, dataDir: agent.dataDir });
      const restarted = await agent.waitForLog((line) => line.msg === 'started', 30_000).catch(() => null);
      if (!restarted) {
        // An agent that cannot start on a damaged record: recorded as unexpected, then the run fails.
        const written = { acknowledged: writer.workload.acknowledged.size, checked: 0, lost: 0, indeterminate: 0, errors: writer.workload.stats.errors, firstLost: null, maxWriteLatencyMs: 0 };
        await writer.workload.stop();
        const lastWords = agent.output().split('\n').filter(Boolean).slice(-3).join(' | ').slice(0, 300);
        recorder.add({ run, seed, strategy, fault: `kill -9 agent mid-copy, ${damage}`, faultHit: true, ...runOutcome({ state: 'agent down', error: lastWords }, written, undefined), expected: false, recopiedBytes: null, dirtyAtCrashBytes, recoveryMs: null, note: `the agent did not start again: ${lastWords}` });
        throw new Error(`the agent did not start on a damaged job record (${damage}): ${lastWords}`);
      }
      const restartedAt = Date.now();
      // A volume the agent does not serve again is a finding, not a reason to stop the run.
      const notServed = await writer.reconnect().then(
        () => null,
        (error: unknown) => (error as Error).message,
      );
      await waitFor('the console to know the restarted agent', async () => (await fx.agentUrl()) === restarted.agentUrl);

      const end = await waitForEnd(async () => {
        const row = await fx.migrationRow(created.id);
        return { state: row.state, error: row.error };
      }, END_WITHIN_MS);
      const recoveryMs = Date.now() - restartedAt;
      const job = await status();
      const written = notServed
        ? { acknowledged: writer.workload.acknowledged.size, checked: 0, lost: writer.workload.acknowledged.size, indeterminate: 0, errors: writer.workload.stats.errors, firstLost: null, maxWriteLatencyMs: 0 }
        : await writer.finish();
      if (notServed) await writer.workload.stop();
      const alive = agent.isRunning();
      const unreadable = agent.lines.find((line) => line.msg === 'cannot read a migration record');
      const recopiedRegions = job?.recopiedAfterRestartRegions.at(-1);
      const recopiedBytes = job && recopiedRegions !== undefined ? recopiedRegions * (VOLUME_BYTES / job.regionsTotal) : null;

      const endedCleanly = end.state === 'completed' || (end.state === 'failed' && Boolean(end.error));
      const expected =
        alive &&
        !notServed &&
        (kind === 'deleted DRL'
          ? end.state === 'completed' && recopiedRegions === job?.regionsTotal
          : endedCleanly && Boolean(unreadable));
      recorder.add({
        run,
        seed,
        strategy,
        fault: `kill -9 agent in ${at ? `${at.phase} (${Math.round((100 * at.bytesCopied) / VOLUME_BYTES)}%)` : 'after the copy'}, ${damage}`,
        faultHit: Boolean(at),
        ...runOutcome(end, written, job),
        expected,
        recopiedBytes,
        dirtyAtCrashBytes,
        recoveryMs,
        note:
          [
            alive ? null : `the agent died after its restart: ${agent.output().split('\n').filter(Boolean).slice(-3).join(' | ').slice(0, 300)}`,
            notServed ? `the volume was not served after the restart: ${notServed}` : null,
            kind === 'truncated state file' ? (unreadable ? `agent logged "${unreadable.msg}"` : 'the agent did not log that the record cannot be read') : null,
            recopiedRegions !== undefined && job ? `re-copied ${recopiedRegions}/${job.regionsTotal} regions` : null,
          ]
            .filter(Boolean)
            .join('; ') || null,
      });

      expect(written.lost, `acknowledged writes lost, first ${JSON.stringify(written.firstLost)}`).toBe(0);
      expect(written.checked).toBeGreaterThan(0);
      expect(alive, 'the agent survives a damaged job record').toBe(true);
      expect(expected, `${damage} (${strategy}) ended ${end.state}: ${end.error ?? ''}; re-copied ${recopiedRegions}`).toBe(true);
    }, 240_000);
  }
});
