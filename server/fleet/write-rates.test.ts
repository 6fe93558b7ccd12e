/**
 * Write-rate reporting end to end: a real agent process measures the writes of its workload and
 * reports them with its heartbeats; the console stores them only when they move noticeably.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, OpenDatabase } from '@/db/open';
import { events, hosts, volumes } from '@/db/schema';
import type { Actor } from '@/server/events/log';
import type { HeartbeatRequest, Inventory } from '@/server/protocol/agent-api';
import { killAllAgents, spawnAgent } from '@/test/agent-process';
import { startConsoleServer, type ConsoleServer } from '@/test/console-server';
import { freshDatabase } from '@/test/db';
import { waitFor } from '@/test/wait-for';
import { agentRouteTable } from './agent-routes';
import { createArray, createLun, mapLun } from './arrays';
import { consoleKeyFor } from './console-secret';
import { createEnrolmentToken, enrolHost, recordHeartbeat } from './hosts';
import { createVolume } from './volumes';
import { changedNoticeably } from './write-rates';

const KiB = 1024;
const MiB = 1024 * KiB;
const actor: Actor = { kind: 'system', name: 'test' };
let opened: OpenDatabase;
let db: Db;
let consoleServer: ConsoleServer;
let root: string;

beforeAll(async () => {
  opened = await freshDatabase();
  db = opened.db;
  consoleServer = await startConsoleServer(agentRouteTable(db));
  root = await mkdtemp(path.join(os.tmpdir(), 'tern-write-rates-'));
});
afterAll(async () => {
  await killAllAgents();
  await consoleServer?.close();
  await opened?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('changedNoticeably', () => {
  it('ignores jitter, and always stores writes starting or stopping', () => {
    expect(changedNoticeably(null, 0)).toBe(true);
    expect(changedNoticeably(MiB, MiB + 50 * KiB)).toBe(false);
    expect(changedNoticeably(MiB, MiB + 200 * KiB)).toBe(true);
    expect(changedNoticeably(10 * KiB, 13 * KiB)).toBe(false);
    expect(changedNoticeably(2 * KiB, 0)).toBe(true);
    expect(changedNoticeably(0, 512)).toBe(true);
    expect(changedNoticeably(null, null)).toBe(false);
    expect(changedNoticeably(MiB, null)).toBe(true);
  });
});

describe('recordHeartbeat with write rates', () => {
  it('stores a rate that moved, leaves the row untouched when it did not, and never touches the inventory', async () => {
    const { token } = await createEnrolmentToken(db, { label: 'rates-1', createdBy: 'admin' });
    const host = await enrolHost(db, { token, hostname: 'rates-1', agentUrl: 'http://127.0.0.1:1', agentVersion: '0.1.0' });
    const header = `Bearer ${host.hostId}.${host.credential}`;
    const inventory: Inventory = {
      luns: [],
      diskGroups: [{ name: 'dg', volumes: [{ name: 'v1', sizeBytes: MiB, regionSizeBytes: 65536, nbdExport: 'dg/v1', plexes: [] }] }],
    };
    const beat = (rate: number, p95: number | null): HeartbeatRequest => ({
      agentUrl: 'http://127.0.0.1:1',
      agentVersion: '0.1.0',
      inventory,
      writeRates: [
        { nbdExport: 'dg/v1', writeRateBytesPerS: rate, writeRateP95BytesPerS: p95 },
        { nbdExport: 'dg/not-known', writeRateBytesPerS: 5, writeRateP95BytesPerS: 5 },
      ],
    });
    // xmin is the id of the transaction that last wrote the row: unchanged means not written.
    const row = async () =>
      (await db.select({ rate: volumes.writeRateBytesPerS, p95: volumes.writeRateP95BytesPerS, xmin: sql<string>`xmin::text` }).from(volumes).where(eq(volumes.hostId, host.hostId)))[0]!;

    await recordHeartbeat(db, header, beat(MiB, null));
    const first = await row();
    expect(first).toMatchObject({ rate: MiB, p95: null });

    await recordHeartbeat(db, header, beat(MiB + 20 * KiB, null));
    expect(await row()).toEqual(first);

    await recordHeartbeat(db, header, beat(3 * MiB, 2 * MiB));
    const moved = await row();
    expect(moved).toMatchObject({ rate: 3 * MiB, p95: 2 * MiB });
    expect(moved.xmin).not.toBe(first.xmin);

    const inventoryEvents = await db.select().from(events).where(and(eq(events.kind, 'host.inventory-changed'), eq(events.objectId, host.hostId)));
    expect(inventoryEvents).toHaveLength(1);
  });

  it('reports the write rate of a real workload, and reports zero once it stops', async () => {
    const array = await createArray(db, actor, { name: 'ARR-R', vendor: 'Tern', model: 'directory', tier: 1, capacityBytes: 64 * MiB, driver: { kind: 'directory', path: path.join(root, 'ARR-R') } });
    const { token } = await createEnrolmentToken(db, { label: 'rates-agent', createdBy: 'test' });
    const agent = spawnAgent({ consoleUrl: consoleServer.url, dataDir: path.join(root, 'agent'), token, hostname: 'rates-agent' });
    const started = await agent.waitForLog((line) => line.msg === 'started');
    const hostId = started.hostId as string;
    await waitFor('the host to connect', async () => (await db.select().from(hosts).where(eq(hosts.id, hostId)))[0]?.state === 'connected');
    const lun = await createLun(db, actor, { arrayId: array.id, name: 'l1', sizeBytes: 16 * MiB });
    await mapLun(db, actor, { lunId: lun.id, hostId });
    await createVolume(db, actor, { hostId, lunId: lun.id, diskGroup: 'dg', name: 'busy', sizeBytes: 16 * MiB });

    const workload = async (method: string, body?: unknown) => {
      const response = await fetch(new URL('/v1/workloads/dg/busy', started.agentUrl as string), {
        method,
        headers: { authorization: `Bearer ${await consoleKeyFor(db, hostId)}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      expect(response.status).toBe(200);
    };
    const stored = async () => (await db.select().from(volumes).where(and(eq(volumes.hostId, hostId), eq(volumes.name, 'busy'))))[0];

    await workload('PUT', { writeRateBytesPerS: MiB, blockSizeBytes: 64 * KiB });
    // The workload is capped at 1 MiB/s; a loaded machine may write slower, never much faster.
    const busy = await waitFor('a write rate near the workload\'s', async () => {
      const volume = await stored();
      return volume?.writeRateBytesPerS && volume.writeRateBytesPerS > 256 * KiB && volume.writeRateP95BytesPerS ? volume : undefined;
    }, 30_000);
    expect(busy.writeRateBytesPerS).toBeLessThanOrEqual(2 * MiB);
    expect(busy.writeRateP95BytesPerS).toBeGreaterThan(0);

    await workload('DELETE');
    await waitFor('the write rate to drop to zero', async () => (await stored())?.writeRateBytesPerS === 0, 30_000);
  }, 60_000);
});
