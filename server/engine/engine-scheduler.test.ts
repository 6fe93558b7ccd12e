/**
 * The scheduler with a real agent moving real volumes: per-host and per-target-array limits
 * observed at every tick, an array's bandwidth budget shared by its jobs (and whole for a job
 * alone), and an evacuation's window: nothing starts while it is closed, `pause` pauses and
 * resumes copying with it, `keep-copying` copies on and only the cutover waits. Time for the
 * windows is injected through reconcileOnce's `now`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { evacuations, events, migrations, volumes } from '@/db/schema';
import { DEFAULT_LIMITS, type PlanLimits } from '@/server/evacuation/plan-types';
import { createLun, mapLun } from '@/server/fleet/arrays';
import { createVolume } from '@/server/fleet/volumes';
import { setLimits } from '@/server/settings/limits';
import { actor, MiB, startEngineFixture, type EngineFixture } from '@/test/engine-fixture';
import { waitFor } from '@/test/wait-for';
import { migrationAction } from './actions';
import { reconcileOnce } from './reconciler';
import { holdsSlot } from './scheduler';
import { queueReason } from './tick-plan';

let fx: EngineFixture;

beforeAll(async () => {
  fx = await startEngineFixture();
}, 30_000);

afterAll(async () => {
  await fx?.close();
});

afterEach(async () => {
  await setLimits(fx.db, actor, DEFAULT_LIMITS);
});

const limits = (over: Partial<PlanLimits>) => setLimits(fx.db, actor, { ...DEFAULT_LIMITS, ...over });

/** A volume of `sizeBytes` on ARR-01 with no workload. */
async function volume(name: string, sizeBytes: number) {
  const lun = await createLun(fx.db, actor, { arrayId: fx.arrayIds['ARR-01'], name: `src-${name}`, sizeBytes });
  await mapLun(fx.db, actor, { lunId: lun.id, hostId: fx.hostId });
  await createVolume(fx.db, actor, { hostId: fx.hostId, lunId: lun.id, diskGroup: 'dg', name, sizeBytes });
  const [row] = await fx.db.select().from(volumes).where(and(eq(volumes.hostId, fx.hostId), eq(volumes.name, name)));
  return row!;
}

async function rows(ids: string[]) {
  return fx.db.select().from(migrations).where(inArray(migrations.id, ids));
}

/** Ticks until every migration has completed, checking after each tick that no more than `limit` hold a slot. */
async function tickUntilCompleted(ids: string[], limit: number) {
  let peak = 0;
  await waitFor(
    'every migration to complete',
    async () => {
      await reconcileOnce(fx.db);
      const now = await rows(ids);
      const holding = now.filter((row) => holdsSlot({ state: row.state, hasJob: row.agentStatus !== null })).length;
      expect(holding, `slots held after a tick: ${now.map((row) => row.state).join(', ')}`).toBeLessThanOrEqual(limit);
      peak = Math.max(peak, holding);
      if (now.some((row) => ['failed', 'cancelled', 'rolled-back'].includes(row.state))) throw new Error(`a migration ended badly: ${now.map((row) => `${row.state} ${row.error ?? ''}`).join('; ')}`);
      if (now.every((row) => row.state === 'completed')) return true;
      await sleep(150);
      return false;
    },
    90_000,
  );
  return peak;
}

async function admissionMessages(id: string) {
  return (await fx.db.select().from(events).where(and(eq(events.objectId, id), eq(events.kind, 'migration.preparing')))).map((event) => event.message);
}

/** Bytes the agent copied per second for the given jobs together, measured over `seconds`. */
async function copyRate(ids: string[], seconds: number): Promise<number> {
  const copied = async () => (await Promise.all(ids.map((id) => fx.jobStatus(id)))).reduce((sum, status) => sum + status.bytesCopied, 0);
  const before = await copied();
  const startedAt = performance.now();
  await sleep(seconds * 1000);
  const after = await copied();
  return (after - before) / ((performance.now() - startedAt) / 1000);
}

