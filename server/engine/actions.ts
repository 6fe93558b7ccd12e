import 'server-only';
/**
 * Owns operator actions on a migration (pause, resume, cancel, cutover, commit, rollback,
 * throttle). An action the state does not allow is refused with the state and what would be
 * valid, and changes nothing; otherwise the agent acts first and the row and its event follow
 * what the agent reports. Any replica may serve the action: the command carries the lease epoch
 * of the row as read here, so an agent that has since seen a newer owner's epoch refuses it.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { hosts, migrations, volumes } from '@/db/schema';
import type { Actor } from '@/server/events/log';
import { AgentCallError, agentClient, type AgentTarget } from '@/server/fleet/agent-client';
import { FleetError } from '@/server/fleet/errors';
import { formatBytes } from '@/server/format';
import type { MigrationStatus } from '@/server/protocol/agent-api';
import { consoleState, progressOf } from './agent-status';
import type { MigrationRow } from './create';
import { refusal, type MigrationAction, type MigrationState } from './migration-states';
import { transition, type Transition } from './transition';

export type JobAction = Exclude<MigrationAction, 'setThrottle'>;

const PAST: Record<JobAction, string> = {
  pause: 'paused',
  resume: 'resumed',
  cancel: 'cancelled',
  cutover: 'cut over',
  commit: 'committed',
  rollback: 'rolled back',
};

async function load(db: Db, id: string) {
  const [found] = await db
    .select({ row: migrations, host: { id: hosts.id, hostname: hosts.hostname, agentUrl: hosts.agentUrl, state: hosts.state }, volume: { name: volumes.nbdExport, regionSizeBytes: volumes.regionSizeBytes } })
    .from(migrations)
    .innerJoin(volumes, eq(volumes.id, migrations.volumeId))
    .innerJoin(hosts, eq(hosts.id, volumes.hostId))
    .where(eq(migrations.id, id));
  if (!found) throw new FleetError('not-found', `migration ${id} does not exist`);
  return found;
}

/** A fenced host's agent is not trusted, so no command reaches it; the way back is re-enrolment. */
function fencedRefusal(volume: string, hostname: string, action: string) {
  return new FleetError('conflict', `${volume}: cannot ${action}: host ${hostname} is fenced, so the console sends its agent nothing; re-enrol the host with a new token to act on its migrations`);
}

/**
 * The command to the agent, with the row's lease epoch. A `stale-epoch` refusal means another
 * replica took the migration over between our read and the agent's check; the agent changed
 * nothing, and the operator can simply try again (the next read has the new epoch).
 */
async function command<T>(volume: string, action: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (!(error instanceof AgentCallError && error.code === 'stale-epoch')) throw error;
    throw new FleetError('conflict', `${volume}: cannot ${action} now: another console replica took this migration over while the command was on its way, and the agent refused it unchanged (${error.message}); try again`);
  }
}

/** Whether the agent may hold the job: it is started during `preparing`, never before. */
async function agentHasJob(db: Db, row: MigrationRow, host: AgentTarget): Promise<boolean> {
  if (row.agentStatus) return true;
  if (row.state !== 'preparing') return false;
  try {
    await agentClient.migration(db, host, row.id);
    return true;
  } catch (error) {
    if (error instanceof AgentCallError && error.status === 404) return false;
    throw error;
  }
}

/** Applies a change, once more from the current row if the engine moved the state meanwhile. */
async function record(db: Db, row: MigrationRow, change: (from: MigrationRow) => Transition): Promise<MigrationRow> {
  const done = await transition(db, row, change(row));
  if (done) return done;
  const { row: now } = await load(db, row.id);
  return (await transition(db, now, change(now))) ?? now;
}

export async function migrationAction(db: Db, actor: Actor, id: string, action: JobAction): Promise<MigrationRow> {
  const { row, host, volume } = await load(db, id);
  const refused = refusal(action, row.state);
  if (refused) throw new FleetError('conflict', `${volume.name}: ${refused}`);

  if (host.state === 'fenced' && (row.agentStatus || row.state === 'preparing')) throw fencedRefusal(volume.name, host.hostname, action);
  if (!(await agentHasJob(db, row, host))) {
    const local: Partial<Record<JobAction, MigrationState>> = { pause: 'paused', resume: 'queued', cancel: 'cancelled', rollback: 'rolled-back' };
    const to = local[action];
    if (!to) throw new FleetError('conflict', `${volume.name}: cannot ${action} before the copy has started; it is ${row.state}`);
    return record(db, row, () => ({ to, actor, cause: `${volume.name}: ${PAST[action]} by ${actor.name ?? 'console'} before the copy started` }));
  }

  const status: MigrationStatus = await command(volume.name, action, () => agentClient.migrationAction(db, host, id, action, row.leaseEpoch));
  const to = action === 'pause' ? 'paused' : consoleState(status, row.state);
  return record(db, row, (from) => ({
    to: from.state === 'completed' ? from.state : to,
    actor,
    kind: to === from.state ? `migration.${action}-requested` : `migration.${to}`,
    cause: `${volume.name}: ${PAST[action]} by ${actor.name ?? 'console'}; agent reports ${status.phase}`,
    patch: progressOf(status, volume.regionSizeBytes),
  }));
}

export async function setThrottle(db: Db, actor: Actor, id: string, bytesPerS: number | null): Promise<MigrationRow> {
  const { row, host, volume } = await load(db, id);
  const refused = refusal('setThrottle', row.state);
  if (refused) throw new FleetError('conflict', `${volume.name}: ${refused}`);
  if (host.state === 'fenced' && (row.agentStatus || row.state === 'preparing')) throw fencedRefusal(volume.name, host.hostname, 'setThrottle');
  const status = (await agentHasJob(db, row, host))
    ? await command(volume.name, 'setThrottle', () => agentClient.setMigrationThrottle(db, host, id, bytesPerS, row.leaseEpoch))
    : undefined;
  const limit = bytesPerS === null ? 'unlimited' : `${formatBytes(bytesPerS)}/s`;
  return record(db, row, (from) => ({
    to: from.state,
    actor,
    kind: 'migration.throttle-changed',
    cause: `${volume.name}: copy rate limit set to ${limit} by ${actor.name ?? 'console'}`,
    patch: { ...(status ? progressOf(status, volume.regionSizeBytes) : {}), throttleBytesPerS: bytesPerS },
  }));
}
