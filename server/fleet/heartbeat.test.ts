import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, OpenDatabase } from '@/db/open';
import { arrays, diskGroups, events, hosts, luns, migrations, plexes, volumes } from '@/db/schema';
import { bus, type HostChange } from '@/server/events/bus';
import type { HeartbeatRequest, Inventory } from '@/server/protocol/agent-api';
import { freshDatabase } from '@/test/db';
import { startConsoleServer, type ConsoleServer } from '@/test/console-server';
import { AgentRefusedError } from './agent-refused';
import { agentRouteTable } from './agent-routes';
import { applyAgentInventory, createEnrolmentToken, enrolHost, hashInventory, markSilentHosts, recordHeartbeat } from './hosts';

let opened: OpenDatabase;
let db: Db;
let server: ConsoleServer;
beforeAll(async () => {
  opened = await freshDatabase();
  db = opened.db;
  server = await startConsoleServer(agentRouteTable(db));
});
afterAll(async () => {
  await server.close();
  await opened.close();
});

async function enrol(hostname: string) {
  const { token } = await createEnrolmentToken(db, { label: hostname, createdBy: 'admin' });
  const enrolled = await enrolHost(db, { token, hostname, agentUrl: 'http://127.0.0.1:1', agentVersion: '0.1.0' });
  return { ...enrolled, header: `Bearer ${enrolled.hostId}.${enrolled.credential}` };
}

const empty: Inventory = { luns: [], diskGroups: [] };
const beat = (inventory: Inventory = empty): HeartbeatRequest => ({ agentUrl: 'http://127.0.0.1:4242', agentVersion: '0.1.1', inventory });
const hostRow = async (id: string) => (await db.select().from(hosts).where(eq(hosts.id, id)))[0];
const eventsFor = async (kind: string, hostId?: string) =>
  (await db.select().from(events).where(eq(events.kind, kind))).filter((e) => !hostId || e.objectId === hostId || e.actorId === hostId);

