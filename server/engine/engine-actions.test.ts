/**
 * Each operator action end to end with a real agent process moving a 16 MiB volume under a
 * verifiable workload: pause and resume, throttle, cancel (and the target LUN's removal), manual
 * cutover, rollback after cutover, commit from verified, and cutover inside a maintenance window.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, hosts, luns, plexes } from '@/db/schema';
import type { MigrationSample } from '@/server/protocol/agent-api';
import { actor, MiB, startEngineFixture, type EngineFixture } from '@/test/engine-fixture';
import { fenceHost } from '@/server/fleet/fencing';
import { waitFor } from '@/test/wait-for';
import { migrationAction, setThrottle } from './actions';
import { reconcileOnce } from './reconciler';
import { targetLunName } from './steps';
import type { CutoverWindow } from './window';

let fx: EngineFixture;

beforeAll(async () => {
  fx = await startEngineFixture();
}, 30_000);

afterAll(async () => {
  await fx?.close();
});

/** A UTC window from `fromMin` to `toMin` minutes from now. */
function windowFromNow(fromMin: number, toMin: number): CutoverWindow {
  const hhmm = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString().slice(11, 16);
  return { start: hhmm(fromMin), end: hhmm(toMin), timeZone: 'UTC' };
}

/** The target LUN is gone from the database and the array, with a lun.deleted event; the source LUN is still there. */
async function expectTargetDeleted(migrationId: string, targetLunId: string, sourceLunId: string) {
  await waitFor('the target LUN to be deleted', async () => {
    await reconcileOnce(fx.db);
    return (await fx.db.select().from(luns).where(eq(luns.id, targetLunId))).length === 0;
  });
  expect((await (await fx.driverOf('ARR-02')).listLuns()).map((l) => l.name)).not.toContain(targetLunName(migrationId));
  expect(await fx.db.select().from(events).where(and(eq(events.objectId, targetLunId), eq(events.kind, 'lun.deleted')))).toHaveLength(1);
  expect(await fx.db.select().from(luns).where(eq(luns.id, sourceLunId))).toHaveLength(1);
  expect((await fx.migrationRow(migrationId)).targetLunId).toBeNull();
}

/** The volume has one active plex, on its source LUN. */
async function expectOnSource(volumeId: string, sourceLunId: string) {
  await waitFor('the volume back on its source LUN alone', async () => {
    const rows = await fx.db.select().from(plexes).where(eq(plexes.volumeId, volumeId));
    return rows.length === 1 && rows[0]?.lunId === sourceLunId && rows[0].state === 'active';
  });
}

