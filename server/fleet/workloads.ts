import 'server-only';
/**
 * Owns the console's view of the verifiable write workloads agents run on their volumes (the
 * demo starts one per volume): listing them, and stopping one to have its agent check every
 * acknowledged write, the proof that a migration lost nothing. The result is an event, an error
 * when any write was lost.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { hosts } from '@/db/schema';
import { recordEvent, type Actor } from '@/server/events/log';
import type { WorkloadStatus } from '@/server/protocol/agent-api';
import { agentClient } from './agent-client';
import { FleetError } from './errors';

async function hostTarget(db: Db, hostId: string) {
  const [host] = await db.select({ id: hosts.id, hostname: hosts.hostname, agentUrl: hosts.agentUrl, state: hosts.state }).from(hosts).where(eq(hosts.id, hostId));
  if (!host) throw new FleetError('not-found', `host ${hostId} does not exist`);
  if (host.state !== 'connected') throw new FleetError('unavailable', `host ${host.hostname} is ${host.state}; its agent must be connected`);
  return host;
}

export async function listWorkloads(db: Db, hostId: string): Promise<WorkloadStatus[]> {
  return agentClient.workloads(db, await hostTarget(db, hostId));
}

/** Stops the workload on `volume` (its writes settle first), then has the agent read back every acknowledged write. */
export async function stopAndVerifyWorkload(db: Db, actor: Actor, hostId: string, volume: string): Promise<WorkloadStatus> {
  const host = await hostTarget(db, hostId);
  await agentClient.stopWorkload(db, host, volume);
  const status = await agentClient.verifyWorkload(db, host, volume);
  const verify = status.verify;
  await recordEvent(db, {
    kind: 'workload.verified',
    severity: verify && verify.lost > 0 ? 'error' : 'info',
    actor,
    object: { kind: 'host', id: host.id, name: host.hostname },
    message: verify
      ? `${host.hostname}:${volume}: workload stopped after ${status.writes} writes; ${verify.checked} acknowledged writes checked, ${verify.lost} lost, ${verify.indeterminate} indeterminate`
      : `${host.hostname}:${volume}: workload stopped; the agent returned no verification`,
    after: { volume, writes: status.writes, verify },
  });
  return status;
}
