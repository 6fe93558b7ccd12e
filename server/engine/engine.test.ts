/**
 * The engine end to end with real parts: a real database, the console's agent routes on
 * node:http, two directory arrays in a temp folder, and one real agent process whose volumes
 * run a verifiable workload while they move.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, asc, count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, OpenDatabase } from '@/db/open';
import { arrays, events, hosts, luns, migrationSamples, migrations, plexes, volumes } from '@/db/schema';
import { openDriver } from '@/server/arrays';
import type { Actor } from '@/server/events/log';
import { createCaller } from '@/server/api/root';
import type { Role } from '@/server/auth/sessions';
import { agentRoutes } from '@/server/fleet/agent-routes';
import { createArray, createLun, mapLun } from '@/server/fleet/arrays';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { createEnrolmentToken } from '@/server/fleet/hosts';
import { createVolume } from '@/server/fleet/volumes';
import { killAllAgents, spawnAgent } from '@/test/agent-process';
import { startConsoleServer, type ConsoleServer } from '@/test/console-server';
import { freshDatabase } from '@/test/db';
import { waitFor } from '@/test/wait-for';
import { migrationAction } from './actions';
import { createMigration, type CreateMigrationInput } from './create';
import { reconcileOnce } from './reconciler';
import { targetLunName } from './steps';

const MiB = 1024 * 1024;
const actor: Actor = { kind: 'user', id: 'u-test', name: 'tester' };
let opened: OpenDatabase;
let db: Db;
let consoleServer: ConsoleServer;
let root: string;
let hostId: string;
let agentUrl: string;
const arrayIds: Record<string, string> = {};


const caller = (role: Role) => createCaller({ db, user: { id: 'u-test', username: 'tester', role }, sessionToken: undefined, secure: false });
const driverOf = async (name: string) => openDriver((await db.select().from(arrays).where(eq(arrays.name, name)))[0]!);
const migrationRow = async (id: string) => (await db.select().from(migrations).where(eq(migrations.id, id)))[0]!;

/** Runs reconciler ticks until the migration reaches one of `states`. */
async function reconcileUntil(id: string, states: string[], timeoutMs = 40_000) {
  return waitFor(`migration ${id} to reach ${states.join(' or ')}`, async () => {
    await reconcileOnce(db);
    const row = await migrationRow(id);
    if (states.includes(row.state)) return row;
    if (['failed', 'cancelled', 'rolled-back', 'completed'].includes(row.state)) throw new Error(`migration ended ${row.state}: ${row.error ?? ''}`);
    await sleep(150);
    return undefined;
  }, timeoutMs);
}

