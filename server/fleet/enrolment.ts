import 'server-only';
import { randomUUID } from 'node:crypto';
import { and, desc, eq, gt, inArray, isNull, like, ne, notInArray } from 'drizzle-orm';
import type { Db, Tx } from '@/db/open';
import { agentTokens, hosts, migrations, users, volumes } from '@/db/schema';
import { TERMINAL_STATES } from '@/server/engine/migration-states';
import { randomSecret, sha256 } from '@/server/auth/secrets';
import { appendEvent, publishEvents, recordEvent, type Actor } from '@/server/events/log';
import type { EnrolRequest, EnrolResponse } from '@/server/protocol/agent-api';
import { AgentRefusedError, isUniqueViolation } from './agent-refused';
import { consoleKeyFor } from './console-secret';
import { FleetError } from './errors';
import { publishHostChange } from './host-change';

export const DEFAULT_TOKEN_TTL_MS = 24 * 3_600_000;
const TOKEN_PREFIX = 'tern-enrol-';

export interface CreateEnrolmentTokenInput {
  label: string;
  /** Username stored on the token. */
  createdBy: string;
  ttlMs?: number;
  /** Who the audit event names; defaults to the user named `createdBy`. */
  actor?: Actor;
}

export interface EnrolmentToken {
  id: string;
  /** Shown once: only its SHA-256 is stored. */
  token: string;
  label: string;
  expiresAt: Date;
}

export async function createEnrolmentToken(db: Db, input: CreateEnrolmentTokenInput): Promise<EnrolmentToken> {
  const token = `${TOKEN_PREFIX}${randomSecret()}`;
  const expiresAt = new Date(Date.now() + (input.ttlMs ?? DEFAULT_TOKEN_TTL_MS));
  const { row, event } = await db.transaction(async (tx) => {
    const [user] = input.actor ? [] : await tx.select({ id: users.id }).from(users).where(eq(users.username, input.createdBy));
    const actor: Actor = input.actor ?? (user ? { kind: 'user', id: user.id, name: input.createdBy } : { kind: 'system', name: input.createdBy });
    const [row] = await tx
      .insert(agentTokens)
      .values({ tokenHash: sha256(token), label: input.label, createdBy: input.createdBy, expiresAt })
      .returning({ id: agentTokens.id });
    if (!row) throw new Error('token insert returned no row');
    const event = await appendEvent(tx, {
      kind: 'agent-token.created',
      actor,
      object: { kind: 'agent-token', id: row.id, name: input.label },
      message: `enrolment token "${input.label}" created, valid until ${expiresAt.toISOString()}`,
      after: { label: input.label, expiresAt: expiresAt.toISOString() },
    });
    return { row, event };
  });
  publishEvents(event);
  return { id: row.id, token, label: input.label, expiresAt };
}

/** Revokes an unused token; revoking twice is a no-op. A used token belongs to a host: fence the host instead. */
export async function revokeEnrolmentToken(db: Db, input: { tokenId: string; actor: Actor }): Promise<void> {
  const event = await db.transaction(async (tx) => {
    const [token] = await tx.select().from(agentTokens).where(eq(agentTokens.id, input.tokenId)).for('update');
    if (!token) throw new FleetError('not-found', `enrolment token ${input.tokenId} does not exist`);
    if (token.revokedAt) return undefined;
    if (token.usedAt) {
      throw new FleetError('conflict', `enrolment token "${token.label}" was already used by host ${token.usedByHostId}; fence that host to cut it off`);
    }
    await tx.update(agentTokens).set({ revokedAt: new Date() }).where(eq(agentTokens.id, token.id));
    return appendEvent(tx, {
      kind: 'agent-token.revoked',
      actor: input.actor,
      object: { kind: 'agent-token', id: token.id, name: token.label },
      message: `enrolment token "${token.label}" revoked`,
    });
  });
  if (event) publishEvents(event);
}

export interface EnrolMeta {
  /** Where the request came from, for the audit log. */
  remoteAddress?: string;
}

/**
 * Exchanges a one-time token for a host identity. The token is checked and consumed, the host
 * inserted and the audit event written in one transaction, so a token enrols at most one host.
 * A fenced host's name may enrol again: the host keeps its id, volumes and migrations, gets a
 * new credential and is `connected` (`host.re-enrolled`). A refusal throws AgentRefusedError
 * (401 for the token, 409 for a hostname held by a host that is not fenced) after recording
 * `agent.enrol-refused`; the token itself never reaches the log.
 */
