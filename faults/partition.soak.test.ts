/**
 * Soak (c): a network partition between console and agent at a random moment of a migration,
 * for a random 2–18 s (long enough, sometimes, for the console to note the agent unreachable;
 * short ones are ridden out by the calls waiting). Both directions go through a TcpProxy
 * (faults/tcp-proxy.ts): the agent is told the console's URL as the proxy's (`--console`), and
 * tells the console its own URL as the other proxy's (`--advertise`), so the console's calls to the agent and the agent's heartbeats
 * both fall silent while the writer, local to the host, keeps writing. Each run must end
 * completed with no acknowledged write lost.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events } from '@/db/schema';
import { startReconciler } from '@/server/engine/reconciler';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { spawnAgent } from '@/test/agent-process';
import { MiB, startEngineFixture, type EngineFixture } from '@/test/engine-fixture';
import { waitFor } from '@/test/wait-for';
import { enlargeArray, jobStatusFrom, random, runOutcome, runSeed, scenarioRecorder, soakRuns, startWriter, strategyFor, THROTTLE_BYTES_PER_S, waitForEnd } from './harness';
import { freePort, TcpProxy } from './tcp-proxy';

let fx: EngineFixture;
let toConsole: TcpProxy;
let toAgent: TcpProxy;
let stopReconciler: () => Promise<void>;
const recorder = scenarioRecorder('partition', 'network partition console ↔ agent (TCP proxy dropping traffic) for 2–18 s');

beforeAll(async () => {
  fx = await startEngineFixture();
  await enlargeArray(fx.db, fx.arrayIds['ARR-02'], path.join(fx.root, 'ARR-02'), 64 * 1024 * MiB);
  // The same agent (its data folder, its identity), now reached and reaching through proxies.
  await fx.agent.stop('SIGTERM');
  const agentPort = await freePort();
  toConsole = await TcpProxy.start(Number(new URL(fx.consoleUrl).port));
  toAgent = await TcpProxy.start(agentPort);
  const agent = spawnAgent({ consoleUrl: toConsole.url, dataDir: fx.agent.dataDir, args: ['--listen', `127.0.0.1:${agentPort}`, '--advertise', toAgent.url] });
  await agent.waitForLog((line) => line.msg === 'started', 30_000);
  await waitFor('the console to know the agent by its proxy', async () => (await fx.agentUrl()) === toAgent.url);
  stopReconciler = startReconciler(fx.db, 250);
}, 60_000);

afterAll(async () => {
  await stopReconciler?.();
  await toConsole?.close();
  await toAgent?.close();
  await fx?.close();
});

describe('soak: network partition between console and agent', () => {
  for (let run = 1; run <= soakRuns; run++) {
    it(`run ${run}`, async () => {
      const seed = runSeed(3, run);
      const rng = random(seed);
      const strategy = strategyFor(run);
      const name = `partition-${run}`;
      const { volume } = await fx.volumeOnArray1(name, null, false);
      const writer = await startWriter(path.join(fx.agent.dataDir, 'nbd.sock'), `dg/${name}`, seed);
      const created = await fx.create(volume.id, { strategy, throttleBytesPerS: THROTTLE_BYTES_PER_S });
      const key = await consoleKeyFor(fx.db, fx.hostId);

      await sleep(rng.between(300, 5_000));
      const before = await fx.migrationRow(created.id);
      const partitionMs = Math.round(rng.between(2_000, 18_000));
      toConsole.partition();
      toAgent.partition();
      await sleep(partitionMs);
      toConsole.heal();
      toAgent.heal();
      const healedAt = Date.now();

      const end = await waitForEnd(async () => {
        const row = await fx.migrationRow(created.id);
        return { state: row.state, error: row.error };
      });
      const recoveryMs = Date.now() - healedAt;
      const job = await jobStatusFrom(toAgent.url, key, created.id);
      const written = await writer.finish();
      // Proof the partition was felt: the console noted the agent unreachable (it may not, if no call fell in the window).
      const noted = await fx.db
        .select({ kind: events.kind })
        .from(events)
        .where(and(eq(events.objectId, created.id), inArray(events.kind, ['migration.agent-unreachable', 'migration.agent-reachable'])));

      recorder.add({
        run,
        seed,
        strategy,
        fault: `partition ${(partitionMs / 1000).toFixed(1)} s in ${before.state}${noted.length ? ', agent noted unreachable' : ''}`,
        faultHit: !['completed', 'failed'].includes(before.state),
        ...runOutcome(end, written, job),
        expected: end.state === 'completed',
        recopiedBytes: null,
        dirtyAtCrashBytes: null,
        recoveryMs,
        note: null,
      });

      expect(written.lost, `acknowledged writes lost, first ${JSON.stringify(written.firstLost)}`).toBe(0);
      expect(written.checked).toBeGreaterThan(0);
      expect(written.errors, 'the application, local to the host, never saw the partition').toBe(0);
      expect(end.state, end.error ?? '').toBe('completed');
    }, 240_000);
  }
});