describe('scheduler with a real agent', () => {
  it('never runs more than the per-host limit on the host, nor more than the per-target-array limit on the target', async () => {
    await limits({ perHost: 1 });
    const first = await Promise.all(['lim-a', 'lim-b', 'lim-c'].map(async (name) => fx.create((await volume(name, 16 * MiB)).id, { throttleBytesPerS: 16 * MiB })));
    expect(await tickUntilCompleted(first.map((m) => m.id), 1)).toBe(1);
    expect(await admissionMessages(first[0]!.id)).toEqual(['admitted: fleet runs 1 of 16; host engine-host runs 1 of 1; ARR-01 sends 1 of 8; ARR-02 receives 1 of 8']);

    await limits({ perHost: 3, perTargetArray: 2 });
    const second = await Promise.all(['lim-d', 'lim-e', 'lim-f'].map(async (name) => fx.create((await volume(name, 16 * MiB)).id, { throttleBytesPerS: 8 * MiB })));
    await reconcileOnce(fx.db);
    const waiting = (await rows(second.map((m) => m.id))).filter((row) => row.state === 'queued');
    expect(waiting).toHaveLength(1);
    expect((await fx.caller('viewer').migrations.get({ id: waiting[0]!.id })).queueReason).toBe('waits for a slot: ARR-02 receives 2 of 2');
    expect(await tickUntilCompleted(second.map((m) => m.id), 2)).toBe(2);
  });

  it('shares a source array’s bandwidth budget among its jobs, and gives a job alone all of it', async () => {
    const budget = 4 * MiB;
    await limits({ perHost: 3, arrayBandwidthBytesPerS: { [fx.arrayIds['ARR-01']]: budget } });
    const jobs = await Promise.all(['bw-a', 'bw-b', 'bw-c'].map(async (name) => fx.create((await volume(name, 32 * MiB)).id, { throttleBytesPerS: null })));
    const ids = jobs.map((m) => m.id);
    await waitFor('all three copying, each at a third of the budget', async () => {
      await reconcileOnce(fx.db);
      const statuses = (await rows(ids)).every((row) => row.state === 'copying') ? await Promise.all(ids.map((id) => fx.jobStatus(id))) : [];
      return statuses.length === 3 && statuses.every((status) => status.throttleBytesPerS === Math.floor(budget / 3));
    });
    const shared = await copyRate(ids, 4);
    expect(shared, `three jobs together copy ${(shared / MiB).toFixed(2)} MiB/s`).toBeGreaterThan(budget * 0.9);
    expect(shared).toBeLessThan(budget * 1.1);
    await migrationAction(fx.db, actor, ids[1]!, 'cancel');
    await migrationAction(fx.db, actor, ids[2]!, 'cancel');
    await waitFor('the job left alone to get the whole budget', async () => {
      await reconcileOnce(fx.db);
      return (await fx.jobStatus(ids[0]!)).throttleBytesPerS === budget;
    });
    const alone = await copyRate([ids[0]!], 3);
    expect(alone, `one job copies ${(alone / MiB).toFixed(2)} MiB/s`).toBeGreaterThan(budget * 0.9);
    expect(alone).toBeLessThan(budget * 1.1);
    const changes = await fx.db.select().from(events).where(and(eq(events.objectId, ids[0]!), eq(events.kind, 'migration.throttle-changed'))).orderBy(asc(events.id));
    expect(changes.at(-1)?.message).toBe('dg/bw-a: copy rate limit set to 4 MiB/s by the engine: ARR-01 read budget 4 MiB/s shared by 1 job');
    await migrationAction(fx.db, actor, ids[0]!, 'cancel');
  });

  describe('an evacuation’s window', () => {
    // The window is 10:00–11:00 UTC; the engine is told it is 12:00 (closed) or 10:30 (open).
    const day = new Date().toISOString().slice(0, 10);
    const closed = new Date(`${day}T12:00:00Z`);
    const open = new Date(`${day}T10:30:00Z`);
    const tick = (now: Date) => reconcileOnce(fx.db, undefined, now);

    async function evacuationWith(outsideWindow: 'pause' | 'keep-copying', state: 'running' | 'paused' = 'running') {
      const [row] = await fx.db
        .insert(evacuations)
        .values({ sourceArrayIds: [fx.arrayIds['ARR-01']], constraints: {}, placement: {}, limits: {}, window: { start: '10:00', end: '11:00', timeZone: 'UTC' }, outsideWindow, state, createdBy: 'tester' })
        .returning();
      return row!;
    }

    async function queuedIn(evacuationId: string, name: string, over: Parameters<EngineFixture['create']>[1] = {}) {
      const created = await fx.create((await volume(name, 16 * MiB)).id, over);
      await fx.db.update(migrations).set({ evacuationId }).where(eq(migrations.id, created.id));
      return created;
    }

    it('admits nothing while the window is closed or the evacuation is paused; pauses copying when it closes and resumes when it opens', async () => {
      const evacuation = await evacuationWith('pause', 'paused');
      const m = await queuedIn(evacuation.id, 'win-pause', { throttleBytesPerS: 2 * MiB });
      await tick(open);
      expect((await fx.migrationRow(m.id)).state).toBe('queued');
      expect(await queueReason(fx.db, m.id, open)).toBe('its evacuation is paused; none of its migrations start until it runs');

      await fx.db.update(evacuations).set({ state: 'running' }).where(eq(evacuations.id, evacuation.id));
      for (let i = 0; i < 3; i++) await tick(closed);
      expect((await fx.migrationRow(m.id)).state).toBe('queued');
      expect(await queueReason(fx.db, m.id, closed)).toBe('waits for window 10:00–11:00 UTC, which opens in 22 h');

      await waitFor('the copy to start inside the window', async () => {
        await tick(open);
        return (await fx.migrationRow(m.id)).state === 'copying';
      });
      await tick(closed);
      expect((await fx.migrationRow(m.id)).state).toBe('paused');
      await waitFor('the agent to report the job paused', async () => (await fx.jobStatus(m.id)).paused);
      const pausedAt = (await fx.jobStatus(m.id)).bytesCopied;
      await sleep(600);
      await tick(closed);
      expect((await fx.jobStatus(m.id)).bytesCopied, 'nothing copied while the window is closed').toBe(pausedAt);

      await tick(open);
      expect((await fx.migrationRow(m.id)).state).toBe('copying');
      await waitFor('the copy to continue', async () => (await fx.jobStatus(m.id)).bytesCopied > pausedAt);
      const messages = (await fx.db.select().from(events).where(eq(events.objectId, m.id)).orderBy(asc(events.id))).map((event) => event.message);
      expect(messages).toContain('dg/win-pause: paused by the engine: window 10:00–11:00 UTC closed; this evacuation pauses copying outside its window');
      expect(messages).toContain('dg/win-pause: resumed by the engine: window 10:00–11:00 UTC open; copying resumes');

      // An operator's pause is the operator's: the open window does not undo it.
      await migrationAction(fx.db, actor, m.id, 'pause');
      await tick(open);
      expect((await fx.migrationRow(m.id)).state).toBe('paused');
      await migrationAction(fx.db, actor, m.id, 'cancel');
    });

    it('keeps copying outside a keep-copying window, where only the cutover waits', async () => {
      const evacuation = await evacuationWith('keep-copying');
      const window = { start: '10:00', end: '11:00', timeZone: 'UTC' };
      const m = await queuedIn(evacuation.id, 'win-keep', { throttleBytesPerS: 8 * MiB, cutoverPolicy: { mode: 'window', commit: 'auto', window } });
      await waitFor('the copy to start inside the window', async () => {
        await tick(open);
        return (await fx.migrationRow(m.id)).state === 'copying';
      });
      await waitFor('convergence while the window is closed', async () => {
        await tick(closed);
        const state = (await fx.migrationRow(m.id)).state;
        expect(['copying', 'ready']).toContain(state);
        return state === 'ready';
      });
      for (let i = 0; i < 2; i++) await tick(closed);
      expect((await fx.migrationRow(m.id)).state).toBe('ready');
      expect((await fx.jobStatus(m.id)).switched).toBe(false);
      await waitFor('the cutover inside the window, then completion', async () => {
        await tick(open);
        return (await fx.migrationRow(m.id)).state === 'completed';
      }, 40_000);
    });
  });
});
