import 'server-only';
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '@/db/open';
import { hosts } from '@/db/schema';
import { sameSecret, sha256 } from '@/server/auth/secrets';
import type { EventRow } from '@/server/events/bus';
import { appendEvent, publishEvents, recordEvent } from '@/server/events/log';
import { bearer, type HeartbeatRequest, type HeartbeatResponse } from '@/server/protocol/agent-api';
import { AgentRefusedError } from './agent-refused';
import { publishHostChange } from './host-change';
import { hashInventory, syncIfChanged } from './inventory-sync';
import { recordWriteRates } from './write-rates';

const AUTH_EVENT_INTERVAL_MS = 60_000;

/**
 * Records one heartbeat: authenticates `Bearer <hostId>.<credential>`, refreshes the host's
 * liveness fields, reconnects a disconnected host, and syncs the inventory when its hash
 * changed. Throws AgentRefusedError(401) for an unknown host, a wrong credential or a fenced
 * host, after recording `agent.auth-refused` (at most once a minute per host).
 */
export async function recordHeartbeat(db: Db, authorization: string | null | undefined, body: HeartbeatRequest, now = new Date()) {
  const known = await authenticateAgent(db, authorization, 'heartbeat', now);
  const inventoryHash = body.inventory ? hashInventory(body.inventory) : body.inventoryHash!;
  const answer = (held: string | null, inventoryWanted = false): HeartbeatResponse => ({ ok: true, serverTime: now.toISOString(), inventoryHash: held, ...(inventoryWanted ? { inventoryWanted } : {}) });
  // Only a hash, and not the one held: nothing is recorded until the agent sends the inventory.
  if (!body.inventory && known.inventoryHash !== inventoryHash) return answer(known.inventoryHash, true);

  // Nearly every heartbeat: a connected host, its inventory unchanged. One guarded update, no
  // transaction; if the host changed state meanwhile, the full path below takes over.
  if (known.state === 'connected' && known.inventoryHash === inventoryHash) {
    const ratesChanged = body.writeRates ? (await recordWriteRates(db, known.id, body.writeRates)) > 0 : false;
    const [updated] = await db
      .update(hosts)
      .set({ lastHeartbeatAt: now, agentUrl: body.agentUrl, agentVersion: body.agentVersion })
      .where(and(eq(hosts.id, known.id), eq(hosts.state, 'connected'), eq(hosts.inventoryHash, inventoryHash)))
      .returning();
    if (updated) {
      publishHostChange(updated, ratesChanged);
      return answer(inventoryHash);
    }
  }

  const outcome = await db.transaction(async (tx) => {
    const [host] = await tx.select().from(hosts).where(eq(hosts.id, known.id)).for('update');
    if (!host || host.state === 'fenced') return undefined;
    if (!body.inventory && host.inventoryHash !== inventoryHash) return 'wanted' as const;
    const rows: EventRow[] = [];
    const synced = body.inventory ? await syncIfChanged(tx, host, body.inventory, inventoryHash) : { changed: false, event: undefined };
    if (synced.event) rows.push(synced.event);
    const inventoryChanged = synced.changed;
    const ratesChanged = body.writeRates ? (await recordWriteRates(tx, host.id, body.writeRates)) > 0 : false;
    const reconnecting = host.state !== 'connected';
    const [updated] = await tx
      .update(hosts)
      .set({
        lastHeartbeatAt: now,
        agentUrl: body.agentUrl,
        agentVersion: body.agentVersion,
        inventoryHash,
        ...(reconnecting ? { state: 'connected' as const, stateSince: now } : {}),
      })
      .where(eq(hosts.id, host.id))
      .returning();
    if (!updated) throw new Error(`host ${host.hostname} vanished during its heartbeat`);
    if (reconnecting) {
      const since = host.lastHeartbeatAt ?? host.stateSince;
      const silentS = Math.round((now.getTime() - since.getTime()) / 1000);
      rows.push(
        await appendEvent(tx, {
          kind: 'host.connected',
          actor: { kind: 'agent', id: host.id, name: host.hostname },
          object: { kind: 'host', id: host.id, name: host.hostname },
          message: host.lastHeartbeatAt ? `agent on ${host.hostname} is back after ${silentS} s` : `agent on ${host.hostname} connected`,
          before: { state: host.state },
          after: { state: 'connected', agentUrl: body.agentUrl, agentVersion: body.agentVersion },
        }),
      );
    }
    // A stored rate change makes pages refetch the host like an inventory change does.
    return { host: updated, rows, inventoryChanged: inventoryChanged || ratesChanged };
  });
  // Fenced between the check and the transaction.
  if (!outcome) throw await refuseAuth(db, 'heartbeat', `host ${known.hostname} is fenced: the console revoked its credential`, known.id, known.hostname, now);
  if (outcome === 'wanted') return answer(known.inventoryHash, true);
  publishEvents(...outcome.rows);
  publishHostChange(outcome.host, outcome.inventoryChanged);
  return answer(outcome.host.inventoryHash);
}

