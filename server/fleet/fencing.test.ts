/**
 * Enrolment-token revocation and host fencing through the tRPC procedures an admin uses, checked
 * against the real agent routes (the Request → Response handlers the Next.js routes serve).
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, OpenDatabase } from '@/db/open';
import { arrays, diskGroups, events, hosts, migrations, volumes } from '@/db/schema';
import { appRouter } from '@/server/api/root';
import { createContext } from '@/server/api/trpc';
import { SECURE_COOKIE } from '@/server/auth/cookies';
import { createUser, signIn } from '@/server/auth/sessions';
import type { HeartbeatRequest } from '@/server/protocol/agent-api';
import { freshDatabase } from '@/test/db';
import { agentRoutes } from './agent-routes';

let opened: OpenDatabase;
let db: Db;
let routes: ReturnType<typeof agentRoutes>;
let admin: ReturnType<typeof appRouter.createCaller>;

beforeAll(async () => {
  opened = await freshDatabase();
  db = opened.db;
  routes = agentRoutes(db);
  await createUser(db, { username: 'fence-admin', password: 'fence-admin-password', role: 'admin' }, null);
  const { token } = await signIn(db, 'fence-admin', 'fence-admin-password', 3_600_000);
  admin = appRouter.createCaller(await createContext({ db, headers: new Headers({ cookie: `${SECURE_COOKIE}=${token}` }), secure: true }));
});
afterAll(async () => {
  await opened?.close();
});

const post = (handler: (request: Request) => Promise<Response>, body: unknown, authorization?: string) =>
  handler(
    new Request('http://console/api/agent/v1/x', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify(body),
    }),
  );
const enrolBody = (token: string, hostname: string) => ({ token, hostname, agentUrl: 'http://127.0.0.1:1', agentVersion: '0.1.0' });
const beat: HeartbeatRequest = { agentUrl: 'http://127.0.0.1:1', agentVersion: '0.1.0', inventory: { luns: [], diskGroups: [] } };
const eventsOf = async (kind: string) => db.select().from(events).where(eq(events.kind, kind));

async function enrol(hostname: string) {
  const { token } = await admin.hosts.createEnrolmentToken({ label: hostname });
  const response = await post(routes.handleEnrol, enrolBody(token, hostname));
  expect(response.status).toBe(200);
  const enrolled = (await response.json()) as { hostId: string; credential: string };
  return { ...enrolled, authorization: `Bearer ${enrolled.hostId}.${enrolled.credential}` };
}

describe('hosts.revokeEnrolmentToken', () => {
  it('revokes an unused token, audits it, and the enrol route refuses the token with 401', async () => {
    const created = await admin.hosts.createEnrolmentToken({ label: 'rack 7' });
    expect((await admin.hosts.enrolmentTokens()).find((t) => t.id === created.id)?.status).toBe('unused');
    await admin.hosts.revokeEnrolmentToken({ id: created.id });
    const listed = await admin.hosts.enrolmentTokens();
    expect(listed.find((t) => t.id === created.id)?.status).toBe('revoked');
    expect(JSON.stringify(listed)).not.toContain(created.token);
    const [revoked] = (await eventsOf('agent-token.revoked')).filter((e) => e.objectId === created.id);
    expect(revoked).toMatchObject({ actorKind: 'user', actorName: 'fence-admin' });

    const response = await post(routes.handleEnrol, enrolBody(created.token, 'rack-7-host'));
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: string }).error).toMatch(/revoked/);
    expect(await db.select().from(hosts).where(eq(hosts.hostname, 'rack-7-host'))).toHaveLength(0);
    const refused = (await eventsOf('agent.enrol-refused')).filter((e) => e.objectName === 'rack-7-host');
    expect(refused).toHaveLength(1);
    expect(JSON.stringify(refused)).not.toContain(created.token);
  });

  it('refuses an unknown token id and a used token, changing nothing', async () => {
    await expect(admin.hosts.revokeEnrolmentToken({ id: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const used = await admin.hosts.createEnrolmentToken({ label: 'used-one' });
    expect((await post(routes.handleEnrol, enrolBody(used.token, 'used-host'))).status).toBe(200);
    await expect(admin.hosts.revokeEnrolmentToken({ id: used.id })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/fence/) });
    expect((await admin.hosts.enrolmentTokens()).find((t) => t.id === used.id)?.status).toBe('used');
  });
});

describe('hosts.fence', () => {
  it('revokes the agent credential, marks unfinished migrations, and refuses the agent everywhere', async () => {
    const host = await enrol('db-17');
    expect((await post(routes.handleHeartbeat, beat, host.authorization)).status).toBe(200);
    const [array] = await db.insert(arrays).values({ name: 'FENCE-A', vendor: 'Tern', model: 'dir', tier: 1, driver: 'directory', driverConfig: {}, capacityBytes: 1 << 30 }).returning();
    const [group] = await db.insert(diskGroups).values({ hostId: host.hostId, name: 'dg' }).returning();
    const [volume] = await db.insert(volumes).values({ hostId: host.hostId, diskGroupId: group!.id, name: 'data', sizeBytes: 1 << 20, regionSizeBytes: 65536, nbdExport: 'dg/data' }).returning();
    const [running] = await db.insert(migrations).values({ volumeId: volume!.id, targetArrayId: array!.id, strategy: 'mirror', state: 'syncing', createdBy: 'test' }).returning();
    const [done] = await db.insert(migrations).values({ volumeId: volume!.id, targetArrayId: array!.id, strategy: 'mirror', state: 'completed', createdBy: 'test' }).returning();

    // A wrong confirmation changes nothing.
    await expect(admin.hosts.fence({ id: host.hostId, confirm: 'db-1' })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/type the hostname db-17/) });
    expect((await db.select().from(hosts).where(eq(hosts.id, host.hostId)))[0]?.state).toBe('connected');
    expect(await eventsOf('host.fenced')).toHaveLength(0);

    const result = await admin.hosts.fence({ id: host.hostId, confirm: 'db-17' });
    expect(result).toMatchObject({ fenced: true, migrationIds: [running!.id] });
    const [fenced] = await db.select().from(hosts).where(eq(hosts.id, host.hostId));
    expect(fenced?.state).toBe('fenced');
    const [marked] = await db.select().from(migrations).where(eq(migrations.id, running!.id));
    expect(marked).toMatchObject({ state: 'syncing', error: expect.stringMatching(/db-17 was fenced by fence-admin/) });
    expect(marked?.agentUnreachableSince).toBeInstanceOf(Date);
    expect((await db.select().from(migrations).where(eq(migrations.id, done!.id)))[0]?.error).toBeNull();
    const [fenceEvent] = await eventsOf('host.fenced');
    expect(fenceEvent).toMatchObject({ objectId: host.hostId, actorName: 'fence-admin', before: { state: 'connected' } });
    expect((await eventsOf('migration.host-fenced')).map((e) => e.objectId)).toEqual([running!.id]);

    // The old credential is refused at the heartbeat route even if the state were set back by hand.
    const refused = await post(routes.handleHeartbeat, beat, host.authorization);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: string }).error).toMatch(/fenced/);
    await db.update(hosts).set({ state: 'connected' }).where(eq(hosts.id, host.hostId));
    expect((await post(routes.handleHeartbeat, beat, host.authorization)).status).toBe(401);
    await db.update(hosts).set({ state: 'fenced' }).where(eq(hosts.id, host.hostId));

    // Fencing again is a no-op.
    expect(await admin.hosts.fence({ id: host.hostId, confirm: 'db-17' })).toMatchObject({ fenced: false, migrationIds: [] });
    expect(await eventsOf('host.fenced')).toHaveLength(1);
  });

  it('lets a fenced host enrol again with a new token under its id, audited, and hands its migrations back', async () => {
    const [host] = await db.select().from(hosts).where(eq(hosts.hostname, 'db-17'));
    const { token } = await admin.hosts.createEnrolmentToken({ label: 'db-17 again' });
    const response = await post(routes.handleEnrol, enrolBody(token, 'db-17'));
    expect(response.status).toBe(200);
    const again = (await response.json()) as { hostId: string; credential: string };
    expect(again.hostId).toBe(host!.id);
    expect((await db.select().from(hosts).where(eq(hosts.id, host!.id)))[0]?.state).toBe('connected');
    expect((await post(routes.handleHeartbeat, beat, `Bearer ${again.hostId}.${again.credential}`)).status).toBe(200);
    const [reEnrolled] = await eventsOf('host.re-enrolled');
    expect(reEnrolled).toMatchObject({ objectId: host!.id, before: { state: 'fenced' } });
    const live = await db.select().from(migrations).where(eq(migrations.state, 'syncing'));
    expect(live.map((m) => m.error)).toEqual([null]);

    // A connected host's name is still taken.
    const other = await admin.hosts.createEnrolmentToken({ label: 'impostor' });
    const taken = await post(routes.handleEnrol, enrolBody(other.token, 'db-17'));
    expect(taken.status).toBe(409);
    expect(((await taken.json()) as { error: string }).error).toMatch(/fence that host first/);
  });

  it('refuses an unknown host', async () => {
    await expect(admin.hosts.fence({ id: '00000000-0000-4000-8000-000000000000', confirm: 'x' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
