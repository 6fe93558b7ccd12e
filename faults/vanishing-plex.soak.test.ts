/**
 * Soak: the target plex's LUN file vanishes mid-copy, mirror and precopy in turn, one way per run
 * (round-robin):
 *
 * - `renamed away`: the target LUN's file is renamed for a random 1–3 s, then put back;
 * - `removed`: the file is deleted for good.
 *
 * The writer must see no error and lose nothing, and the migration must end, never stuck: it
 * completes, or fails with a reason naming the target. The writer's ledger is checked twice: read
 * back through the running agent, and on the LUN file the agent's volume configuration names as
 * the volume's active plex (faults/harness.ts ledgerOnDisk), which is what the agent serves after
 * a restart. The running agent reads and writes the target through a file handle opened when the
 * job started, which outlives the file's name: a completed migration onto a file no longer on disk
 * shows only in the second check.
 */
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryArray } from '@/server/arrays';
import { targetLunName } from '@/server/engine/steps';
import { startReconciler } from '@/server/engine/reconciler';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { MiB, startEngineFixture, VOLUME_BYTES, type EngineFixture } from '@/test/engine-fixture';
import { enlargeArray, jobStatusFrom, ledgerOnDisk, random, runOutcome, runSeed, scenarioRecorder, soakRuns, soakSeed, startWriter, strategyFor, THROTTLE_BYTES_PER_S, untilCopied, waitForEnd } from './harness';

let fx: EngineFixture;
let stopReconciler: () => Promise<void>;
const recorder = scenarioRecorder('vanishing-plex', "the target LUN's file renamed away for 1–3 s, or removed for good, mid-copy");

beforeAll(async () => {
  fx = await startEngineFixture();
  await enlargeArray(fx.db, fx.arrayIds['ARR-02'], path.join(fx.root, 'ARR-02'), 64 * 1024 * MiB);
  stopReconciler = startReconciler(fx.db, 250);
}, 60_000);

afterAll(async () => {
  await stopReconciler?.();
  await fx?.close();
});

describe('soak: the target plex vanishes during a migration', () => {
  for (let run = 1; run <= soakRuns; run++) {
    it(`run ${run}`, async () => {
      // Index 0: 1–9 are taken (scripts/test-faults.mjs lists them), and 10 would read as the next base seed's.
      const seed = runSeed(0, run);
      const rng = random(seed);
      const strategy = strategyFor(run);
      // Round-robin over the kinds, starting from one the base seed picks.
      const kind = (['renamed away', 'removed'] as const)[(run + soakSeed) % 2]!;
      const name = `vanishing-plex-${run}`;
      const exportName = `dg/${name}`;
      const { volume } = await fx.volumeOnArray1(name, null, false);
      const writer = await startWriter(path.join(fx.agent.dataDir, 'nbd.sock'), exportName, seed);
      const created = await fx.create(volume.id, { strategy, throttleBytesPerS: THROTTLE_BYTES_PER_S });
      const key = await consoleKeyFor(fx.db, fx.hostId);
      const status = async () => jobStatusFrom(await fx.agentUrl(), key, created.id);

      const at = await untilCopied(status, rng.between(0.1, 0.6));
      const target = await fx.driverOf('ARR-02');
      if (!(target instanceof DirectoryArray)) throw new Error('ARR-02 is not a directory array');
      const lunFile = target.lunPath(targetLunName(created.id));
      const goneMs = Math.round(rng.between(1_000, 3_000));
      const where = at ? `${at.phase} (${Math.round((100 * at.bytesCopied) / VOLUME_BYTES)}%)` : 'after the copy';
      let label: string;
      if (kind === 'renamed away') {
        await rename(lunFile, `${lunFile}.away`);
        await sleep(goneMs);
        await rename(`${lunFile}.away`, lunFile);
        label = `target LUN file renamed away for ${(goneMs / 1000).toFixed(1)} s in ${where}`;
      } else {
        await rm(lunFile);
        label = `target LUN file removed in ${where}`;
      }

      const end = await waitForEnd(async () => {
        const row = await fx.migrationRow(created.id);
        return { state: row.state, error: row.error };
      });
      const job = await status();
      const written = await writer.finish();
      const onDisk = await ledgerOnDisk(fx.agent.dataDir, exportName, writer.workload.ledger());

      const endedCleanly = end.state === 'completed' || (end.state === 'failed' && /target/i.test(end.error ?? ''));
      const expected = endedCleanly && written.errors === 0 && onDisk.lost === 0;
      recorder.add({
        run,
        seed,
        strategy,
        fault: label,
        faultHit: Boolean(at),
        ...runOutcome(end, written, job),
        // What a restarted agent would serve counts: a write readable only through a handle on a deleted file is lost.
        writesLost: Math.max(written.lost, onDisk.lost),
        expected,
        recopiedBytes: null,
        dirtyAtCrashBytes: null,
        recoveryMs: null,
        note:
          [
            onDisk.missing ? `the volume's active plex is not on disk (${onDisk.missing}): ${onDisk.lost} acknowledged write(s) readable only through the running agent's open file handle` : null,
            !onDisk.missing && onDisk.lost ? `${onDisk.lost} acknowledged write(s) missing from ${onDisk.lunPath}` : null,
            job?.faultsRetried ? `${job.faultsRetried} fault(s) retried` : null,
          ]
            .filter(Boolean)
            .join('; ') || null,
      });

      expect(written.lost, `acknowledged writes lost, first ${JSON.stringify(written.firstLost)}`).toBe(0);
      expect(written.checked).toBeGreaterThan(0);
      expect(written.errors, `the application never saw the target vanish: ${writer.workload.stats.lastError}`).toBe(0);
      expect(onDisk.lost, `acknowledged writes on the active plex's LUN file: ${onDisk.missing ?? onDisk.lunPath}`).toBe(0);
      expect(endedCleanly, `${label} (${strategy}) ended ${end.state}: ${end.error ?? ''}`).toBe(true);
    }, 240_000);
  }
});
