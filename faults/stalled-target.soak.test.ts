/**
 * Soak: a target array that stalls instead of failing, through the fault array driver
 * (server/arrays/fault-array.ts, rules on the target LUN from birth): 30 s added to one 4 KiB
 * write at a random offset of the volume, or to the target's first flush, mirror and precopy in
 * turn. The copy reaches every offset and checkpoints flush the target, so the stall always
 * comes. The application must not wait for it: a mirror write the target does not answer within
 * 2 s is dropped like a failed one, and a cutover holds writes at most its pause budget plus 1 s
 * (docs/dataplane.md), so the writer must see no error, no write answered anywhere near the
 * stall's 30 s (the note records the longest), and lose nothing; the migration completes, or fails
 * with a reason, and is never stuck.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { arrays } from '@/db/schema';
import { FaultArray, type FaultRule } from '@/server/arrays';
import { startReconciler } from '@/server/engine/reconciler';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { MiB, startEngineFixture, VOLUME_BYTES, type EngineFixture } from '@/test/engine-fixture';
import { enlargeArray, jobStatusFrom, random, runOutcome, runSeed, scenarioRecorder, soakRuns, soakSeed, startWriter, strategyFor, THROTTLE_BYTES_PER_S, waitForEnd } from './harness';

const STALL_MS = 30_000;
/** Longer than any wait the data plane lets an application write have (2 s mirror timeout, cutover budget + 1 s), far below the stall. */
const APPLICATION_LATENCY_BOUND_MS = 10_000;
let fx: EngineFixture;
let stopReconciler: () => Promise<void>;
const recorder = scenarioRecorder('stalled-target', 'target stalls 30 s: one write, or its first flush');

beforeAll(async () => {
  fx = await startEngineFixture();
  await enlargeArray(fx.db, fx.arrayIds['ARR-02'], path.join(fx.root, 'ARR-02'), 64 * 1024 * MiB);
  await fx.db.update(arrays).set({ driver: 'fault' });
  stopReconciler = startReconciler(fx.db, 250);
}, 60_000);

afterAll(async () => {
  await stopReconciler?.();
  await fx?.close();
});

async function targetArray(): Promise<FaultArray> {
  const driver = await fx.driverOf('ARR-02');
  if (!(driver instanceof FaultArray)) throw new Error('ARR-02 is not on the fault driver');
  return driver;
}

afterEach(async () => {
  await (await targetArray()).setFaultsForNewLuns([]);
});

type Kind = 'write' | 'flush';

function rulesFor(kind: Kind, rng: ReturnType<typeof random>): { rules: FaultRule[]; label: string } {
  if (kind === 'flush') return { rules: [{ op: 'flush', when: 'once', latencyMs: STALL_MS }], label: `target's first flush stalls ${STALL_MS / 1000} s` };
  const offset = Math.floor(rng.between(0, VOLUME_BYTES / 4096)) * 4096;
  const at = offset < MiB ? `${offset / 1024} KiB` : `${(offset / MiB).toFixed(2)} MiB`;
  return { rules: [{ op: 'write', offset, length: 4096, when: 'once', latencyMs: STALL_MS }], label: `target write at ${at} stalls ${STALL_MS / 1000} s` };
}

describe('soak: a target that stalls for 30 s', () => {
  for (let run = 1; run <= soakRuns; run++) {
    it(`run ${run}`, async () => {
      const seed = runSeed(7, run);
      const rng = random(seed);
      const strategy = strategyFor(run);
      // Round-robin over the kinds; the base seed picks which comes first.
      const kind = (['write', 'flush'] as const)[(run + soakSeed) % 2]!;
      const { rules, label } = rulesFor(kind, rng);
      await (await targetArray()).setFaultsForNewLuns(rules);

      const name = `stalled-target-${run}`;
      const { volume } = await fx.volumeOnArray1(name, null, false);
      const writer = await startWriter(path.join(fx.agent.dataDir, 'nbd.sock'), `dg/${name}`, seed);
      const created = await fx.create(volume.id, { strategy, throttleBytesPerS: THROTTLE_BYTES_PER_S });
      const key = await consoleKeyFor(fx.db, fx.hostId);
      const started = Date.now();

      const end = await waitForEnd(async () => {
        const row = await fx.migrationRow(created.id);
        return { state: row.state, error: row.error };
      });
      const tookMs = Date.now() - started;
      const job = await jobStatusFrom(await fx.agentUrl(), key, created.id);
      const written = await writer.finish();

      const endedCleanly = end.state === 'completed' || (end.state === 'failed' && Boolean(end.error));
      const notStalled = written.maxWriteLatencyMs < APPLICATION_LATENCY_BOUND_MS;
      // The stall held the job up when the migration took about as long as the stall or longer.
      const faultHit = tookMs >= STALL_MS;
      recorder.add({
        run,
        seed,
        strategy,
        fault: label,
        faultHit,
        ...runOutcome(end, written, job),
        expected: endedCleanly && written.errors === 0 && notStalled,
        recopiedBytes: null,
        dirtyAtCrashBytes: null,
        recoveryMs: null,
        note: [`writer's longest write ${written.maxWriteLatencyMs} ms`, `migration took ${(tookMs / 1000).toFixed(1)} s`, job?.faultsRetried ? `${job.faultsRetried} fault(s) retried` : null, job?.cutoverPauseMs != null ? `cutover held writes ${job.cutoverPauseMs} ms` : null]
          .filter(Boolean)
          .join('; '),
      });

      expect(written.lost, `acknowledged writes lost, first ${JSON.stringify(written.firstLost)}`).toBe(0);
      expect(written.checked).toBeGreaterThan(0);
      expect(written.errors, `the application never saw the target stall: ${writer.workload.stats.lastError}`).toBe(0);
      expect(written.maxWriteLatencyMs, 'no application write waited for the stalled target').toBeLessThan(APPLICATION_LATENCY_BOUND_MS);
      expect(endedCleanly, `${label} (${strategy}) ended ${end.state}: ${end.error ?? ''}`).toBe(true);
    }, 240_000);
  }
});