/**
 * The host an agent call comes from, by `Bearer <hostId>.<credential>`; throws
 * AgentRefusedError(401) for an unknown host, a wrong credential or a fenced host, after
 * recording `agent.auth-refused` (at most once a minute per host). `call` names the route in it.
 */
export async function authenticateAgent(db: Db, authorization: string | null | undefined, call: string, now = new Date()): Promise<typeof hosts.$inferSelect> {
  const { hostId, credential } = parseCredential(authorization);
  const [known] = hostId ? await db.select().from(hosts).where(eq(hosts.id, hostId)) : [];
  const problem = !hostId
    ? 'missing or malformed credential (expected Authorization: Bearer <hostId>.<credential>)'
    : !known
      ? `no host with id ${hostId} is enrolled; enrol this agent again with a new token`
      : known.state === 'fenced'
        ? `host ${known.hostname} is fenced: the console revoked its credential; enrol it again with a new token`
        : !sameSecret(sha256(credential), known.credentialHash)
          ? `wrong credential for host ${known.hostname}; the identity file of its agent does not match what the console issued`
          : undefined;
  if (problem || !known) throw await refuseAuth(db, call, problem ?? 'unknown host', hostId, known?.hostname, now);
  return known;
}

function parseCredential(authorization: string | null | undefined): { hostId?: string; credential: string } {
  const token = bearer(authorization) ?? '';
  const dot = token.indexOf('.');
  const hostId = token.slice(0, dot);
  if (dot < 0 || !z.uuid().safeParse(hostId).success) return { credential: '' };
  return { hostId, credential: token.slice(dot + 1) };
}

const holder = globalThis as unknown as { ternAuthRefusals?: WeakMap<Db, Map<string, number>> };

/** Records `agent.auth-refused` unless one was recorded for this host within the last minute. */
async function refuseAuth(db: Db, call: string, reason: string, hostId: string | undefined, hostname: string | undefined, now: Date) {
  const byDb = (holder.ternAuthRefusals ??= new WeakMap());
  let last = byDb.get(db);
  if (!last) byDb.set(db, (last = new Map()));
  const key = hostId ?? 'malformed';
  const previous = last.get(key);
  if (previous === undefined || now.getTime() - previous >= AUTH_EVENT_INTERVAL_MS) {
    if (last.size > 10_000) last.clear();
    last.set(key, now.getTime());
    await recordEvent(db, {
      kind: 'agent.auth-refused',
      severity: 'warning',
      actor: { kind: 'agent', id: hostId, name: hostname ?? hostId ?? 'unknown agent' },
      object: { kind: 'host', id: hostname ? hostId : null, name: hostname ?? null },
      message: `${call} refused: ${reason}${hostId ? ' (further refusals for this host in the next minute are not logged)' : ''}`,
      after: { reason },
    });
  }
  return new AgentRefusedError(reason, 401, 'agent-auth-refused');
}