describe('operator actions', () => {
  it('pause stops the copy, resume continues it, a throttle change reaches the agent, cancel keeps the source and deletes the target', async () => {
    const { volume, sourceLunId } = await fx.volumeOnArray1('vol-controls');
    const created = await fx.create(volume.id, { throttleBytesPerS: 2 * MiB, cutoverPolicy: { mode: 'manual', commit: 'manual' } });
    await fx.reconcileUntil(created.id, ['copying']);
    await waitFor('some bytes copied', async () => (await fx.jobStatus(created.id)).bytesCopied >= MiB);

    expect((await migrationAction(fx.db, actor, created.id, 'pause')).state).toBe('paused');
    await waitFor('the agent to report the job paused', async () => (await fx.jobStatus(created.id)).paused);
    const pausedAt = (await fx.jobStatus(created.id)).bytesCopied;
    await sleep(1_000);
    await reconcileOnce(fx.db);
    expect((await fx.jobStatus(created.id)).bytesCopied, 'no byte copied while paused').toBe(pausedAt);
    expect((await fx.migrationRow(created.id)).state).toBe('paused');

    expect((await migrationAction(fx.db, actor, created.id, 'resume')).state).toBe('copying');
    await waitFor('the copy to continue', async () => (await fx.jobStatus(created.id)).bytesCopied > pausedAt);

    const limit = 256 * 1024;
    const changedAt = new Date();
    const throttled = await setThrottle(fx.db, actor, created.id, limit);
    expect(throttled.throttleBytesPerS).toBe(limit);
    expect((await fx.jobStatus(created.id)).throttleBytesPerS).toBe(limit);
    // The agent's next samples carry the new limit, and its measured copy rate falls to it.
    await waitFor('a sample copying at the new limit', async () => {
      const samples = await fx.agentFetch<MigrationSample[]>('GET', `/v1/migrations/${created.id}/samples?after=${encodeURIComponent(changedAt.toISOString())}`);
      return samples.slice(1).some((sample) => sample.throttleBytesPerS === limit && sample.copyRateBytesPerS > 0 && sample.copyRateBytesPerS <= limit * 1.25);
    });
    const [changed] = await fx.db.select().from(events).where(and(eq(events.objectId, created.id), eq(events.kind, 'migration.throttle-changed')));
    expect(changed?.message).toMatch(/copy rate limit set to 256 KiB\/s by tester/);

    const copying = await fx.migrationRow(created.id);
    expect((await migrationAction(fx.db, actor, created.id, 'cancel')).state).toBe('cancelled');
    expect((await fx.jobStatus(created.id)).phase).toBe('cancelled');
    await expectTargetDeleted(created.id, copying.targetLunId!, sourceLunId);
    await expectOnSource(volume.id, sourceLunId);
    const report = await fx.stopAndVerify('vol-controls');
    expect(report.verify?.checked).toBeGreaterThan(0);
    expect(report.verify?.lost).toBe(0);
  });

  it('manual cutover waits in ready until "cut over now"; a rollback from verified returns to the source and deletes the target', async () => {
    const { volume, sourceLunId } = await fx.volumeOnArray1('vol-rollback', MiB / 2);
    const created = await fx.create(volume.id, { throttleBytesPerS: 8 * MiB, cutoverPolicy: { mode: 'manual', commit: 'manual' } });
    const ready = await fx.reconcileUntil(created.id, ['ready']);
    for (let tick = 0; tick < 3; tick++) {
      await reconcileOnce(fx.db);
      await sleep(200);
    }
    expect((await fx.migrationRow(created.id)).state, 'a manual cutover does not happen by itself').toBe('ready');
    expect((await fx.jobStatus(created.id)).switched).toBe(false);

    await migrationAction(fx.db, actor, created.id, 'cutover');
    const verified = await fx.reconcileUntil(created.id, ['verified']);
    expect(verified.agentStatus?.switched).toBe(true);
    for (let tick = 0; tick < 2; tick++) await reconcileOnce(fx.db);
    expect((await fx.migrationRow(created.id)).state, 'a manual commit waits in verified').toBe('verified');

    await migrationAction(fx.db, actor, created.id, 'rollback');
    await fx.reconcileUntil(created.id, ['rolled-back']);
    await expectTargetDeleted(created.id, ready.targetLunId!, sourceLunId);
    await expectOnSource(volume.id, sourceLunId);
    const report = await fx.stopAndVerify('vol-rollback');
    expect(report.verify?.checked).toBeGreaterThan(0);
    expect(report.verify?.lost, 'writes made on the target after the switch were copied back').toBe(0);
  });

  it('cuts over by itself inside an open window, then waits for commit, which releases the source', async () => {
    const { volume, sourceLunId } = await fx.volumeOnArray1('vol-window', MiB / 2);
    const window = windowFromNow(-60, 60);
    const created = await fx.create(volume.id, { throttleBytesPerS: 8 * MiB, cutoverPolicy: { mode: 'window', commit: 'manual', window } });
    expect(created.cutoverPolicy).toEqual({ mode: 'window', commit: 'manual', window });
    const verified = await fx.reconcileUntil(created.id, ['verified']);
    const [cut] = await fx.db
      .select()
      .from(events)
      .where(and(eq(events.objectId, created.id), eq(events.actorName, 'engine')))
      .orderBy(asc(events.id))
      .then((rows) => rows.filter((event) => /cut over by the engine/.test(event.message)));
    expect(cut?.message).toContain(`inside window ${window.start}–${window.end} UTC`);
    for (let tick = 0; tick < 2; tick++) await reconcileOnce(fx.db);
    expect((await fx.migrationRow(created.id)).state).toBe('verified');

    await migrationAction(fx.db, actor, created.id, 'commit');
    const done = await fx.reconcileUntil(created.id, ['completed']);
    expect(done.targetLunId).toBe(verified.targetLunId);
    expect(await fx.db.select().from(luns).where(eq(luns.id, sourceLunId))).toHaveLength(0);
    expect((await (await fx.driverOf('ARR-01')).listLuns()).map((l) => l.name)).not.toContain('src-vol-window');
    const report = await fx.stopAndVerify('vol-window');
    expect(report.verify?.lost).toBe(0);
  });

  it('keeps copying outside the window, converged and waiting, without cutting over', async () => {
    const { volume, sourceLunId } = await fx.volumeOnArray1('vol-closed', MiB / 2);
    const window = windowFromNow(60, 120);
    const created = await fx.create(volume.id, { throttleBytesPerS: 8 * MiB, cutoverPolicy: { mode: 'window', commit: 'auto', window } });
    const ready = await fx.reconcileUntil(created.id, ['ready']);
    const [waiting] = await fx.db.select().from(events).where(and(eq(events.objectId, created.id), eq(events.kind, 'migration.ready')));
    expect(waiting?.message).toContain(`cuts over inside window ${window.start}–${window.end} UTC`);
    for (let tick = 0; tick < 3; tick++) {
      await reconcileOnce(fx.db);
      await sleep(200);
    }
    expect((await fx.migrationRow(created.id)).state).toBe('ready');
    expect((await fx.jobStatus(created.id)).switched).toBe(false);

    await expect(fx.caller('operator').migrations.create({ ...fx.migrationInput(volume.id), cutoverPolicy: { mode: 'window', commit: 'auto' } })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/cutover mode .*window.* needs a window/),
    });
    expect((await migrationAction(fx.db, actor, created.id, 'cancel')).state).toBe('cancelled');
    await expectTargetDeleted(created.id, ready.targetLunId!, sourceLunId);
    expect((await fx.stopAndVerify('vol-closed')).verify?.lost).toBe(0);
  });

  // Last in this file: fencing revokes the fixture agent's credential.
  it('refuses every action on a fenced host’s running migration, and sends its agent nothing', async () => {
    const { volume } = await fx.volumeOnArray1('vol-fenced', null, false);
    const created = await fx.create(volume.id, { throttleBytesPerS: MiB });
    await fx.reconcileUntil(created.id, ['copying']);
    const [host] = await fx.db.select({ hostname: hosts.hostname }).from(hosts).where(eq(hosts.id, fx.hostId));
    await fenceHost(fx.db, actor, { hostId: fx.hostId, confirm: host!.hostname });
    const before = await fx.migrationRow(created.id);
    for (const action of ['pause', 'cancel', 'cutover', 'rollback'] as const) {
      await expect(migrationAction(fx.db, actor, created.id, action)).rejects.toThrow(/is fenced, so the console sends its agent nothing; re-enrol the host/);
    }
    await expect(setThrottle(fx.db, actor, created.id, 2 * MiB)).rejects.toThrow(/is fenced/);
    await reconcileOnce(fx.db);
    expect(await fx.migrationRow(created.id)).toMatchObject({ state: before.state, throttleBytesPerS: before.throttleBytesPerS });
  });
});
