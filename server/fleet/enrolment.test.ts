import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenDatabase } from '@/db/open';
import { agentTokens, events, hosts } from '@/db/schema';
import { sha256 } from '@/server/auth/secrets';
import { freshDatabase } from '@/test/db';
import { AgentRefusedError } from './agent-refused';
import { consoleKeyFor } from './console-secret';
import { createEnrolmentToken, enrolHost, revokeEnrolmentToken } from './hosts';

let opened: OpenDatabase;
beforeAll(async () => {
  opened = await freshDatabase();
});
afterAll(async () => {
  await opened.close();
});

const request = (token: string, hostname: string) => ({ token, hostname, agentUrl: 'http://127.0.0.1:9999', agentVersion: '0.1.0' });
const admin = { kind: 'user' as const, id: 'u1', name: 'admin' };

async function refusal(promise: Promise<unknown>): Promise<AgentRefusedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AgentRefusedError);
  return error as AgentRefusedError;
}

async function eventsOf(kind: string) {
  return opened.db.select().from(events).where(eq(events.kind, kind));
}

describe('enrolment tokens and enrolHost', () => {
  it('stores only the hash of a token, and enrols a host once with it', async () => {
    const { db } = opened;
    const created = await createEnrolmentToken(db, { label: 'rack 1', createdBy: 'admin' });
    const [row] = await db.select().from(agentTokens).where(eq(agentTokens.id, created.id));
    expect(row?.tokenHash).toBe(sha256(created.token));
    expect(JSON.stringify(row)).not.toContain(created.token);
    expect(created.expiresAt.getTime() - Date.now()).toBeGreaterThan(23.9 * 3_600_000);

    const enrolled = await enrolHost(db, request(created.token, 'alpha'));
    expect(enrolled.consoleKey).toBe(await consoleKeyFor(db, enrolled.hostId));
    const [host] = await db.select().from(hosts).where(eq(hosts.id, enrolled.hostId));
    expect(host).toMatchObject({ hostname: 'alpha', state: 'connected', credentialHash: sha256(enrolled.credential) });
    const [used] = await db.select().from(agentTokens).where(eq(agentTokens.id, created.id));
    expect(used?.usedAt).toBeInstanceOf(Date);
    expect(used?.usedByHostId).toBe(enrolled.hostId);
    expect((await eventsOf('host.enrolled')).map((e) => e.objectId)).toContain(enrolled.hostId);

    const reused = await refusal(enrolHost(db, request(created.token, 'beta')));
    expect(reused.status).toBe(401);
    expect(reused.message).toMatch(/already used/);
    const refused = await eventsOf('agent.enrol-refused');
    const beta = refused.find((e) => e.objectName === 'beta');
    expect(beta?.severity).toBe('warning');
    expect(beta?.message).toMatch(/already used/);
    expect(JSON.stringify(refused)).not.toContain(created.token);
    expect(await db.select().from(hosts).where(eq(hosts.hostname, 'beta'))).toHaveLength(0);
  });

  it('answers an agent that retries its token before its first heartbeat (its first answer was lost) with a new credential, and only that agent', async () => {
    const { db } = opened;
    const created = await createEnrolmentToken(db, { label: 'rack 2', createdBy: 'admin' });
    const first = await enrolHost(db, request(created.token, 'epsilon'));
    const again = await enrolHost(db, request(created.token, 'epsilon'));
    expect(again.hostId).toBe(first.hostId);
    expect(again.consoleKey).toBe(first.consoleKey);
    expect(again.credential).not.toBe(first.credential);
    const [host] = await db.select().from(hosts).where(eq(hosts.id, first.hostId));
    expect(host?.credentialHash, 'the lost credential is void').toBe(sha256(again.credential));
    expect(await db.select().from(hosts).where(eq(hosts.hostname, 'epsilon'))).toHaveLength(1);
    expect((await eventsOf('host.enrolment-replayed')).map((e) => e.message)).toEqual([expect.stringMatching(/agent on epsilon presented token "rack 2" again before its first heartbeat/)]);

    // Another hostname with the token, or the same one once the host has sent a heartbeat, is refused.
    expect((await refusal(enrolHost(db, request(created.token, 'zeta')))).message).toMatch(/already used/);
    await db.update(hosts).set({ lastHeartbeatAt: new Date() }).where(eq(hosts.id, first.hostId));
    expect((await refusal(enrolHost(db, request(created.token, 'epsilon')))).message).toMatch(/already used/);
    const [after] = await db.select().from(hosts).where(eq(hosts.id, first.hostId));
    expect(after?.credentialHash).toBe(sha256(again.credential));
  });

  it('refuses unknown, expired and revoked tokens with 401 and changes nothing', async () => {
    const { db } = opened;
    const hostsBefore = (await db.select().from(hosts)).length;
    expect((await refusal(enrolHost(db, request('tern-enrol-not-a-real-token-at-all', 'gamma')))).message).toMatch(/not known/);

    const expired = await createEnrolmentToken(db, { label: 'old', createdBy: 'admin', ttlMs: -1_000 });
    const expiredError = await refusal(enrolHost(db, request(expired.token, 'gamma')));
    expect([expiredError.status, expiredError.message]).toEqual([401, expect.stringMatching(/expired/)]);

    const revoked = await createEnrolmentToken(db, { label: 'revoked', createdBy: 'admin' });
    await revokeEnrolmentToken(db, { tokenId: revoked.id, actor: admin });
    await revokeEnrolmentToken(db, { tokenId: revoked.id, actor: admin });
    const revokedError = await refusal(enrolHost(db, request(revoked.token, 'gamma')));
    expect([revokedError.status, revokedError.message]).toEqual([401, expect.stringMatching(/revoked/)]);
    expect(await eventsOf('agent-token.revoked')).toHaveLength(1);

    expect((await db.select().from(hosts)).length).toBe(hostsBefore);
    const [expiredRow] = await db.select().from(agentTokens).where(eq(agentTokens.id, expired.id));
    expect(expiredRow?.usedAt).toBeNull();
    expect((await eventsOf('agent.enrol-refused')).filter((e) => e.objectName === 'gamma')).toHaveLength(3);
  });

  it('refuses a hostname that is already enrolled and leaves the token usable', async () => {
    const { db } = opened;
    const token = await createEnrolmentToken(db, { label: 'dup', createdBy: 'admin' });
    const error = await refusal(enrolHost(db, request(token.token, 'alpha')));
    expect(error.status).toBe(409);
    expect(error.message).toMatch(/alpha is already enrolled.*fence that host first/);
    const enrolled = await enrolHost(db, request(token.token, 'alpha-2'));
    expect(enrolled.hostId).toBeTruthy();
  });

  it('lets exactly one of two agents racing with one token enrol', async () => {
    const { db } = opened;
    const token = await createEnrolmentToken(db, { label: 'race', createdBy: 'admin' });
    const results = await Promise.allSettled([enrolHost(db, request(token.token, 'race-1')), enrolHost(db, request(token.token, 'race-2'))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected');
    expect((rejected as PromiseRejectedResult).reason).toBeInstanceOf(AgentRefusedError);
  });

  it('refuses to revoke a token that a host already used', async () => {
    const { db } = opened;
    const token = await createEnrolmentToken(db, { label: 'used', createdBy: 'admin' });
    await enrolHost(db, request(token.token, 'delta'));
    await expect(revokeEnrolmentToken(db, { tokenId: token.id, actor: admin })).rejects.toThrow(/already used.*fence/);
  });
});
