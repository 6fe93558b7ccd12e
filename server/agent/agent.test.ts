/**
 * The agent as a real process against the console's real routes (on node:http) and a real
 * database: enrolment, heartbeats, inventory sync, refusals, restarts, kill -9 and bad secrets.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, OpenDatabase } from '@/db/open';
import { arrays, events, hosts, luns, plexes, volumes } from '@/db/schema';
import { AgentCallError, agentClient, type AgentTarget } from '@/server/fleet/agent-client';
import { agentRouteTable } from '@/server/fleet/agent-routes';
import { consoleKeyFor } from '@/server/fleet/console-secret';
import { createEnrolmentToken, revokeEnrolmentToken, startLivenessMonitor } from '@/server/fleet/hosts';
import { killAllAgents, spawnAgent, type AgentProcess } from '@/test/agent-process';
import { startConsoleServer, type ConsoleServer } from '@/test/console-server';
import { freshDatabase } from '@/test/db';
import { waitFor } from '@/test/wait-for';

const MiB = 1024 * 1024;
let opened: OpenDatabase;
let db: Db;
let consoleServer: ConsoleServer;
let consoleRoutes: Record<string, (request: Request) => Promise<Response>>;
let root: string;
let arrayId: string;
const secrets: string[] = [];

beforeAll(async () => {
  opened = await freshDatabase();
  db = opened.db;
  consoleRoutes = agentRouteTable(db);
  consoleServer = await startConsoleServer(consoleRoutes);
  root = await mkdtemp(path.join(os.tmpdir(), 'tern-agent-test-'));
  await mkdir(path.join(root, 'luns'));
  const [array] = await db
    .insert(arrays)
    .values({ name: 'array-1', vendor: 'Tern', model: 'directory', tier: 1, driver: 'directory', driverConfig: { path: path.join(root, 'luns') }, capacityBytes: 1024 * MiB })
    .returning();
  arrayId = array!.id;
});

afterAll(async () => {
  await killAllAgents();
  await consoleServer?.close();
  await opened?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

async function token(label: string, ttlMs?: number) {
  const created = await createEnrolmentToken(db, { label, createdBy: 'test', ttlMs });
  secrets.push(created.token);
  return created;
}

function start(hostname: string, dataDir: string, enrolmentToken?: string): AgentProcess {
  return spawnAgent({ consoleUrl: consoleServer.url, dataDir: path.join(root, dataDir), token: enrolmentToken, hostname });
}

async function started(agent: AgentProcess) {
  const line = await agent.waitForLog((l) => l.msg === 'started');
  return { hostId: line.hostId as string, agentUrl: line.agentUrl as string };
}


async function target(hostId: string): Promise<AgentTarget> {
  const [host] = await db.select({ id: hosts.id, hostname: hosts.hostname, agentUrl: hosts.agentUrl }).from(hosts).where(eq(hosts.id, hostId));
  if (!host) throw new Error(`host ${hostId} not in the database`);
  return host;
}

/** A sparse LUN file and its row in `luns`, as a directory array would make them. */
async function makeLun(name: string, sizeBytes: number) {
  const file = path.join(root, 'luns', `${name}.lun`);
  const handle = await open(file, 'w');
  await handle.truncate(sizeBytes);
  await handle.close();
  const [lun] = await db.insert(luns).values({ arrayId, name, wwn: `wwn-${name}-${randomBytes(3).toString('hex')}`, sizeBytes, path: file }).returning();
  return lun!;
}

const mapRequest = (lun: Awaited<ReturnType<typeof makeLun>>) => ({ wwn: lun.wwn, arrayId, arrayName: 'array-1', path: lun.path, sizeBytes: lun.sizeBytes });

async function callError(promise: Promise<unknown>): Promise<AgentCallError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AgentCallError);
  return error as AgentCallError;
}

function expectNoSecrets(agent: AgentProcess, extra: string[] = []) {
  const output = agent.output();
  for (const secret of [...secrets, ...extra]) expect(output).not.toContain(secret);
}

