/**
 * Soak (d), docs/testing.md §5: migrations onto a target array that fails, through the fault
 * array driver (server/arrays/fault-array.ts): every write EIO, one write EIO at a random
 * offset, or ENOSPC after a random number of bytes, mirror and precopy in turn. A persistent fault
 * must fail the migration with a reason naming it and leave the source authoritative; a fault
 * once must be retried and the migration complete; either way the application sees no error and
 * loses nothing.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { arrays } from '@/db/schema';
import { FaultArray, type FaultRule } from '@/server/arrays';
import { startReconciler } from '@/server/engine/reconciler';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { MiB, startEngineFixture, VOLUME_BYTES, type EngineFixture } from '@/test/engine-fixture';
import { enlargeArray, jobStatusFrom, random, runOutcome, runSeed, scenarioRecorder, soakRuns, startWriter, strategyFor, THROTTLE_BYTES_PER_S, waitForEnd } from './harness';

let fx: EngineFixture;
let stopReconciler: () => Promise<void>;
const recorder = scenarioRecorder('target-faults', 'target I/O errors: EIO always, EIO once, ENOSPC after N bytes');

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

type Kind = 'EIO always' | 'EIO once' | 'ENOSPC';

function rulesFor(kind: Kind, rng: ReturnType<typeof random>): { rules: FaultRule[]; label: string } {
  if (kind === 'EIO always') return { rules: [{ op: 'write', errno: 'EIO' }], label: 'target write EIO always' };
  if (kind === 'EIO once') {
    const offset = Math.floor(rng.between(0, VOLUME_BYTES / 4096)) * 4096;
    return { rules: [{ op: 'write', offset, length: 4096, when: 'once', errno: 'EIO' }], label: `target write EIO once at ${offset / MiB < 1 ? `${offset / 1024} KiB` : `${(offset / MiB).toFixed(1)} MiB`}` };
  }
  const afterBytes = Math.floor(rng.between(1, 12)) * MiB;
  return { rules: [{ op: 'write', afterBytes, errno: 'ENOSPC' }], label: `target ENOSPC after ${afterBytes / MiB} MiB` };
}

describe('soak: target I/O errors and ENOSPC', () => {
  for (let run = 1; run <= soakRuns; run++) {
    it(`run ${run}`, async () => {
      const seed = runSeed(4, run);
      const rng = random(seed);
      const strategy = strategyFor(run);
      // Round-robin over the kinds, so even three runs meet each once; the details are random.
      const kind = (['EIO always', 'EIO once', 'ENOSPC'] as const)[(run - 1) % 3]!;
      const { rules, label } = rulesFor(kind, rng);
      await (await targetArray()).setFaultsForNewLuns(rules);

      const name = `target-fault-${run}`;
      const { volume } = await fx.volumeOnArray1(name, null, false);
      const writer = await startWriter(path.join(fx.agent.dataDir, 'nbd.sock'), `dg/${name}`, seed);
      const created = await fx.create(volume.id, { strategy, throttleBytesPerS: THROTTLE_BYTES_PER_S });
      const key = await consoleKeyFor(fx.db, fx.hostId);

      const end = await waitForEnd(async () => {
        const row = await fx.migrationRow(created.id);
        return { state: row.state, error: row.error };
      });
      const job = await jobStatusFrom(await fx.agentUrl(), key, created.id);
      const written = await writer.finish();

      const errno = kind === 'ENOSPC' ? 'ENOSPC' : 'EIO';
      const expected =
        kind === 'EIO once'
          ? end.state === 'completed' && (job?.faultsRetried ?? 0) >= 1
          : end.state === 'failed' && new RegExp(`target LUN write error at offset \\d+ \\(${errno}\\)`).test(end.error ?? '') && /source intact$/.test(end.error ?? '');
      recorder.add({
        run,
        seed,
        strategy,
        fault: label,
        faultHit: kind !== 'EIO once' || (job?.faultsRetried ?? 0) >= 1,
        ...runOutcome(end, written, job),
        expected,
        recopiedBytes: null,
        dirtyAtCrashBytes: null,
        recoveryMs: null,
        note: job?.faultsRetried ? `${job.faultsRetried} fault(s) retried` : null,
      });

      expect(written.lost, `acknowledged writes lost, first ${JSON.stringify(written.firstLost)}`).toBe(0);
      expect(written.checked).toBeGreaterThan(0);
      expect(written.errors, 'the application never saw the target fail').toBe(0);
      expect(expected, `${label} (${strategy}) ended ${end.state}: ${end.error ?? ''}; retried ${job?.faultsRetried}`).toBe(true);
    }, 240_000);
  }
});
