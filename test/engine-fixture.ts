/**
 * A small real fleet for engine tests: a fresh database, the console's agent routes on
 * node:http, directory arrays ARR-01 and ARR-02 (256 MiB) and ARR-03 (8 MiB) in a temp folder,
 * and one real agent process enrolled as `engine-host`. Volumes are 16 MiB on ARR-01 and run a
 * verifiable workload while they move.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, eq } from 'drizzle-orm';
import { expect } from 'vitest';
import { openDatabase, type Db, type OpenDatabase } from '@/db/open';
import { arrays, hosts, migrations, volumes } from '@/db/schema';
import { openDriver } from '@/server/arrays';
import { createCaller } from '@/server/api/root';
import type { Role } from '@/server/auth/sessions';
import { createMigration, type CreateMigrationInput } from '@/server/engine/create';
import { reconcileOnce } from '@/server/engine/reconciler';
import type { Actor } from '@/server/events/log';
import { agentRouteTable } from '@/server/fleet/agent-routes';
import { createArray, createLun, mapLun } from '@/server/fleet/arrays';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { createEnrolmentToken } from '@/server/fleet/hosts';
import { createVolume } from '@/server/fleet/volumes';
import type { MigrationStatus } from '@/server/protocol/agent-api';
import { killAllAgents, spawnAgent, type AgentProcess } from './agent-process';
import { startConsoleServer, type ConsoleServer } from './console-server';
import { freshDatabase } from './db';
import { waitFor } from './wait-for';

export const MiB = 1024 * 1024;
export const VOLUME_BYTES = 16 * MiB;
export const actor: Actor = { kind: 'user', id: 'u-test', name: 'tester' };

export interface WorkloadReport {
  verify: { lost: number; checked: number } | null;
  writes: number;
}

export interface EngineFixture {
  db: Db;
  /** Where the database is: a folder, `memory`, or a PostgreSQL URL that other processes can open (no password under trust auth). */
  databaseLocation: string;
  root: string;
  /** Where agents reach the console's routes. */
  consoleUrl: string;
  hostId: string;
  agent: AgentProcess;
  arrayIds: Record<'ARR-01' | 'ARR-02' | 'ARR-03', string>;
  /** The agent's current URL (it changes when the agent restarts on a new port). */
  agentUrl(): Promise<string>;
  caller(role: Role): ReturnType<typeof createCaller>;
  migrationRow(id: string): Promise<typeof migrations.$inferSelect>;
  driverOf(arrayName: string): Promise<ReturnType<typeof openDriver>>;
  /** Runs reconciler ticks until the migration reaches one of `states`; fails if it ends elsewhere. */
  reconcileUntil(id: string, states: string[], timeoutMs?: number): Promise<typeof migrations.$inferSelect>;
  /** Calls the agent's HTTP API as the console; expects 200. */
  agentFetch<T = WorkloadReport>(method: string, pathname: string, body?: unknown): Promise<T>;
  jobStatus(id: string): Promise<MigrationStatus>;
  /** A 16 MiB volume on ARR-01 with a 1 MiB/s verifiable workload on the agent (unless `workload` is false); `hotBytes` bounds where it writes. */
  volumeOnArray1(name: string, hotBytes?: number | null, workload?: boolean): Promise<{ volume: typeof volumes.$inferSelect; sourceLunId: string }>;
  /** Stops the workload and verifies every acknowledged write. */
  stopAndVerify(name: string): Promise<WorkloadReport>;
  migrationInput(volumeId: string, over?: Partial<CreateMigrationInput>): CreateMigrationInput;
  create(volumeId: string, over?: Partial<CreateMigrationInput>): ReturnType<typeof createMigration>;
  /**
   * Stops serving the agent routes and closes the database, leaving the agent running, so a
   * console process can open the same folder (PGlite allows one process per folder) on `port`.
   */
  releaseConsole(): Promise<{ port: number }>;
  close(): Promise<void>;
}

