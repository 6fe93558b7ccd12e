import 'server-only';
/**
 * Owns fencing a host: the console stops trusting its agent. In one transaction the agent's
 * credential is replaced by the hash of a secret nobody holds (so its heartbeats and every agent
 * route answer 401 even if the state were changed back by hand), the host becomes `fenced`, and
 * each of its unfinished migrations is marked with the reason. The engine leaves those
 * migrations where they are: it does not call a fenced host's agent, which may still be running
 * their jobs with the source authoritative. The way back is re-enrolment with a new token
 * (enrolment.ts), which keeps the host's id, volumes and migrations.
 */
import { and, eq, inArray, notInArray } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { hosts, migrations, volumes } from '@/db/schema';
import { randomSecret, sha256 } from '@/server/auth/secrets';
import { TERMINAL_STATES } from '@/server/engine/migration-states';
import type { EventRow } from '@/server/events/bus';
import { appendEvent, publishEvents, type Actor } from '@/server/events/log';
import { FleetError } from './errors';
import { publishHostChange } from './host-change';

export interface FenceResult {
  hostId: string;
  hostname: string;
  /** False when the host was already fenced: nothing changed. */
  fenced: boolean;
  /** The unfinished migrations marked with the reason. */
  migrationIds: string[];
}

/** The `error` every migration of a fenced host carries, so re-enrolment can recognise and clear it. */
export const fencedReason = (hostname: string, by: string) =>
  `host ${hostname} was fenced by ${by}: the console no longer drives this migration or trusts its agent, which may still be running the job with the source authoritative; re-enrol the host to continue`;

export async function fenceHost(db: Db, actor: Actor, input: { hostId: string; confirm: string }): Promise<FenceResult> {
  const outcome = await db.transaction(async (tx) => {
    const [host] = await tx.select().from(hosts).where(eq(hosts.id, input.hostId)).for('update');
    if (!host) throw new FleetError('not-found', `host ${input.hostId} does not exist`);
    if (input.confirm !== host.hostname) {
      throw new FleetError('invalid', `type the hostname ${host.hostname} exactly to confirm fencing it (got "${input.confirm.slice(0, 64)}")`);
    }
    if (host.state === 'fenced') return { host, rows: [] as EventRow[], migrationIds: [] as string[], changed: false };
    const now = new Date();
    const [updated] = await tx
      .update(hosts)
      .set({ state: 'fenced', stateSince: now, credentialHash: sha256(randomSecret()) })
      .where(eq(hosts.id, host.id))
      .returning();
    if (!updated) throw new Error(`host ${host.hostname} vanished while being fenced`);
    const rows: EventRow[] = [];
    const reason = fencedReason(host.hostname, actor.name ?? 'the console');
    const marked = await tx
      .update(migrations)
      .set({ error: reason, agentUnreachableSince: now, updatedAt: now })
      .where(
        and(
          inArray(migrations.volumeId, tx.select({ id: volumes.id }).from(volumes).where(eq(volumes.hostId, host.id))),
          notInArray(migrations.state, [...TERMINAL_STATES]),
        ),
      )
      .returning({ id: migrations.id, state: migrations.state });
    rows.push(
      await appendEvent(tx, {
        kind: 'host.fenced',
        severity: 'warning',
        actor,
        object: { kind: 'host', id: host.id, name: host.hostname },
        message: `host ${host.hostname} fenced: its agent's credential is revoked and ${marked.length} unfinished migration${marked.length === 1 ? '' : 's'} left where ${marked.length === 1 ? 'it is' : 'they are'}`,
        before: { state: host.state },
        after: { state: 'fenced', migrationIds: marked.map((m) => m.id) },
      }),
    );
    for (const migration of marked) {
      rows.push(
        await appendEvent(tx, {
          kind: 'migration.host-fenced',
          severity: 'warning',
          actor,
          object: { kind: 'migration', id: migration.id },
          message: `${reason}; it stays ${migration.state}`,
        }),
      );
    }
    return { host: updated, rows, migrationIds: marked.map((m) => m.id), changed: true };
  });
  publishEvents(...outcome.rows);
  if (outcome.changed) publishHostChange(outcome.host, false);
  return { hostId: outcome.host.id, hostname: outcome.host.hostname, fenced: outcome.changed, migrationIds: outcome.migrationIds };
}
