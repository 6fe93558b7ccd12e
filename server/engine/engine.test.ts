/**
 * The engine end to end with real parts: a real database, the console's agent routes on
 * node:http, two directory arrays in a temp folder, and one real agent process whose volumes
 * run a verifiable workload while they move.
 */
import { and, asc, count, desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, luns, migrationSamples, migrations, plexes } from '@/db/schema';
import { actor, MiB, startEngineFixture, type EngineFixture } from '@/test/engine-fixture';
import { waitFor } from '@/test/wait-for';
import { migrationAction } from './actions';
import { createMigration } from './create';
import { reconcileOnce } from './reconciler';
import { targetLunName } from './steps';

let fx: EngineFixture;

beforeAll(async () => {
  fx = await startEngineFixture();
}, 30_000);

afterAll(async () => {
  await fx?.close();
});

describe('migration engine', () => {
  it('refuses a migration to the same array, to one without room or with a bad window, and changes nothing', async () => {
    const { volume } = await fx.volumeOnArray1('vol-refused');
    await expect(createMigration(fx.db, actor, fx.migrationInput(volume.id, { targetArrayId: fx.arrayIds['ARR-01']! }))).rejects.toThrow(/dg\/vol-refused is already on array ARR-01; choose another target array/);
    await expect(createMigration(fx.db, actor, fx.migrationInput(volume.id, { targetArrayId: fx.arrayIds['ARR-03']! }))).rejects.toThrow(/target array ARR-03 has 8 MiB free, 16 MiB needed/);
    await expect(createMigration(fx.db, actor, fx.migrationInput(volume.id, { cutoverPolicy: { mode: 'window', commit: 'auto', window: { start: '22:00', end: '22:00', timeZone: 'Europe/Nowhere' } } }))).rejects.toThrow(
      'cutover policy: window time zone "Europe/Nowhere" is not an IANA time zone; use e.g. UTC or Europe/Paris; window start and end are the same time; a window must have a length',
    );
    expect((await fx.db.select({ n: count() }).from(migrations))[0]?.n).toBe(0);
    expect((await fx.db.select({ n: count() }).from(events).where(eq(events.objectKind, 'migration')))[0]?.n).toBe(0);
  });

  it('refuses an action the state does not allow with the state and what is valid, then cancels', async () => {
    const { volume } = await fx.volumeOnArray1('vol-manual');
    const created = await createMigration(fx.db, actor, fx.migrationInput(volume.id, { throttleBytesPerS: MiB, cutoverPolicy: { mode: 'manual', commit: 'manual' } }));
    await expect(createMigration(fx.db, actor, fx.migrationInput(volume.id))).rejects.toThrow(/already migrating/);
    const copying = await fx.reconcileUntil(created.id, ['copying']);
    await expect(migrationAction(fx.db, actor, created.id, 'commit')).rejects.toThrow(
      /cannot commit a migration that is copying; commit releases the source, so it waits for a verified cutover\. Valid now: pause, cancel, setThrottle, cutover, rollback/,
    );
    await expect(fx.caller('operator').migrations.commit({ id: created.id })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/cannot commit a migration that is copying/) });
    await expect(fx.caller('viewer').migrations.cancel({ id: created.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await fx.migrationRow(created.id)).toEqual(copying);
    const cancelled = await migrationAction(fx.db, actor, created.id, 'cancel');
    expect(cancelled.state).toBe('cancelled');
    const [event] = await fx.db.select().from(events).where(and(eq(events.objectId, created.id), eq(events.kind, 'migration.cancelled')));
    expect(event).toMatchObject({ actorName: 'tester', actorKind: 'user' });
    const targetLunId = copying.targetLunId!;
    await waitFor('the target LUN to be deleted', async () => {
      await reconcileOnce(fx.db);
      return (await fx.db.select().from(luns).where(eq(luns.id, targetLunId))).length === 0;
    });
    await expect((await fx.driverOf('ARR-02')).listLuns()).resolves.not.toContainEqual(expect.objectContaining({ name: targetLunName(created.id) }));
    const [deleted] = await fx.db.select().from(events).where(and(eq(events.objectId, targetLunId), eq(events.kind, 'lun.deleted')));
    expect(deleted?.message).toMatch(/the migration of dg\/vol-manual was cancelled/);
    expect(await fx.db.select().from(luns).where(eq(luns.id, copying.sourceLunId!))).toHaveLength(1);
    expect((await fx.stopAndVerify('vol-manual')).verify?.lost).toBe(0);
  });

  it.each(['precopy', 'mirror'] as const)('moves a volume with %s while it is written, releases the source and loses nothing', async (strategy) => {
    const { volume, sourceLunId } = await fx.volumeOnArray1(`vol-${strategy}`, strategy === 'precopy' ? MiB / 2 : null);
    const created = await createMigration(fx.db, actor, fx.migrationInput(volume.id, { strategy, throttleBytesPerS: 8 * MiB }));
    expect(created.state).toBe('queued');
    const done = await fx.reconcileUntil(created.id, ['completed']);
    expect(done.completedAt).toBeInstanceOf(Date);
    expect(done.bytesCopied).toBeGreaterThanOrEqual(16 * MiB);
    expect(done.agentStatus?.strategy, 'the pre-copy converged without falling back to mirror').toBe(strategy);

    const [target] = await fx.db.select().from(luns).where(eq(luns.id, done.targetLunId!));
    expect(target).toMatchObject({ arrayId: fx.arrayIds['ARR-02'], name: targetLunName(created.id) });
    expect((await (await fx.driverOf('ARR-02')).listLuns()).map((l) => l.name)).toContain(targetLunName(created.id));
    expect((await (await fx.driverOf('ARR-01')).listLuns()).map((l) => l.name)).not.toContain(`src-vol-${strategy}`);
    expect(await fx.db.select().from(luns).where(eq(luns.id, sourceLunId))).toHaveLength(0);
    await waitFor('the plex on the target LUN', async () => {
      const rows = await fx.db.select().from(plexes).where(eq(plexes.volumeId, volume.id));
      return rows.length === 1 && rows[0]?.lunId === target?.id;
    });

    const kinds = (await fx.db.select({ kind: events.kind }).from(events).where(eq(events.objectId, created.id)).orderBy(asc(events.id))).map((e) => e.kind);
    const running = strategy === 'mirror' ? 'migration.syncing' : 'migration.copying';
    const expected = ['migration.created', 'migration.preparing', running, 'migration.verified', 'migration.committing', 'migration.completed'];
    expect(kinds.filter((kind) => expected.includes(kind))).toEqual(expected);
    const passNotes = await fx.db.select({ message: events.message }).from(events).where(and(eq(events.objectId, created.id), eq(events.kind, 'migration.pass-finished')));
    expect(passNotes.map((e) => e.message), 'each finished pass is explained').toContainEqual(expect.stringMatching(/pass 0 \(the whole volume\) done: copied 256 regions \(16 MiB\)/));
    expect((await fx.db.select({ n: count() }).from(migrationSamples).where(eq(migrationSamples.migrationId, created.id)))[0]?.n).toBeGreaterThan(0);

    const viewer = fx.caller('viewer');
    expect((await viewer.migrations.list()).find((m) => m.id === created.id)).toMatchObject({
      state: 'completed',
      hostname: 'engine-host',
      nbdExport: `dg/vol-${strategy}`,
      sourceArrayName: 'ARR-01',
      targetArrayName: 'ARR-02',
      allowedActions: [],
    });
    const detail = await viewer.migrations.get({ id: created.id });
    expect(detail.passes.length).toBeGreaterThan(0);
    expect(detail.verify?.ok).toBe(true);
    const samples = await viewer.migrations.samples({ id: created.id });
    expect(samples.length).toBeGreaterThan(0);
    expect(await viewer.migrations.samples({ id: created.id, sinceId: samples.at(-1)!.id })).toEqual([]);

    // The workload is stopped and verified the way an operator does it, through the console.
    const workload = { hostId: fx.hostId, volume: `dg/vol-${strategy}` };
    await expect(viewer.hosts.stopAndVerifyWorkload(workload)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const verified = await fx.caller('operator').hosts.stopAndVerifyWorkload(workload);
    expect(verified.verify?.checked).toBeGreaterThan(0);
    expect(verified.verify?.lost).toBe(0);
    const [audit] = await fx.db.select().from(events).where(and(eq(events.kind, 'workload.verified'), eq(events.objectId, fx.hostId))).orderBy(desc(events.id)).limit(1);
    expect(audit).toMatchObject({ severity: 'info', actorName: 'tester', message: expect.stringContaining(`dg/vol-${strategy}: workload stopped after`) });
  });
});