export async function enrolHost(db: Db, request: EnrolRequest, meta: EnrolMeta = {}): Promise<EnrolResponse> {
  const credential = randomSecret();
  const [fenced] = await db.select({ id: hosts.id }).from(hosts).where(and(eq(hosts.hostname, request.hostname), eq(hosts.state, 'fenced')));
  const hostId = fenced?.id ?? randomUUID();
  // Derived before the transaction: once the token is consumed, nothing may fail the reply.
  const consoleKey = await consoleKeyFor(db, hostId);
  let enrolled;
  try {
    enrolled = await db.transaction(async (tx) => {
      const now = new Date();
      const [token] = await tx.select().from(agentTokens).where(eq(agentTokens.tokenHash, sha256(request.token)));
      const reason = !token
        ? 'the enrolment token is not known to this console; create one in Settings → Agents'
        : token.revokedAt
          ? `enrolment token "${token.label}" was revoked; create a new one`
          : token.usedAt
            ? `enrolment token "${token.label}" was already used at ${token.usedAt.toISOString()}; tokens are single-use, create a new one`
            : token.expiresAt <= now
              ? `enrolment token "${token.label}" expired at ${token.expiresAt.toISOString()}; create a new one`
              : undefined;
      if (token && token.usedAt && !token.revokedAt && token.expiresAt > now) {
        const replayed = await replayEnrolment(tx, token, request, { credential, remoteAddress: meta.remoteAddress, now });
        if (replayed) return replayed;
      }
      if (!token || reason) throw new AgentRefusedError(reason ?? 'unknown token', 401, 'enrol-token-refused');
      const [existing] = await tx.select().from(hosts).where(eq(hosts.hostname, request.hostname)).for('update');
      if (existing && (existing.state !== 'fenced' || existing.id !== hostId)) throw hostnameTaken(request.hostname, existing.id);
      // Conditional, so two agents racing with one token cannot both pass.
      const claimed = await tx
        .update(agentTokens)
        .set({ usedAt: now, usedByHostId: hostId })
        .where(and(eq(agentTokens.id, token.id), isNull(agentTokens.usedAt), isNull(agentTokens.revokedAt), gt(agentTokens.expiresAt, now)))
        .returning({ id: agentTokens.id });
      if (claimed.length === 0) throw new AgentRefusedError(`enrolment token "${token.label}" was used by another agent a moment ago`, 401, 'enrol-token-refused');
      if (existing) return reEnrol(tx, existing, request, { credential, tokenId: token.id, tokenLabel: token.label, remoteAddress: meta.remoteAddress, now });
      const [host] = await tx
        .insert(hosts)
        .values({
          id: hostId,
          hostname: request.hostname,
          agentUrl: request.agentUrl,
          agentVersion: request.agentVersion,
          state: 'connected',
          stateSince: now,
          credentialHash: sha256(credential),
        })
        .returning();
      if (!host) throw new Error('host insert returned no row');
      const event = await appendEvent(tx, {
        kind: 'host.enrolled',
        actor: { kind: 'agent', id: hostId, name: request.hostname },
        object: { kind: 'host', id: hostId, name: request.hostname },
        message: `host ${request.hostname} enrolled with token "${token.label}" (agent ${request.agentVersion} at ${request.agentUrl})`,
        after: { hostname: request.hostname, agentUrl: request.agentUrl, agentVersion: request.agentVersion, tokenId: token.id, remoteAddress: meta.remoteAddress ?? null },
      });
      return { host, event };
    });
  } catch (error) {
    const refusal = isUniqueViolation(error) ? hostnameTaken(request.hostname) : error;
    if (refusal instanceof AgentRefusedError) {
      await recordEvent(db, {
        kind: 'agent.enrol-refused',
        severity: 'warning',
        actor: { kind: 'agent', name: request.hostname },
        object: { kind: 'host', name: request.hostname },
        message: `enrolment of ${request.hostname} refused: ${refusal.message}`,
        after: { hostname: request.hostname, reason: refusal.message, remoteAddress: meta.remoteAddress ?? null },
      });
    }
    throw refusal;
  }
  publishEvents(enrolled.event);
  publishHostChange(enrolled.host, true);
  if (enrolled.host.id !== hostId) return { hostId: enrolled.host.id, credential, consoleKey: await consoleKeyFor(db, enrolled.host.id) };
  return { hostId, credential, consoleKey };
}

/**
 * The same agent presenting its token again because the answer to its first try was lost (it
 * timed out while the console was slow, or the connection dropped): the token's host has the same
 * hostname and has never sent a heartbeat, so no agent holds a working credential for it. The
 * host gets a new credential (the lost one is void) and the agent its identity; anything else
 * about a used token is refused as before.
 */
