/**
 * Migrations through a failing array, end to end with real parts: the engine fixture's arrays
 * ARR-01 and ARR-02 switched to the fault driver, one real agent process, volumes with a
 * verifiable workload writing throughout. A target that fails persistently (EIO, ENOSPC) or a
 * source that cannot be read ends the migration `failed` with the reason and the source intact;
 * the application sees no error and loses nothing; a transient target fault is retried and the
 * migration completes. A failed migration's target LUN is left on its array for diagnosis.
 */
import { existsSync } from 'node:fs';
import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { arrays, events, luns } from '@/db/schema';
import { FaultArray, type FaultRule } from '@/server/arrays';
import { actor, MiB, startEngineFixture, type EngineFixture } from '@/test/engine-fixture';
import { migrationAction } from './actions';
import { targetLunName } from './steps';

let fx: EngineFixture;

beforeAll(async () => {
  fx = await startEngineFixture();
  // The same folders, now driven by the fault driver: LUNs created from here on carry rules files.
  await fx.db.update(arrays).set({ driver: 'fault' });
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

afterEach(async () => {
  await (await faultArray('ARR-02')).setFaultsForNewLuns([]);
});

async function faultArray(name: 'ARR-01' | 'ARR-02'): Promise<FaultArray> {
  const driver = await fx.driverOf(name);
  expect(driver).toBeInstanceOf(FaultArray);
  return driver as FaultArray;
}

/** The workload's report after it stopped: errors the application saw and writes lost. */
async function workloadOutcome(volume: string) {
  const report = (await fx.stopAndVerify(volume)) as unknown as { writes: number; errors: number; verify: { lost: number; checked: number } };
  return { writes: report.writes, errors: report.errors, lost: report.verify.lost, checked: report.verify.checked };
}

/** Starts a migration of a fresh volume to ARR-02, whose new LUNs carry `targetRules`. */
async function migrateWithTargetFaults(volumeName: string, targetRules: FaultRule[], strategy: 'mirror' | 'precopy') {
  await (await faultArray('ARR-02')).setFaultsForNewLuns(targetRules);
  const { volume } = await fx.volumeOnArray1(volumeName, 4 * MiB);
  const created = await fx.create(volume.id, { strategy });
  return created.id;
}

async function expectFailedCleanly(id: string, volumeName: string, reason: RegExp) {
  const row = await fx.reconcileUntil(id, ['failed']);
  expect(row.error).toMatch(reason);
  expect(row.error).toMatch(/source intact$/);
  const [event] = await fx.db.select().from(events).where(and(eq(events.objectId, id), eq(events.kind, 'migration.failed')));
  expect(event?.message).toMatch(reason);
  expect(event?.message).toMatch(/the source is intact/);
  const job = await fx.jobStatus(id);
  expect(job).toMatchObject({ phase: 'failed', switched: false });
  // The application never saw the fault and lost nothing: the source stayed authoritative.
  const outcome = await workloadOutcome(volumeName);
  expect(outcome.errors).toBe(0);
  expect(outcome.checked).toBeGreaterThan(0);
  expect(outcome.lost).toBe(0);
  // The target LUN is left on its array, with its rules, for diagnosis; nothing cleans it up.
  const [target] = await fx.db.select().from(luns).where(and(eq(luns.arrayId, fx.arrayIds['ARR-02']), eq(luns.name, targetLunName(id))));
  expect(target).toBeDefined();
  expect(existsSync(target!.path)).toBe(true);
  return row;
}

describe('migrations through a failing array', () => {
  it('a target that fails every write: failed with the reason, the application unaffected, nothing lost', async () => {
    const id = await migrateWithTargetFaults('flt-eio', [{ op: 'write', errno: 'EIO' }], 'mirror');
    await expectFailedCleanly(id, 'flt-eio', /target LUN write error at offset \d+ \(EIO\) on plex .*; gave up after 4 attempts/);
  }, 60_000);

  it('a target write error once is retried and the migration completes, verified, nothing lost', async () => {
    await (await faultArray('ARR-02')).setFaultsForNewLuns([{ op: 'write', offset: 8 * MiB, length: 4096, when: 'once', errno: 'EIO' }]);
    const { volume } = await fx.volumeOnArray1('flt-once', 4 * MiB);
    const created = await fx.create(volume.id, { strategy: 'precopy', cutoverPolicy: { mode: 'auto', commit: 'manual' } });
    const verified = await fx.reconcileUntil(created.id, ['verified'], 60_000);
    // Proof the fault hit: the job says it retried, and what it retried.
    const status = verified.agentStatus as { verify: { ok: boolean; regionsCompared: number } | null; faultsRetried: number; lastFault: string | null };
    expect(status.faultsRetried).toBe(1);
    expect(status.lastFault).toMatch(/^target LUN write error at offset \d+ \(EIO\)/);
    expect(status.verify).toMatchObject({ ok: true });
    expect(status.verify!.regionsCompared).toBeGreaterThan(0);
    await migrationAction(fx.db, actor, created.id, 'commit');
    await fx.reconcileUntil(created.id, ['completed'], 60_000);
    const outcome = await workloadOutcome('flt-once');
    expect(outcome.errors).toBe(0);
    expect(outcome.lost).toBe(0);
  }, 90_000);

  it('ENOSPC on the target after 2 MiB: failed at once with the reason, nothing lost', async () => {
    const id = await migrateWithTargetFaults('flt-full', [{ op: 'write', afterBytes: 2 * MiB, errno: 'ENOSPC' }], 'precopy');
    await expectFailedCleanly(id, 'flt-full', /target LUN write error at offset \d+ \(ENOSPC\)/);
  }, 60_000);

  it('a source that cannot be read: failed and says so, nothing acknowledged lost', async () => {
    const { volume } = await fx.volumeOnArray1('flt-src', 4 * MiB);
    // Past the workload's 4 MiB: only the copy reads there.
    await (await faultArray('ARR-01')).setFaults('src-flt-src', [{ op: 'read', offset: 12 * MiB, length: 64 * 1024, errno: 'EIO' }]);
    const created = await fx.create(volume.id, { strategy: 'precopy' });
    await expectFailedCleanly(created.id, 'flt-src', /source LUN read error at offset \d+ \(EIO\) on plex .*; gave up after 4 attempts/);
  }, 60_000);
});
