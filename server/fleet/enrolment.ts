import 'server-only';
import { randomUUID } from 'node:crypto';
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { agentTokens, hosts, users } from '@/db/schema';
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
 * A refusal throws AgentRefusedError (401 for the token, 409 for a taken hostname) after
 * recording `agent.enrol-refused`; the token itself never reaches the log.
 */
export async function enrolHost(db: Db, request: EnrolRequest, meta: EnrolMeta = {}): Promise<EnrolResponse> {
  const credential = randomSecret();
  const hostId = randomUUID();
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
      if (!token || reason) throw new AgentRefusedError(reason ?? 'unknown token', 401, 'enrol-token-refused');
      const [existing] = await tx.select({ id: hosts.id }).from(hosts).where(eq(hosts.hostname, request.hostname));
      if (existing) throw hostnameTaken(request.hostname, existing.id);
      // Conditional, so two agents racing with one token cannot both pass.
      const claimed = await tx
        .update(agentTokens)
        .set({ usedAt: now, usedByHostId: hostId })
        .where(and(eq(agentTokens.id, token.id), isNull(agentTokens.usedAt), isNull(agentTokens.revokedAt), gt(agentTokens.expiresAt, now)))
        .returning({ id: agentTokens.id });
      if (claimed.length === 0) throw new AgentRefusedError(`enrolment token "${token.label}" was used by another agent a moment ago`, 401, 'enrol-token-refused');
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
  return { hostId, credential, consoleKey };
}

function hostnameTaken(hostname: string, hostId?: string) {
  return new AgentRefusedError(
    `a host named ${hostname} is already enrolled${hostId ? ` (id ${hostId})` : ''}; re-enrolling an existing host is a later feature, so for now enrol this agent under another --hostname`,
    409,
    'hostname-taken',
  );
}
