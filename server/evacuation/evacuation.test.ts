/**
 * Evacuations end to end with real agents: four 16 MiB volumes on ARR-01, two on each of two
 * hosts, written by verifiable workloads throughout. In order: refusals that change nothing;
 * a cancel once one volume has switched (it rolls back, the rest stop, targets go, the array is
 * online again); a manual-commit evacuation rolled back as a whole (bytes left to copy rise
 * again, and the events say why); and a full evacuation, paused and resumed on the way, that
 * leaves ARR-01 `evacuated` and safe to decommission with no acknowledged write lost.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, asc, eq, inArray, like } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrays, evacuationSamples, evacuations, events, hosts, luns, migrations, plexes, volumes } from '@/db/schema';
import { migrationAction } from '@/server/engine/actions';
import { reconcileOnce } from '@/server/engine/reconciler';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { createLun, mapLun } from '@/server/fleet/arrays';
import { createEnrolmentToken } from '@/server/fleet/hosts';
import { createVolume } from '@/server/fleet/volumes';
import { spawnAgent } from '@/test/agent-process';
import { actor, MiB, startEngineFixture, VOLUME_BYTES, type EngineFixture, type WorkloadReport } from '@/test/engine-fixture';
import { waitFor } from '@/test/wait-for';
import type { EvacuationRollup } from './rollup';

let fx: EngineFixture;
let host2Id: string;
const names = ['ev-a1', 'ev-a2', 'ev-b1', 'ev-b2'];
const volumeIds = new Map<string, string>();
const sourceLunIds = new Map<string, string>();

async function host2Fetch<T>(method: string, pathname: string, body?: unknown): Promise<T> {
  const [host] = await fx.db.select({ url: hosts.agentUrl }).from(hosts).where(eq(hosts.id, host2Id));
  const response = await fetch(new URL(pathname, host!.url!), {
    method,
    headers: { authorization: `Bearer ${await consoleKeyFor(fx.db, host2Id)}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status, `${method} ${pathname}`).toBe(200);
  return (await response.json()) as T;
}

beforeAll(async () => {
  fx = await startEngineFixture();
  const { token } = await createEnrolmentToken(fx.db, { label: 'evac-host-2', createdBy: 'test' });
  const agent = spawnAgent({ consoleUrl: fx.consoleUrl, dataDir: path.join(fx.root, 'agent-2'), token, hostname: 'evac-host-2' });
  host2Id = (await agent.waitForLog((line) => line.msg === 'started')).hostId as string;
  await waitFor('the second host to connect', async () => (await fx.db.select().from(hosts).where(eq(hosts.id, host2Id)))[0]?.state === 'connected');
  for (const name of names.slice(0, 2)) {
    const { volume, sourceLunId } = await fx.volumeOnArray1(name, MiB / 2);
    volumeIds.set(name, volume.id);
    sourceLunIds.set(name, sourceLunId);
  }
  for (const name of names.slice(2)) {
    const lun = await createLun(fx.db, actor, { arrayId: fx.arrayIds['ARR-01'], name: `src-${name}`, sizeBytes: VOLUME_BYTES });
    await mapLun(fx.db, actor, { lunId: lun.id, hostId: host2Id });
    await createVolume(fx.db, actor, { hostId: host2Id, lunId: lun.id, diskGroup: 'dg', name, sizeBytes: VOLUME_BYTES });
    const [volume] = await fx.db.select().from(volumes).where(and(eq(volumes.hostId, host2Id), eq(volumes.name, name)));
    await host2Fetch('PUT', `/v1/workloads/dg/${name}`, { writeRateBytesPerS: MiB, rangeBytes: MiB / 2 });
    volumeIds.set(name, volume!.id);
    sourceLunIds.set(name, lun.id);
  }
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

/** Engine ticks until `probe` holds. */
function tickUntil<T>(what: string, probe: () => Promise<T | undefined | false | null>, timeoutMs = 60_000): Promise<T> {
  return waitFor(
    what,
    async () => {
      await reconcileOnce(fx.db);
      const value = await probe();
      if (!value) await sleep(150);
      return value;
    },
    timeoutMs,
  );
}