/** `persistent`: the database lives in a PGlite folder under `root`/db, so another process can take it over (see `releaseConsole`). */
export async function startEngineFixture(options: { persistent?: boolean } = {}): Promise<EngineFixture> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tern-engine-test-'));
  const opened: OpenDatabase = options.persistent ? await openDatabase({ dataDir: path.join(root, 'db') }) : await freshDatabase();
  const db = opened.db;
  const consoleServer: ConsoleServer = await startConsoleServer(agentRouteTable(db));
  const arrayIds = {} as EngineFixture['arrayIds'];
  for (const [name, capacityBytes] of [['ARR-01', 256 * MiB], ['ARR-02', 256 * MiB], ['ARR-03', 8 * MiB]] as const) {
    const array = await createArray(db, actor, { name, vendor: 'Tern', model: 'directory', tier: 1, capacityBytes, driver: { kind: 'directory', path: path.join(root, name) } });
    arrayIds[name] = array.id;
  }
  const { token } = await createEnrolmentToken(db, { label: 'engine-host', createdBy: 'test' });
  const agent = spawnAgent({ consoleUrl: consoleServer.url, dataDir: path.join(root, 'agent'), token, hostname: 'engine-host' });
  const started = await agent.waitForLog((line) => line.msg === 'started');
  const hostId = started.hostId as string;
  await waitFor('the host to connect', async () => (await db.select().from(hosts).where(eq(hosts.id, hostId)))[0]?.state === 'connected');

  const agentUrl = async () => (await db.select({ url: hosts.agentUrl }).from(hosts).where(eq(hosts.id, hostId)))[0]!.url!;
  const migrationRow = async (id: string) => (await db.select().from(migrations).where(eq(migrations.id, id)))[0]!;

  async function agentFetch<T>(method: string, pathname: string, body?: unknown): Promise<T> {
    const response = await fetch(new URL(pathname, await agentUrl()), {
      method,
      headers: { authorization: `Bearer ${await consoleKeyFor(db, hostId)}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.status, `${method} ${pathname}`).toBe(200);
    return (await response.json()) as T;
  }

  const migrationInput = (volumeId: string, over: Partial<CreateMigrationInput> = {}): CreateMigrationInput => ({
    volumeId,
    targetArrayId: arrayIds['ARR-02'],
    strategy: 'precopy',
    throttleBytesPerS: 4 * MiB,
    cutoverPolicy: { mode: 'auto', commit: 'auto' },
    ...over,
  });

  let released = false;
  return {
    db,
    databaseLocation: opened.location,
    root,
    consoleUrl: consoleServer.url,
    hostId,
    agent,
    arrayIds,
    agentUrl,
    caller: (role) => createCaller({ db, user: { id: 'u-test', username: 'tester', role }, sessionToken: undefined, secure: false }),
    migrationRow,
    driverOf: async (name) => openDriver((await db.select().from(arrays).where(eq(arrays.name, name)))[0]!),
    reconcileUntil: (id, states, timeoutMs = 40_000) =>
      waitFor(
        `migration ${id} to reach ${states.join(' or ')}`,
        async () => {
          await reconcileOnce(db);
          const row = await migrationRow(id);
          if (states.includes(row.state)) return row;
          if (['failed', 'cancelled', 'rolled-back', 'completed'].includes(row.state)) throw new Error(`migration ended ${row.state}: ${row.error ?? ''}`);
          await sleep(150);
          return undefined;
        },
        timeoutMs,
      ),
    agentFetch,
    jobStatus: (id) => agentFetch<MigrationStatus>('GET', `/v1/migrations/${id}`),
    async volumeOnArray1(name, hotBytes = null, workload = true) {
      const lun = await createLun(db, actor, { arrayId: arrayIds['ARR-01'], name: `src-${name}`, sizeBytes: VOLUME_BYTES });
      await mapLun(db, actor, { lunId: lun.id, hostId });
      await createVolume(db, actor, { hostId, lunId: lun.id, diskGroup: 'dg', name, sizeBytes: VOLUME_BYTES });
      const [volume] = await db.select().from(volumes).where(and(eq(volumes.hostId, hostId), eq(volumes.name, name)));
      if (workload) await agentFetch('PUT', `/v1/workloads/dg/${name}`, { writeRateBytesPerS: MiB, rangeBytes: hotBytes });
      return { volume: volume!, sourceLunId: lun.id };
    },
    async stopAndVerify(name) {
      await agentFetch('DELETE', `/v1/workloads/dg/${name}`);
      return agentFetch<WorkloadReport>('POST', `/v1/workloads/dg/${name}/verify`);
    },
    migrationInput,
    create: (volumeId, over) => createMigration(db, actor, migrationInput(volumeId, over)),
    async releaseConsole() {
      released = true;
      await consoleServer.close();
      await opened.close();
      return { port: Number(new URL(consoleServer.url).port) };
    },
    async close() {
      await killAllAgents();
      if (!released) {
        await consoleServer.close();
        await opened.close();
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}