describe('recordHeartbeat', () => {
  it('updates liveness fields and publishes a host change', async () => {
    const host = await enrol('hb-1');
    const changes: HostChange[] = [];
    const abort = new AbortController();
    const listening = (async () => {
      for await (const change of bus.listen('host', abort.signal)) changes.push(change);
    })();
    const at = new Date();
    await expect(recordHeartbeat(db, host.header, beat(), at)).resolves.toMatchObject({ ok: true });
    abort.abort();
    await listening;
    expect(await hostRow(host.hostId)).toMatchObject({ lastHeartbeatAt: at, agentUrl: 'http://127.0.0.1:4242', agentVersion: '0.1.1', state: 'connected' });
    expect(changes.some((c) => c.id === host.hostId && c.lastHeartbeatAt?.getTime() === at.getTime())).toBe(true);
  });

  it('takes a heartbeat that carries only the hash of the inventory it holds, and asks for the inventory when the hash is not that one', async () => {
    const host = await enrol('hb-hash');
    const first = await recordHeartbeat(db, host.header, beat(), new Date());
    const held = first.inventoryHash!;
    expect(held).toBe(hashInventory(empty));

    const later = new Date(Date.now() + 3_000);
    const { inventory: _omitted, ...hashOnly } = { ...beat(), inventoryHash: held };
    await expect(recordHeartbeat(db, host.header, hashOnly, later)).resolves.toEqual({ ok: true, serverTime: later.toISOString(), inventoryHash: held });
    expect((await hostRow(host.hostId))?.lastHeartbeatAt).toEqual(later);

    // A hash the console does not hold: nothing is recorded, the agent is asked for its inventory.
    const changed: Inventory = { luns: [], diskGroups: [{ name: 'dg', volumes: [] }] };
    const stale = await recordHeartbeat(db, host.header, { ...hashOnly, inventoryHash: hashInventory(changed) }, new Date(Date.now() + 6_000));
    expect(stale).toMatchObject({ ok: true, inventoryHash: held, inventoryWanted: true });
    expect((await hostRow(host.hostId))?.lastHeartbeatAt).toEqual(later);
    const full = await recordHeartbeat(db, host.header, beat(changed), new Date(Date.now() + 7_000));
    expect(full).toMatchObject({ ok: true, inventoryHash: hashInventory(changed) });
    expect(full.inventoryWanted).toBeUndefined();
    expect(await db.select().from(diskGroups).where(eq(diskGroups.hostId, host.hostId))).toHaveLength(1);

    // Neither inventory nor hash is refused at the route with the reason.
    const response = await fetch(`${server.url}/api/agent/v1/heartbeat`, {
      method: 'POST',
      headers: { authorization: host.header, 'content-type': 'application/json' },
      body: JSON.stringify({ agentUrl: 'http://127.0.0.1:4242', agentVersion: '0.1.1' }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toMatch(/a heartbeat carries the inventory or its inventoryHash/);
  });

  it('refuses a wrong credential, an unknown host and a fenced host with 401, recording at most one event per host a minute', async () => {
    const host = await enrol('hb-2');
    const wrong = `Bearer ${host.hostId}.${'x'.repeat(43)}`;
    const t0 = new Date();
    for (let i = 0; i < 3; i += 1) {
      const error = await recordHeartbeat(db, wrong, beat(), new Date(t0.getTime() + i * 1_000)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AgentRefusedError);
      expect((error as AgentRefusedError).status).toBe(401);
    }
    const refused = await eventsFor('agent.auth-refused', host.hostId);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.severity).toBe('warning');
    expect(refused[0]?.message).toMatch(/wrong credential for host hb-2/);
    expect(JSON.stringify(refused)).not.toContain(host.credential);
    await recordHeartbeat(db, wrong, beat(), new Date(t0.getTime() + 61_000)).catch(() => undefined);
    expect(await eventsFor('agent.auth-refused', host.hostId)).toHaveLength(2);
    expect((await hostRow(host.hostId))?.lastHeartbeatAt).toBeNull();

    const stranger = randomUUID();
    await expect(recordHeartbeat(db, `Bearer ${stranger}.${host.credential}`, beat())).rejects.toThrow(/no host with id/);
    await expect(recordHeartbeat(db, 'Bearer nonsense', beat())).rejects.toThrow(/malformed/);

    await db.update(hosts).set({ state: 'fenced' }).where(eq(hosts.id, host.hostId));
    await expect(recordHeartbeat(db, host.header, beat(), new Date(t0.getTime() + 200_000))).rejects.toThrow(/fenced/);
    expect((await hostRow(host.hostId))?.state).toBe('fenced');
  });

  it('syncs disk groups, volumes and plexes, links known LUNs, and removes what is no longer reported', async () => {
    const host = await enrol('hb-3');
    const [array] = await db.insert(arrays).values({ name: 'A1', vendor: 'Tern', model: 'dir', tier: 1, driver: 'directory', driverConfig: {}, capacityBytes: 1 << 30 }).returning();
    const [lun] = await db.insert(luns).values({ arrayId: array!.id, name: 'l1', wwn: 'wwn-hb-3', sizeBytes: 1 << 20, path: '/luns/l1' }).returning();
    const strangerLun = randomUUID();
    const volume = (name: string, lunId: string, state: 'active' | 'stale' = 'active') => ({
      name,
      sizeBytes: 1 << 20,
      regionSizeBytes: 65536,
      nbdExport: `dg1/${name}`,
      plexes: [{ name: `${name}-01`, lunId, lunPath: `/luns/${name}`, state }],
    });
    const first: Inventory = { luns: [], diskGroups: [{ name: 'dg1', volumes: [volume('v1', lun!.id), volume('v2', strangerLun)] }] };
    await recordHeartbeat(db, host.header, beat(first));
    const rows = await db.select({ volume: volumes.name, plex: plexes.name, lunId: plexes.lunId, state: plexes.state }).from(plexes).innerJoin(volumes, eq(volumes.id, plexes.volumeId)).where(eq(volumes.hostId, host.hostId));
    expect(rows.sort((a, b) => a.volume.localeCompare(b.volume))).toEqual([
      { volume: 'v1', plex: 'v1-01', lunId: lun!.id, state: 'active' },
      { volume: 'v2', plex: 'v2-01', lunId: null, state: 'active' },
    ]);
    const [changed] = await eventsFor('host.inventory-changed', host.hostId);
    expect(changed?.message).toMatch(/added disk group dg1, volume dg1\/v1, plex v1-01/);

    // The same report again: nothing written, no new event.
    await recordHeartbeat(db, host.header, beat({ ...first, diskGroups: [{ name: 'dg1', volumes: [volume('v2', strangerLun), volume('v1', lun!.id)] }] }));
    expect(await eventsFor('host.inventory-changed', host.hostId)).toHaveLength(1);

    const [v1] = await db.select().from(volumes).where(eq(volumes.name, 'v1'));
    await db.insert(migrations).values({ volumeId: v1!.id, sourceLunId: lun!.id, targetArrayId: array!.id, strategy: 'mirror', createdBy: 'test' });
    await recordHeartbeat(db, host.header, beat({ luns: [], diskGroups: [{ name: 'dg2', volumes: [volume('v3', strangerLun, 'stale')] }] }));
    const names = (await db.select({ name: volumes.name }).from(volumes).where(eq(volumes.hostId, host.hostId))).map((v) => v.name).sort();
    expect(names).toEqual(['v1', 'v3']);
    expect((await db.select({ name: diskGroups.name }).from(diskGroups).where(eq(diskGroups.hostId, host.hostId))).map((g) => g.name).sort()).toEqual(['dg1', 'dg2']);
    const latest = (await eventsFor('host.inventory-changed', host.hostId)).at(-1);
    expect(latest?.message).toMatch(/removed volume dg1\/v2/);
    expect(latest?.message).toMatch(/kept for migration history: volume dg1\/v1/);
  });
});

describe('applyAgentInventory', () => {
  it('syncs an inventory returned by an agent call at once, and the next identical heartbeat writes nothing', async () => {
    const host = await enrol('apply-1');
    const inventory: Inventory = {
      luns: [],
      diskGroups: [{ name: 'dg9', volumes: [{ name: 'v9', sizeBytes: 4096, regionSizeBytes: 65536, nbdExport: 'dg9/v9', plexes: [{ name: 'v9-01', lunId: randomUUID(), lunPath: '/x', state: 'active' }] }] }],
    };
    expect(await applyAgentInventory(db, host.hostId, inventory)).toEqual({ changed: true });
    expect((await db.select().from(volumes).where(eq(volumes.hostId, host.hostId))).map((v) => v.name)).toEqual(['v9']);
    expect(await applyAgentInventory(db, host.hostId, inventory)).toEqual({ changed: false });
    await recordHeartbeat(db, host.header, beat(inventory));
    expect(await eventsFor('host.inventory-changed', host.hostId)).toHaveLength(1);
  });
});

describe('markSilentHosts', () => {
  it('disconnects hosts silent past the timeout, and a heartbeat brings them back', async () => {
    const host = await enrol('quiet-1');
    const t0 = new Date();
    await recordHeartbeat(db, host.header, beat(), t0);
    // Other tests' hosts share this database and may be marked too; only this host's fate is asserted.
    expect((await markSilentHosts(db, new Date(t0.getTime() + 1_000), 2_000)).map((h) => h.id)).not.toContain(host.hostId);
    const marked = await markSilentHosts(db, new Date(t0.getTime() + 5_000), 2_000);
    expect(marked.map((h) => h.id)).toContain(host.hostId);
    expect((await hostRow(host.hostId))?.state).toBe('disconnected');
    const [gone] = await eventsFor('host.disconnected', host.hostId);
    expect(gone?.severity).toBe('warning');
    expect(gone?.message).toMatch(/quiet-1 silent for 5 s/);
    expect((await markSilentHosts(db, new Date(t0.getTime() + 9_000), 2_000)).map((h) => h.id)).not.toContain(host.hostId);

    await recordHeartbeat(db, host.header, beat(), new Date(t0.getTime() + 42_000));
    expect((await hostRow(host.hostId))?.state).toBe('connected');
    const [back] = await eventsFor('host.connected', host.hostId);
    expect(back?.message).toBe('agent on quiet-1 is back after 42 s');
  });
});

describe('agent routes over HTTP', () => {
  const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  it('answers malformed JSON and schema failures with 400 and the reason', async () => {
    const bad = await post('/api/agent/v1/enrol', '{not json');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'bad-json' });
    const invalid = await post('/api/agent/v1/enrol', JSON.stringify({ token: 'short', hostname: 'x', agentUrl: 'nope', agentVersion: '1' }));
    expect(invalid.status).toBe(400);
    const body = (await invalid.json()) as { error: string; code: string };
    expect(body.code).toBe('invalid-request');
    expect(body.error).toMatch(/token/);
    expect(body.error).toMatch(/agentUrl/);
  });

  it('answers a body over 4 MiB with 413', async () => {
    const huge = JSON.stringify({ ...beat(), padding: 'x'.repeat(4 * 1024 * 1024) });
    const response = await post('/api/agent/v1/heartbeat', huge, { authorization: 'Bearer whatever' });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'too-large' });
  });

  it('answers a heartbeat without a valid credential with 401', async () => {
    const response = await post('/api/agent/v1/heartbeat', JSON.stringify(beat()));
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'agent-auth-refused' });
  });

  it('enrols and heartbeats over HTTP', async () => {
    const { token } = await createEnrolmentToken(db, { label: 'http', createdBy: 'admin' });
    const enrol = await post('/api/agent/v1/enrol', JSON.stringify({ token, hostname: 'http-1', agentUrl: 'http://127.0.0.1:5', agentVersion: '0.1.0' }));
    expect(enrol.status).toBe(200);
    const { hostId, credential } = (await enrol.json()) as { hostId: string; credential: string };
    const again = await post('/api/agent/v1/enrol', JSON.stringify({ token, hostname: 'http-2', agentUrl: 'http://127.0.0.1:5', agentVersion: '0.1.0' }));
    expect(again.status).toBe(401);
    expect(((await again.json()) as { error: string }).error).toMatch(/already used/);
    const heartbeat = await post('/api/agent/v1/heartbeat', JSON.stringify(beat()), { authorization: `Bearer ${hostId}.${credential}` });
    expect(heartbeat.status).toBe(200);
    expect(await heartbeat.json()).toMatchObject({ ok: true });
  });
});