describe('host agent process', () => {
  let agentA: AgentProcess;
  let hostA: { hostId: string; agentUrl: string };
  let firstToken: string;

  it('enrols with a valid token, stores its identity privately and heartbeats', async () => {
    const created = await token('agent-a');
    firstToken = created.token;
    agentA = start('host-a', 'a', firstToken);
    hostA = await started(agentA);
    const [host] = await db.select().from(hosts).where(eq(hosts.id, hostA.hostId));
    expect(host).toMatchObject({ hostname: 'host-a', state: 'connected', agentUrl: hostA.agentUrl, agentVersion: '0.1.0' });

    const identityFile = path.join(agentA.dataDir, 'identity.json');
    expect((await stat(identityFile)).mode & 0o777).toBe(0o600);
    const identity = JSON.parse(await readFile(identityFile, 'utf8')) as { hostId: string; credential: string; consoleKeySha256: string };
    expect(identity.hostId).toBe(hostA.hostId);
    const consoleKey = await consoleKeyFor(db, hostA.hostId);
    expect(JSON.stringify(identity)).not.toContain(consoleKey);
    secrets.push(identity.credential, consoleKey);
    expect((await readFile(path.join(agentA.dataDir, 'agent.pid'), 'utf8')).trim()).toBe(String(agentA.child.pid));

    const first = await waitFor('a first heartbeat', async () => (await target(hostA.hostId)) && (await db.select().from(hosts).where(eq(hosts.id, hostA.hostId)))[0]?.lastHeartbeatAt);
    const later = await waitFor('a later heartbeat', async () => {
      const at = (await db.select().from(hosts).where(eq(hosts.id, hostA.hostId)))[0]?.lastHeartbeatAt;
      return at && at > first ? at : undefined;
    });
    expect(later.getTime()).toBeGreaterThan(first.getTime());
    expectNoSecrets(agentA);
  });

  it('refuses a reused, unknown, expired or revoked token: the agent exits 3 and an event names the host', async () => {
    const expired = await token('expired', -1_000);
    const revoked = await token('revoked');
    await revokeEnrolmentToken(db, { tokenId: revoked.id, actor: { kind: 'system', name: 'test' } });
    const attempts = [
      { agent: start('host-reuse', 'reuse', firstToken), reason: /already used/ },
      { agent: start('host-unknown', 'unknown', `tern-enrol-${randomBytes(32).toString('base64url')}`), reason: /not known/ },
      { agent: start('host-expired', 'expired', expired.token), reason: /expired/ },
      { agent: start('host-revoked', 'revoked', revoked.token), reason: /revoked/ },
    ];
    const exits = await Promise.all(attempts.map((a) => a.agent.exited));
    for (const [i, { agent, reason }] of attempts.entries()) {
      expect(exits[i]).toEqual({ code: 3, signal: null });
      const refusal = agent.lines.find((l) => l.level === 'error');
      expect(refusal?.msg).toMatch(/console refused enrolment/);
      expect(refusal?.msg).toMatch(reason);
      expect(existsSync(path.join(agent.dataDir, 'identity.json'))).toBe(false);
      expect(existsSync(path.join(agent.dataDir, 'agent.pid'))).toBe(false);
      expect(agent.output()).not.toContain(firstToken);
    }
    const refused = await db.select().from(events).where(eq(events.kind, 'agent.enrol-refused'));
    expect(refused.map((e) => e.objectName).sort()).toEqual(['host-expired', 'host-reuse', 'host-revoked', 'host-unknown']);
    expect(refused.every((e) => e.severity === 'warning')).toBe(true);
    expect(JSON.stringify(refused)).not.toContain(firstToken);
    expect(await db.select().from(hosts)).toHaveLength(1);
  });

  it('refuses console calls without the right console key with 401', async () => {
    for (const authorization of [undefined, `Bearer ${randomBytes(32).toString('base64url')}`, `Bearer ${hostA.hostId}`]) {
      const response = await fetch(`${hostA.agentUrl}/v1/inventory`, { headers: authorization ? { authorization } : {} });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: 'unauthenticated', error: expect.stringMatching(/console key/) });
    }
    const wrongKey = await fetch(`${hostA.agentUrl}/v1/volumes`, {
      method: 'POST',
      headers: { authorization: 'Bearer not-the-key', 'content-type': 'application/json' },
      body: JSON.stringify({ diskGroup: 'dg1', name: 'sneaky', sizeBytes: 4096, lunId: randomUUID() }),
    });
    expect(wrongKey.status).toBe(401);
    expect(await agentClient.inventory(db, await target(hostA.hostId))).toEqual({ luns: [], diskGroups: [] });
  });

  let lun1: Awaited<ReturnType<typeof makeLun>>;

  it('reports a mapped LUN and a new volume, which the console syncs with the LUN linked', async () => {
    lun1 = await makeLun('lun-1', 64 * MiB);
    const host = await target(hostA.hostId);
    const mapped = await agentClient.mapLun(db, host, lun1.id, mapRequest(lun1));
    expect(mapped.luns).toEqual([{ lunId: lun1.id, wwn: lun1.wwn, arrayId, arrayName: 'array-1', path: lun1.path, sizeBytes: 64 * MiB, present: true }]);
    const inventory = await agentClient.createVolume(db, host, { diskGroup: 'dg1', name: 'vol1', sizeBytes: 32 * MiB, lunId: lun1.id });
    expect(inventory.diskGroups).toEqual([
      {
        name: 'dg1',
        volumes: [{ name: 'vol1', sizeBytes: 32 * MiB, regionSizeBytes: 65536, nbdExport: 'dg1/vol1', plexes: [{ name: 'vol1-01', lunId: lun1.id, lunPath: lun1.path, state: 'active' }] }],
      },
    ]);
    const synced = await waitFor('the volume in the console database', async () => {
      const rows = await db
        .select({ volume: volumes.name, sizeBytes: volumes.sizeBytes, nbdExport: volumes.nbdExport, plex: plexes.name, lunId: plexes.lunId, state: plexes.state })
        .from(volumes)
        .innerJoin(plexes, eq(plexes.volumeId, volumes.id))
        .where(eq(volumes.hostId, hostA.hostId));
      return rows.length ? rows : undefined;
    }, 5_000);
    expect(synced).toEqual([{ volume: 'vol1', sizeBytes: 32 * MiB, nbdExport: 'dg1/vol1', plex: 'vol1-01', lunId: lun1.id, state: 'active' }]);
    const [changed] = await db.select().from(events).where(and(eq(events.kind, 'host.inventory-changed'), eq(events.objectId, hostA.hostId)));
    expect(changed?.message).toMatch(/added disk group dg1, volume dg1\/vol1/);
    // The LUN stays a sparse file: the agent writes no data to create a volume.
    const lunStat = await stat(lun1.path);
    expect([lunStat.size, lunStat.blocks]).toEqual([64 * MiB, 0]);
  });

  it('refuses impossible volumes and unmaps with a reason, changing nothing', async () => {
    const host = await target(hostA.hostId);
    const lun2 = await makeLun('lun-2', 16 * MiB);
    const lunMissing = { ...(await makeLun('lun-missing', 16 * MiB)) };
    await rm(lunMissing.path);
    await agentClient.mapLun(db, host, lun2.id, mapRequest(lun2));
    await agentClient.mapLun(db, host, lunMissing.id, mapRequest(lunMissing));
    const before = await agentClient.inventory(db, host);
    expect(before.luns.find((l) => l.lunId === lunMissing.id)?.present).toBe(false);
    const stateBefore = await readFile(path.join(agentA.dataDir, 'state.json'), 'utf8');
    const volumeCount = async () => (await db.select().from(volumes)).length;
    const countBefore = await volumeCount();

    const refusals: Array<[() => Promise<unknown>, number, string, RegExp]> = [
      [() => agentClient.createVolume(db, host, { diskGroup: 'dg1', name: 'vol2', sizeBytes: 4 * MiB, lunId: randomUUID() }), 409, 'lun-not-mapped', /is not mapped to this host/],
      [() => agentClient.createVolume(db, host, { diskGroup: 'dg1', name: 'vol2', sizeBytes: 32 * MiB, lunId: lun2.id }), 409, 'volume-too-large', /needs 32 MiB but LUN .* holds 16 MiB/],
      [() => agentClient.createVolume(db, host, { diskGroup: 'dg1', name: 'vol1', sizeBytes: 4 * MiB, lunId: lun2.id }), 409, 'volume-exists', /dg1\/vol1 already exists/],
      [() => agentClient.createVolume(db, host, { diskGroup: 'dg2', name: 'vol2', sizeBytes: 4 * MiB, lunId: lun1.id }), 409, 'lun-in-use', /already used by plex vol1-01/],
      [() => agentClient.createVolume(db, host, { diskGroup: 'dg1', name: 'vol2', sizeBytes: 4 * MiB, lunId: lunMissing.id }), 409, 'lun-not-present', /cannot be opened on this host \(ENOENT\)/],
      [() => agentClient.createVolume(db, host, { diskGroup: 'dg1', name: 'vol2', sizeBytes: 4097, lunId: lun2.id }), 400, 'invalid-request', /multiple of 4 KiB/],
      [() => agentClient.unmapLun(db, host, lun1.id), 409, 'lun-in-use', /in use by plex vol1-01 of volume dg1\/vol1/],
    ];
    for (const [call, status, code, message] of refusals) {
      const error = await callError(call());
      expect({ status: error.status, code: error.code }).toEqual({ status, code });
      expect(error.message).toMatch(message);
    }
    expect(await agentClient.inventory(db, host)).toEqual(before);
    expect(await readFile(path.join(agentA.dataDir, 'state.json'), 'utf8')).toBe(stateBefore);
    await sleep(700);
    expect(await volumeCount()).toBe(countBefore);

    const unmapped = await agentClient.unmapLun(db, host, lunMissing.id);
    expect(unmapped.luns.map((l) => l.lunId).sort()).toEqual([lun1.id, lun2.id].sort());
  });

  it('keeps its identity and volumes across SIGTERM and a restart without a token', async () => {
    const exit = await agentA.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(agentA.lines.at(-1)?.msg).toBe('stopped');
    expect(existsSync(path.join(agentA.dataDir, 'agent.pid'))).toBe(false);

    agentA = start('host-a', 'a');
    const again = await started(agentA);
    expect(again.hostId).toBe(hostA.hostId);
    hostA = again;
    await waitFor('the new agent URL in the console', async () => (await target(hostA.hostId)).agentUrl === hostA.agentUrl);
    const inventory = await agentClient.inventory(db, await target(hostA.hostId));
    expect(inventory.diskGroups.flatMap((dg) => dg.volumes.map((v) => `${dg.name}/${v.name}:${v.plexes.map((p) => p.lunId).join()}`))).toEqual([`dg1/vol1:${lun1.id}`]);
    expect(await db.select().from(hosts).where(eq(hosts.hostname, 'host-a'))).toHaveLength(1);
    expect((await db.select().from(volumes).where(eq(volumes.hostId, hostA.hostId))).map((v) => v.name)).toEqual(['vol1']);
    expectNoSecrets(agentA);
  });

  it('is marked disconnected after kill -9 and connected again, with the same identity, when restarted', async () => {
    const stopMonitor = startLivenessMonitor(db, 200, 2_000);
    try {
      agentA.child.kill('SIGKILL');
      const killedAt = Date.now();
      await agentA.exited;
      await waitFor('host-a disconnected', async () => (await db.select().from(hosts).where(eq(hosts.id, hostA.hostId)))[0]?.state === 'disconnected', 6_000);
      expect(Date.now() - killedAt).toBeLessThan(4_000);
      const [gone] = await db.select().from(events).where(and(eq(events.kind, 'host.disconnected'), eq(events.objectId, hostA.hostId)));
      expect(gone).toMatchObject({ severity: 'warning', message: expect.stringMatching(/agent on host-a silent for \d+ s/) });

      // The pid file of the killed agent is still there; the new one takes it over.
      expect(existsSync(path.join(agentA.dataDir, 'agent.pid'))).toBe(true);
      agentA = start('host-a', 'a');
      expect((await started(agentA)).hostId).toBe(hostA.hostId);
      await waitFor('host-a connected', async () => (await db.select().from(hosts).where(eq(hosts.id, hostA.hostId)))[0]?.state === 'connected');
      const [back] = await db.select().from(events).where(and(eq(events.kind, 'host.connected'), eq(events.objectId, hostA.hostId)));
      expect(back?.message).toMatch(/agent on host-a is back after \d+ s/);
    } finally {
      stopMonitor();
    }
  });

  it('is refused with 401 and an agent.auth-refused event when its credential is wrong, and keeps running', async () => {
    expect((await agentA.stop('SIGTERM')).code).toBe(0);
    const identityFile = path.join(agentA.dataDir, 'identity.json');
    const original = await readFile(identityFile, 'utf8');
    const wrongCredential = randomBytes(32).toString('base64url');
    const identity = JSON.parse(original) as { credential: string };
    await writeFile(identityFile, JSON.stringify({ ...identity, credential: wrongCredential }), { mode: 0o600 });
    const lastGood = (await db.select().from(hosts).where(eq(hosts.id, hostA.hostId)))[0]?.lastHeartbeatAt;

    agentA = start('host-a', 'a');
    const refused = await agentA.waitForLog((l) => l.msg === 'heartbeat refused by the console');
    expect(refused.outcome).toMatch(/HTTP 401 wrong credential for host host-a/);
    const [event] = await db.select().from(events).where(and(eq(events.kind, 'agent.auth-refused'), eq(events.actorId, hostA.hostId)));
    expect(event).toMatchObject({ severity: 'warning', message: expect.stringMatching(/wrong credential for host host-a/) });
    await sleep(1_200);
    expect(agentA.isRunning()).toBe(true);
    expect((await db.select().from(events).where(eq(events.kind, 'agent.auth-refused'))).length).toBe(1);
    expect((await db.select().from(hosts).where(eq(hosts.id, hostA.hostId)))[0]?.lastHeartbeatAt).toEqual(lastGood);
    expectNoSecrets(agentA, [wrongCredential]);
  });

  it('waits for a console that is not up yet, and carries on through a console outage', async () => {
    const probe = await startConsoleServer({});
    const port = Number(new URL(probe.url).port);
    await probe.close();
    const { token: enrolmentToken } = await token('late-console');
    const agent = spawnAgent({ consoleUrl: `http://127.0.0.1:${port}`, dataDir: path.join(root, 'late'), token: enrolmentToken, hostname: 'host-late' });
    await agent.waitForLog((l) => l.msg === 'console not reachable for enrolment; retrying');

    let lateConsole = await startConsoleServer(consoleRoutes, port);
    try {
      const { hostId } = await started(agent);
      await agent.waitForLog((l) => l.msg === 'heartbeat accepted by the console');
      await lateConsole.close();
      await agent.waitForLog((l) => l.msg === 'console unreachable for heartbeat');
      const [before] = await db.select().from(hosts).where(eq(hosts.id, hostId));
      lateConsole = await startConsoleServer(consoleRoutes, port);
      await waitFor('a heartbeat after the outage', async () => {
        const [after] = await db.select().from(hosts).where(eq(hosts.id, hostId));
        return after?.lastHeartbeatAt && before?.lastHeartbeatAt && after.lastHeartbeatAt > before.lastHeartbeatAt;
      });
      expect(agent.isRunning()).toBe(true);
      // The console records the heartbeat before the agent reads the reply and logs it.
      await waitFor('the agent to log the accepted heartbeat', async () => agent.lines.filter((l) => l.msg === 'heartbeat accepted by the console').length === 2);
      expectNoSecrets(agent);
    } finally {
      await lateConsole.close();
    }
  });
});