async function agentFetch(method: string, pathname: string, body?: unknown) {
  const response = await fetch(new URL(pathname, agentUrl), {
    method,
    headers: { authorization: `Bearer ${await consoleKeyFor(db, hostId)}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status, `${method} ${pathname}`).toBe(200);
  return (await response.json()) as { verify: { lost: number; checked: number } | null; writes: number };
}

/** `hotBytes` bounds the part of the volume the workload writes (a pre-copy converges on a small hot set). */
async function volumeOnArray1(name: string, hotBytes: number | null = null) {
  const lun = await createLun(db, actor, { arrayId: arrayIds['ARR-01']!, name: `src-${name}`, sizeBytes: 16 * MiB });
  await mapLun(db, actor, { lunId: lun.id, hostId });
  await createVolume(db, actor, { hostId, lunId: lun.id, diskGroup: 'dg', name, sizeBytes: 16 * MiB });
  const [volume] = await db.select().from(volumes).where(and(eq(volumes.hostId, hostId), eq(volumes.name, name)));
  await agentFetch('PUT', `/v1/workloads/dg/${name}`, { writeRateBytesPerS: MiB, rangeBytes: hotBytes });
  return { volume: volume!, sourceLun: lun };
}

const migrationInput = (volumeId: string, over: Partial<CreateMigrationInput> = {}): CreateMigrationInput => ({
  volumeId,
  targetArrayId: arrayIds['ARR-02']!,
  strategy: 'precopy',
  throttleBytesPerS: 4 * MiB,
  cutoverPolicy: { mode: 'auto', commit: 'auto' },
  ...over,
});

beforeAll(async () => {
  opened = await freshDatabase();
  db = opened.db;
  const routes = agentRoutes(db);
  consoleServer = await startConsoleServer({ 'POST /api/agent/v1/enrol': routes.handleEnrol, 'POST /api/agent/v1/heartbeat': routes.handleHeartbeat });
  root = await mkdtemp(path.join(os.tmpdir(), 'tern-engine-test-'));
  for (const [name, capacityBytes] of [['ARR-01', 256 * MiB], ['ARR-02', 256 * MiB], ['ARR-03', 8 * MiB]] as const) {
    const array = await createArray(db, actor, { name, vendor: 'Tern', model: 'directory', tier: 1, capacityBytes, driver: { kind: 'directory', path: path.join(root, name) } });
    arrayIds[name] = array.id;
  }
  const { token } = await createEnrolmentToken(db, { label: 'engine-host', createdBy: 'test' });
  const agent = spawnAgent({ consoleUrl: consoleServer.url, dataDir: path.join(root, 'agent'), token, hostname: 'engine-host' });
  const started = await agent.waitForLog((line) => line.msg === 'started');
  hostId = started.hostId as string;
  agentUrl = started.agentUrl as string;
  await waitFor('the host to connect', async () => (await db.select().from(hosts).where(eq(hosts.id, hostId)))[0]?.state === 'connected');
}, 30_000);

afterAll(async () => {
  await killAllAgents();
  await consoleServer?.close();
  await opened?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('migration engine', () => {
  it('refuses a migration to the same array or to one without room, and changes nothing', async () => {
    const { volume } = await volumeOnArray1('vol-refused');
    await expect(createMigration(db, actor, migrationInput(volume.id, { targetArrayId: arrayIds['ARR-01']! }))).rejects.toThrow(/dg\/vol-refused is already on array ARR-01; choose another target array/);
    await expect(createMigration(db, actor, migrationInput(volume.id, { targetArrayId: arrayIds['ARR-03']! }))).rejects.toThrow(/target array ARR-03 has 8 MiB free, 16 MiB needed/);
    expect((await db.select({ n: count() }).from(migrations))[0]?.n).toBe(0);
    expect((await db.select({ n: count() }).from(events).where(eq(events.objectKind, 'migration')))[0]?.n).toBe(0);
  });

  it('refuses an action the state does not allow with the state and what is valid, then cancels', async () => {
    const { volume } = await volumeOnArray1('vol-manual');
    const created = await createMigration(db, actor, migrationInput(volume.id, { throttleBytesPerS: MiB, cutoverPolicy: { mode: 'manual', commit: 'manual' } }));
    await expect(createMigration(db, actor, migrationInput(volume.id))).rejects.toThrow(/already migrating/);
    const copying = await reconcileUntil(created.id, ['copying']);
    await expect(migrationAction(db, actor, created.id, 'commit')).rejects.toThrow(
      /cannot commit a migration that is copying; commit releases the source, so it waits for a verified cutover\. Valid now: pause, cancel, setThrottle, cutover, rollback/,
    );
    await expect(caller('operator').migrations.commit({ id: created.id })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/cannot commit a migration that is copying/) });
    await expect(caller('viewer').migrations.cancel({ id: created.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await migrationRow(created.id)).toEqual(copying);
    const cancelled = await migrationAction(db, actor, created.id, 'cancel');
    expect(cancelled.state).toBe('cancelled');
    const [event] = await db.select().from(events).where(and(eq(events.objectId, created.id), eq(events.kind, 'migration.cancelled')));
    expect(event).toMatchObject({ actorName: 'tester', actorKind: 'user' });
    const targetLunId = copying.targetLunId!;
    await waitFor('the target LUN to be deleted', async () => {
      await reconcileOnce(db);
      return (await db.select().from(luns).where(eq(luns.id, targetLunId))).length === 0;
    });
    await expect((await driverOf('ARR-02')).listLuns()).resolves.not.toContainEqual(expect.objectContaining({ name: targetLunName(created.id) }));
    const [deleted] = await db.select().from(events).where(and(eq(events.objectId, targetLunId), eq(events.kind, 'lun.deleted')));
    expect(deleted?.message).toMatch(/the migration of dg\/vol-manual was cancelled/);
    expect(await db.select().from(luns).where(eq(luns.id, copying.sourceLunId!))).toHaveLength(1);
    await agentFetch('DELETE', '/v1/workloads/dg/vol-manual');
    expect((await agentFetch('POST', '/v1/workloads/dg/vol-manual/verify')).verify?.lost).toBe(0);
  });

  it.each(['precopy', 'mirror'] as const)('moves a volume with %s while it is written, releases the source and loses nothing', async (strategy) => {
    const { volume, sourceLun } = await volumeOnArray1(`vol-${strategy}`, strategy === 'precopy' ? MiB / 2 : null);
    const created = await createMigration(db, actor, migrationInput(volume.id, { strategy, throttleBytesPerS: 8 * MiB }));
    expect(created.state).toBe('queued');
    const done = await reconcileUntil(created.id, ['completed']);
    expect(done.completedAt).toBeInstanceOf(Date);
    expect(done.bytesCopied).toBeGreaterThanOrEqual(16 * MiB);
    expect(done.agentStatus?.strategy, 'the pre-copy converged without falling back to mirror').toBe(strategy);

    const [target] = await db.select().from(luns).where(eq(luns.id, done.targetLunId!));
    expect(target).toMatchObject({ arrayId: arrayIds['ARR-02'], name: targetLunName(created.id) });
    expect((await (await driverOf('ARR-02')).listLuns()).map((l) => l.name)).toContain(targetLunName(created.id));
    expect((await (await driverOf('ARR-01')).listLuns()).map((l) => l.name)).not.toContain(sourceLun.name);
    expect(await db.select().from(luns).where(eq(luns.id, sourceLun.id))).toHaveLength(0);
    await waitFor('the plex on the target LUN', async () => {
      const rows = await db.select().from(plexes).where(eq(plexes.volumeId, volume.id));
      return rows.length === 1 && rows[0]?.lunId === target?.id;
    });

    const kinds = (await db.select({ kind: events.kind }).from(events).where(eq(events.objectId, created.id)).orderBy(asc(events.id))).map((e) => e.kind);
    const running = strategy === 'mirror' ? 'migration.syncing' : 'migration.copying';
    const expected = ['migration.created', 'migration.preparing', running, 'migration.verified', 'migration.committing', 'migration.completed'];
    expect(kinds.filter((kind) => expected.includes(kind))).toEqual(expected);
    expect((await db.select({ n: count() }).from(migrationSamples).where(eq(migrationSamples.migrationId, created.id)))[0]?.n).toBeGreaterThan(0);

    const viewer = caller('viewer');
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

    await agentFetch('DELETE', `/v1/workloads/dg/vol-${strategy}`);
    const verified = await agentFetch('POST', `/v1/workloads/dg/vol-${strategy}/verify`);
    expect(verified.verify?.checked).toBeGreaterThan(0);
    expect(verified.verify?.lost).toBe(0);
  });
});