const evacuation = async (id: string) => (await fx.db.select().from(evacuations).where(eq(evacuations.id, id)))[0]!;
const arrayState = async (name: 'ARR-01' | 'ARR-02') => (await fx.db.select({ state: arrays.state }).from(arrays).where(eq(arrays.id, fx.arrayIds[name])))[0]!.state;
const migrationsOf = (id: string) => fx.db.select().from(migrations).where(eq(migrations.evacuationId, id));
const samplesOf = (id: string) => fx.db.select().from(evacuationSamples).where(eq(evacuationSamples.evacuationId, id)).orderBy(asc(evacuationSamples.at), asc(evacuationSamples.id));

/** Every volume has one plex, active, on its own source LUN (the agents reported it back). */
async function onSourcesAlone() {
  await waitFor('every volume back on its source LUN alone', async () => {
    const rows = await fx.db.select().from(plexes).where(inArray(plexes.volumeId, [...volumeIds.values()]));
    return rows.length === names.length && names.every((name) => rows.some((p) => p.volumeId === volumeIds.get(name) && p.lunId === sourceLunIds.get(name) && p.state === 'active'));
  });
}

/** No target LUN left in the database or on ARR-02. */
async function targetsDeleted() {
  await tickUntil('every target LUN to be deleted', async () => (await fx.db.select().from(luns).where(like(luns.name, 'mig-%'))).length === 0);
  expect((await (await fx.driverOf('ARR-02')).listLuns()).filter((l) => l.name.startsWith('mig-'))).toEqual([]);
}

const createInput = (over: Record<string, unknown> = {}) => ({
  constraints: { sourceArrayIds: [fx.arrayIds['ARR-01']], targetArrayIds: [fx.arrayIds['ARR-02']], strategy: 'precopy' as const },
  window: null,
  outsideWindow: 'keep-copying' as const,
  cutover: 'auto' as const,
  commit: 'auto' as const,
  confirm: 'ARR-01',
  ...over,
});

