/**
 * Soak: the SOURCE array fails under a migration, through the fault array driver
 * (server/arrays/fault-array.ts, rules set on the source LUN by name while the agent has it open),
 * at a random moment during the copy, mirror and precopy in turn:
 *
 * - `read EIO`: every read of the source fails for a random 1–3 s, then the array is repaired.
 *   The copy cannot go on meanwhile: the migration fails with a reason naming the source read and
 *   "source intact" (server/dataplane/migration-job.ts, invariant 6), or it rides the fault out and completes.
 * - `write EIO once`: one application write to a random region of the writer's hot range fails on
 *   the source. The writer sees exactly that write fail (counted as a write error, its content
 *   indeterminate) and the migration still completes: a failed application write puts its region
 *   back into the dirty set (docs/dataplane.md), where it once held the cutover copying for ever.
 *
 * Either way no acknowledged write may be lost.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrays } from '@/db/schema';
import { FaultArray } from '@/server/arrays';
import { startReconciler } from '@/server/engine/reconciler';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { MiB, startEngineFixture, type EngineFixture } from '@/test/engine-fixture';
import { enlargeArray, HOT_BYTES, jobStatusFrom, random, runOutcome, runSeed, scenarioRecorder, soakRuns, startWriter, strategyFor, THROTTLE_BYTES_PER_S, untilCopied, waitForEnd } from './harness';

/** The volumes' region size (server/protocol/agent-api.ts, createVolumeRequest's default). */
const REGION_BYTES = 64 * 1024;
let fx: EngineFixture;
let stopReconciler: () => Promise<void>;
const recorder = scenarioRecorder('source-faults', 'source I/O errors: reads EIO for 1–3 s, one application write EIO');

beforeAll(async () => {
  fx = await startEngineFixture();
  await enlargeArray(fx.db, fx.arrayIds['ARR-02'], path.join(fx.root, 'ARR-02'), 64 * 1024 * MiB);
  // Both arrays on the fault driver: every LUN ARR-01 creates has a rules file from birth, so the
  // source's faults can be set after the agent opened it.
  await fx.db.update(arrays).set({ driver: 'fault' });
  stopReconciler = startReconciler(fx.db, 250);
}, 60_000);

afterAll(async () => {
  await stopReconciler?.();
  await fx?.close();
});

async function sourceArray(): Promise<FaultArray> {
  const driver = await fx.driverOf('ARR-01');
  if (!(driver instanceof FaultArray)) throw new Error('ARR-01 is not on the fault driver');
  return driver;
}

const kib = (bytes: number) => (bytes < MiB ? `${bytes / 1024} KiB` : `${(bytes / MiB).toFixed(2)} MiB`);

describe('soak: source I/O errors during a migration', () => {
  for (let run = 1; run <= soakRuns; run++) {
    it(`run ${run}`, async () => {
      const seed = runSeed(6, run);
      const rng = random(seed);
      const strategy = strategyFor(run);
      // Round-robin over the kinds, so even two runs meet each; the details are random.
      const kind = (['read EIO', 'write EIO once'] as const)[(run - 1) % 2]!;
      const name = `source-fault-${run}`;
      const lunName = `src-${name}`;
      const { volume } = await fx.volumeOnArray1(name, null, false);
      const writer = await startWriter(path.join(fx.agent.dataDir, 'nbd.sock'), `dg/${name}`, seed);
      const created = await fx.create(volume.id, { strategy, throttleBytesPerS: THROTTLE_BYTES_PER_S });
      const key = await consoleKeyFor(fx.db, fx.hostId);
      const status = async () => jobStatusFrom(await fx.agentUrl(), key, created.id);

      // A moment during the copy: once a random 10–60% of the volume is copied.
      const fraction = rng.between(0.1, 0.6);
      const downMs = Math.round(rng.between(1_000, 3_000));
      const region = Math.floor(rng.between(0, HOT_BYTES / REGION_BYTES));
      const range = { offset: region * REGION_BYTES, length: REGION_BYTES };
      const at = await untilCopied(status, fraction);
      const where = at ? `${at.phase} at ${Math.round((100 * at.bytesCopied) / (16 * MiB))}%` : 'after the copy';
      let label: string;
      if (kind === 'read EIO') {
        await (await sourceArray()).setFaults(lunName, [{ op: 'read', errno: 'EIO' }]);
        await sleep(downMs);
        await (await sourceArray()).clearFaults(lunName);
        label = `source read EIO always for ${(downMs / 1000).toFixed(1)} s in ${where}`;
      } else {
        await (await sourceArray()).setFaults(lunName, [{ op: 'write', ...range, when: 'once', errno: 'EIO' }]);
        label = `source write EIO once in ${kib(range.offset)}–${kib(range.offset + range.length)}, set in ${where}`;
      }

      const end = await waitForEnd(async () => {
        const row = await fx.migrationRow(created.id);
        return { state: row.state, error: row.error };
      });
      const job = await status();
      const written = await writer.finish();
      const failedWrites = writer.workload.uncertain;

      let expected: boolean;
      let faultHit: boolean;
      let note: string | null;
      if (kind === 'read EIO') {
        const failedCleanly = end.state === 'failed' && /source LUN read error at offset \d+ \(EIO\)/.test(end.error ?? '') && /source intact$/.test(end.error ?? '');
        expected = (end.state === 'completed' || failedCleanly) && written.errors === 0;
        faultHit = Boolean(at) && ((job?.faultsRetried ?? 0) > 0 || end.state === 'failed');
        note = [job?.faultsRetried ? `${job.faultsRetried} fault(s) retried` : null, written.errors ? `${written.errors} write error(s) seen: ${writer.workload.stats.lastError}` : null].filter(Boolean).join('; ') || null;
      } else {
        // Exactly the write the rule names failed, or none did (the writer never got there before the switch).
        const thatWrite = failedWrites.length === 1 && failedWrites[0]![0] >= range.offset && failedWrites[0]![0] < range.offset + range.length;
        faultHit = written.errors > 0;
        expected = end.state === 'completed' && (written.errors === 0 || (written.errors === 1 && thatWrite));
        note = written.errors
          ? `${written.errors} write error(s) seen, at ${failedWrites.map(([offset]) => kib(offset)).join(', ')}${thatWrite ? ' (the faulted write)' : ''}`
          : 'the writer wrote no block of the range before the switch';
      }
      recorder.add({
        run,
        seed,
        strategy,
        fault: label,
        faultHit,
        ...runOutcome(end, written, job),
        expected,
        recopiedBytes: null,
        dirtyAtCrashBytes: null,
        recoveryMs: null,
        note,
      });

      expect(written.lost, `acknowledged writes lost, first ${JSON.stringify(written.firstLost)}`).toBe(0);
      expect(written.checked).toBeGreaterThan(0);
      expect(expected, `${label} (${strategy}) ended ${end.state}: ${end.error ?? ''}; writer errors ${written.errors} at ${JSON.stringify(failedWrites)}`).toBe(true);
    }, 240_000);
  }
});