async function replayEnrolment(
  tx: Tx,
  token: typeof agentTokens.$inferSelect,
  request: EnrolRequest,
  use: { credential: string; remoteAddress?: string; now: Date },
) {
  if (!token.usedByHostId) return undefined;
  const [host] = await tx
    .update(hosts)
    .set({ agentUrl: request.agentUrl, agentVersion: request.agentVersion, credentialHash: sha256(use.credential) })
    .where(and(eq(hosts.id, token.usedByHostId), eq(hosts.hostname, request.hostname), isNull(hosts.lastHeartbeatAt), ne(hosts.state, 'fenced')))
    .returning();
  if (!host) return undefined;
  const event = await appendEvent(tx, {
    kind: 'host.enrolment-replayed',
    severity: 'warning',
    actor: { kind: 'agent', id: host.id, name: host.hostname },
    object: { kind: 'host', id: host.id, name: host.hostname },
    message: `agent on ${host.hostname} presented token "${token.label}" again before its first heartbeat (the answer to its first enrolment was lost); it gets a new credential and the first one is void`,
    after: { agentUrl: request.agentUrl, agentVersion: request.agentVersion, tokenId: token.id, remoteAddress: use.remoteAddress ?? null },
  });
  return { host, event };
}

/**
 * A fenced host enrols again under its id: new credential, `connected`, and the fencing marks on
 * its unfinished migrations cleared so the engine drives them once the agent answers.
 */
async function reEnrol(
  tx: Tx,
  host: typeof hosts.$inferSelect,
  request: EnrolRequest,
  use: { credential: string; tokenId: string; tokenLabel: string; remoteAddress?: string; now: Date },
) {
  const [updated] = await tx
    .update(hosts)
    .set({ agentUrl: request.agentUrl, agentVersion: request.agentVersion, state: 'connected', stateSince: use.now, credentialHash: sha256(use.credential), inventoryHash: null })
    .where(eq(hosts.id, host.id))
    .returning();
  if (!updated) throw new Error(`host ${host.hostname} vanished during re-enrolment`);
  const cleared = await tx
    .update(migrations)
    .set({ error: null, updatedAt: use.now })
    .where(
      and(
        inArray(migrations.volumeId, tx.select({ id: volumes.id }).from(volumes).where(eq(volumes.hostId, host.id))),
        notInArray(migrations.state, [...TERMINAL_STATES]),
        like(migrations.error, `host ${host.hostname} was fenced by %`),
      ),
    )
    .returning({ id: migrations.id });
  const event = await appendEvent(tx, {
    kind: 'host.re-enrolled',
    severity: 'warning',
    actor: { kind: 'agent', id: host.id, name: host.hostname },
    object: { kind: 'host', id: host.id, name: host.hostname },
    message: `fenced host ${host.hostname} enrolled again with token "${use.tokenLabel}" (agent ${request.agentVersion} at ${request.agentUrl}); ${cleared.length} unfinished migration${cleared.length === 1 ? '' : 's'} handed back to the engine`,
    before: { state: host.state, agentUrl: host.agentUrl },
    after: { state: 'connected', agentUrl: request.agentUrl, agentVersion: request.agentVersion, tokenId: use.tokenId, remoteAddress: use.remoteAddress ?? null, migrationIds: cleared.map((m) => m.id) },
  });
  return { host: updated, event };
}

function hostnameTaken(hostname: string, hostId?: string) {
  return new AgentRefusedError(
    `a host named ${hostname} is already enrolled${hostId ? ` (id ${hostId})` : ''}; enrol this agent under another --hostname, or fence that host first if this agent replaces it`,
    409,
    'hostname-taken',
  );
}

export type EnrolmentTokenStatus = 'unused' | 'used' | 'expired' | 'revoked';

/** Every enrolment token, newest first, with what became of it; never the secret (only its hash is stored). */
export async function listEnrolmentTokens(db: Db, now = new Date()) {
  const rows = await db
    .select({
      id: agentTokens.id,
      label: agentTokens.label,
      createdBy: agentTokens.createdBy,
      createdAt: agentTokens.createdAt,
      expiresAt: agentTokens.expiresAt,
      usedAt: agentTokens.usedAt,
      usedByHostId: agentTokens.usedByHostId,
      revokedAt: agentTokens.revokedAt,
    })
    .from(agentTokens)
    .orderBy(desc(agentTokens.createdAt))
    .limit(500);
  return rows.map((row) => {
    const status: EnrolmentTokenStatus = row.revokedAt ? 'revoked' : row.usedAt ? 'used' : row.expiresAt <= now ? 'expired' : 'unused';
    return { ...row, status };
  });
}