describe('evacuations', () => {
  it('plans as a dry run, and refuses a blocked plan, a wrong confirmation and an operator exclusion, changing nothing', async () => {
    const plan = await fx.caller('viewer').evacuations.plan({ constraints: { sourceArrayIds: [fx.arrayIds['ARR-01']], targetArrayIds: [fx.arrayIds['ARR-02']] } });
    expect(plan.moves.map((m) => m.nbdExport).sort()).toEqual(names.map((n) => `dg/${n}`));
    expect(plan.blocked).toBe(false);

    const operator = fx.caller('operator');
    await expect(operator.evacuations.create(createInput({ constraints: { sourceArrayIds: [fx.arrayIds['ARR-01']], targetArrayIds: [fx.arrayIds['ARR-03']] } }))).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/the plan is blocked: 4 plexes cannot move/),
    });
    await expect(operator.evacuations.create(createInput({ confirm: 'ARR-1' }))).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('type "ARR-01" to confirm') });
    await expect(
      operator.evacuations.create(createInput({ constraints: { sourceArrayIds: [fx.arrayIds['ARR-01']], excludedVolumeIds: [volumeIds.get('ev-a1')!] } })),
    ).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining("an admin's choice; you are operator") });
    await expect(fx.caller('viewer').evacuations.create(createInput())).rejects.toMatchObject({ code: 'FORBIDDEN' });

    expect(await fx.db.select().from(evacuations)).toEqual([]);
    expect(await fx.db.select().from(migrations)).toEqual([]);
    expect(await arrayState('ARR-01')).toBe('online');
  });

  it('cancel rolls back what switched, stops the rest, deletes the targets and puts the array back online', async () => {
    const { id } = await fx.caller('operator').evacuations.create(createInput({ cutover: 'manual', commit: 'manual' }));
    expect(await arrayState('ARR-01')).toBe('evacuating');
    const created = await migrationsOf(id);
    expect(created).toHaveLength(4);
    expect(created.every((m) => m.state === 'queued' && m.cutoverPolicy.mode === 'manual' && m.cutoverPolicy.commit === 'manual')).toBe(true);
    expect(new Set(created.map((m) => m.priority)).size, 'each move has its own priority, from the plan order').toBe(4);
    await expect(fx.caller('operator').evacuations.create(createInput())).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('already being evacuated') });

    const first = created.find((m) => m.volumeId === volumeIds.get('ev-a1'))!;
    await tickUntil('ev-a1 ready', async () => (await fx.migrationRow(first.id)).state === 'ready');
    await migrationAction(fx.db, actor, first.id, 'cutover');
    await tickUntil('ev-a1 verified', async () => (await fx.migrationRow(first.id)).state === 'verified');

    const cancelled = await fx.caller('operator').evacuations.cancel({ id });
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.outcome.acted.rollback).toBe(1);
    expect(cancelled.outcome.acted.cancel).toBe(3);
    expect(cancelled.outcome.failed).toEqual([]);
    await expect(fx.caller('operator').evacuations.pause({ id })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/cannot pause an evacuation that is cancelled\. Valid now: nothing/) });

    const ended = await tickUntil('the evacuation to end', async () => {
      const row = await evacuation(id);
      return row.endedAt ? row : undefined;
    });
    expect(ended.state).toBe('cancelled');
    expect((await migrationsOf(id)).map((m) => m.state).sort()).toEqual(['cancelled', 'cancelled', 'cancelled', 'rolled-back']);
    await targetsDeleted();
    expect(await fx.db.select().from(luns).where(inArray(luns.id, [...sourceLunIds.values()]))).toHaveLength(4);
    await onSourcesAlone();
    expect(await arrayState('ARR-01')).toBe('online');
    const [online] = await fx.db.select().from(events).where(and(eq(events.kind, 'array.state-changed'), eq(events.objectId, fx.arrayIds['ARR-01']))).orderBy(asc(events.id)).then((rows) => rows.slice(-1));
    expect(online?.message).toMatch(/back online after the evacuation ended cancelled: 4 plexes/);
  });

  it('roll back all returns switched volumes to their sources: left to copy rises again, left on source never fell', async () => {
    const { id } = await fx.caller('operator').evacuations.create(createInput({ commit: 'manual' }));
    const total = 4 * VOLUME_BYTES;
    await tickUntil('every volume verified, and a sample with nothing left to copy', async () => {
      const states = (await migrationsOf(id)).map((m) => m.state);
      return states.every((s) => s === 'verified') && (await samplesOf(id)).some((s) => s.leftToCopyBytes === 0);
    });
    const running = (await evacuation(id)).rollup as unknown as EvacuationRollup;
    expect(running).toMatchObject({ volumes: 4, totalBytes: total, leftOnSourceBytes: total, leftToCopyBytes: 0, committedBytes: 0 });
    expect(running.byState.verified).toBe(4);
    const detail = await fx.caller('viewer').evacuations.get({ id });
    expect(detail.safeToDecommission.safe).toBe(false);
    expect(detail.safeToDecommission.checks.find((c) => c.name === 'volumes committed')).toMatchObject({ ok: false, detail: '0 of 4 volumes committed on their targets' });

    const rolledBack = await fx.caller('operator').evacuations.rollbackAll({ id });
    expect(rolledBack.outcome.acted.rollback).toBe(4);
    await tickUntil('the evacuation to end', async () => (await evacuation(id)).endedAt);
    expect((await evacuation(id)).state).toBe('cancelled');

    const samples = await samplesOf(id);
    const lowest = samples.findIndex((s) => s.leftToCopyBytes === 0);
    expect(samples[0]!.leftToCopyBytes).toBe(total);
    expect(samples.at(-1)!.leftToCopyBytes, 'rolled-back volumes are left to copy again').toBe(total);
    expect(samples.slice(lowest).some((s) => s.leftToCopyBytes > 0)).toBe(true);
    expect(samples.every((s) => s.leftOnSourceBytes === total), 'nothing was committed, so nothing left the source').toBe(true);
    const [why] = await fx.db.select().from(events).where(and(eq(events.objectId, id), eq(events.kind, 'evacuation.rollback-all')));
    expect(why?.message).toMatch(/roll back all by tester: 4 switched, uncommitted volumes go back to their source, so their bytes are left to copy again/);
    await targetsDeleted();
    await onSourcesAlone();
    expect(await arrayState('ARR-01')).toBe('online');
  });

  it('evacuates the array under writes, paused and resumed on the way: evacuated, safe to decommission, nothing lost', async () => {
    const { id } = await fx.caller('operator').evacuations.create(createInput());
    const paused = await fx.caller('operator').evacuations.pause({ id });
    expect(paused.state).toBe('paused');
    for (let tick = 0; tick < 3; tick++) await reconcileOnce(fx.db);
    const held = await migrationsOf(id);
    expect(held.filter((m) => !['paused', 'cutting-over', 'verifying', 'verified', 'committing', 'completed'].includes(m.state)), 'nothing copies while paused').toEqual([]);
    // A subscriber resuming after the pause event: it gets the resume replayed, then live rollups to the end.
    const [pausedEvent] = await fx.db.select().from(events).where(and(eq(events.objectId, id), eq(events.kind, 'evacuation.paused')));
    const resumed = await fx.caller('operator').evacuations.resume({ id });
    expect(resumed.state).toBe('running');
    const progress = await fx.caller('viewer').evacuations.onProgress({ id, lastEventId: String(pausedEvent!.id) });
    const seen: { position: string; state: string; leftOnSourceBytes: number }[] = [];
    const followed = (async () => {
      for await (const item of progress as AsyncIterable<unknown>) {
        // tracked() yields [id, data, symbol] to a server-side caller.
        const [position, data] = item as [string, { state: string; rollup: EvacuationRollup }];
        seen.push({ position, state: data.state, leftOnSourceBytes: data.rollup.leftOnSourceBytes });
        if (data.state === 'completed') break;
      }
    })();

    await tickUntil('the evacuation to complete', async () => (await evacuation(id)).endedAt, 90_000);
    const done = await evacuation(id);
    expect(done.state).toBe('completed');
    await followed;
    expect(seen[0]?.state, 'the resume event is replayed first').toBe('running');
    expect(seen.at(-1)).toMatchObject({ state: 'completed', leftOnSourceBytes: 0 });
    const positions = seen.slice(1).map((s) => Number(s.position.split('.')[0]));
    expect(positions.every((p, i) => p > pausedEvent!.id && (i === 0 || p >= positions[i - 1]!)), 'positions move forward from the resumed one').toBe(true);
    expect(await arrayState('ARR-01')).toBe('evacuated');
    const rollup = done.rollup as unknown as EvacuationRollup;
    expect(rollup).toMatchObject({ volumes: 4, excluded: 0, totalBytes: 4 * VOLUME_BYTES, leftOnSourceBytes: 0, leftToCopyBytes: 0, committedBytes: 4 * VOLUME_BYTES });
    expect(rollup.byState.completed).toBe(4);

    const samples = await samplesOf(id);
    expect(samples.at(-1)!.leftOnSourceBytes).toBe(0);
    for (let i = 1; i < samples.length; i++) expect(samples[i]!.leftOnSourceBytes, 'left on source never rises').toBeLessThanOrEqual(samples[i - 1]!.leftOnSourceBytes);
    for (const s of samples) expect(s.leftToCopyBytes).toBeLessThanOrEqual(s.leftOnSourceBytes);

    await waitFor('every volume on ARR-02 alone', async () => {
      const rows = await fx.db.select({ volumeId: plexes.volumeId, arrayId: luns.arrayId }).from(plexes).innerJoin(luns, eq(luns.id, plexes.lunId)).where(inArray(plexes.volumeId, [...volumeIds.values()]));
      return rows.length === 4 && rows.every((r) => r.arrayId === fx.arrayIds['ARR-02']);
    });
    const detail = await fx.caller('viewer').evacuations.get({ id });
    expect(detail.safeToDecommission.checks.map((c) => [c.name, c.ok])).toEqual([
      ['volumes committed', true],
      ['volumes verified', true],
      ['source LUNs released and deleted', true],
      ['no host maps a source LUN', true],
      ['no plex on the source', true],
    ]);
    expect(detail.safeToDecommission.safe).toBe(true);
    expect(detail.migrations).toHaveLength(4);
    expect(detail.burndown.at(-1)?.leftOnSourceBytes).toBe(0);
    const report = await fx.caller('viewer').evacuations.report({ id });
    expect(report.volumes).toHaveLength(4);
    expect(report.volumes.every((v) => v.targetArray === 'ARR-02' && v.committedAt !== null && /^full checksum: \d+ regions match/.test(v.verification))).toBe(true);
    expect((await fx.caller('viewer').evacuations.list()).find((row) => row.id === id)?.state).toBe('completed');

    for (const name of names.slice(0, 2)) {
      const verified = await fx.stopAndVerify(name);
      expect(verified.verify?.checked, name).toBeGreaterThan(0);
      expect(verified.verify?.lost, name).toBe(0);
    }
    for (const name of names.slice(2)) {
      await host2Fetch('DELETE', `/v1/workloads/dg/${name}`);
      const verified = await host2Fetch<WorkloadReport>('POST', `/v1/workloads/dg/${name}/verify`);
      expect(verified.verify?.checked, name).toBeGreaterThan(0);
      expect(verified.verify?.lost, name).toBe(0);
    }
  });
});
