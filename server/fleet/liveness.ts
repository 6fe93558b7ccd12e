import 'server-only';
import { and, eq, isNull, lt, or } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { hosts } from '@/db/schema';
import { config } from '@/server/config';
import type { HostRow } from '@/server/events/bus';
import { appendEvent, publishEvents } from '@/server/events/log';
import { logger } from '@/server/log';
import { publishHostChange } from './host-change';

/**
 * Marks `disconnected` every connected host whose last heartbeat (or, before its first one,
 * its enrolment) is older than timeoutMs. The agent's running jobs are not touched: it keeps
 * working on its own and reconnects with its next heartbeat.
 */
export async function markSilentHosts(db: Db, now = new Date(), timeoutMs = config.heartbeatTimeoutMs): Promise<HostRow[]> {
  const cutoff = new Date(now.getTime() - timeoutMs);
  const { silenced, rows } = await db.transaction(async (tx) => {
    const silenced = await tx
      .update(hosts)
      .set({ state: 'disconnected', stateSince: now })
      .where(
        and(
          eq(hosts.state, 'connected'),
          or(lt(hosts.lastHeartbeatAt, cutoff), and(isNull(hosts.lastHeartbeatAt), lt(hosts.stateSince, cutoff))),
        ),
      )
      .returning();
    const rows = [];
    for (const host of silenced) {
      const last = host.lastHeartbeatAt;
      const silentS = Math.round((now.getTime() - (last ?? host.enrolledAt).getTime()) / 1000);
      rows.push(
        await appendEvent(tx, {
          kind: 'host.disconnected',
          severity: 'warning',
          actor: { kind: 'system', name: 'console' },
          object: { kind: 'host', id: host.id, name: host.hostname },
          message: last
            ? `agent on ${host.hostname} silent for ${silentS} s (last heartbeat ${last.toISOString()}); its jobs keep running on the host`
            : `agent on ${host.hostname} has sent no heartbeat in the ${silentS} s since it enrolled`,
          before: { state: 'connected' },
          after: { state: 'disconnected' },
        }),
      );
    }
    return { silenced, rows };
  });
  publishEvents(...rows);
  for (const host of silenced) publishHostChange(host, false);
  return silenced;
}

const holder = globalThis as unknown as { ternLivenessMonitor?: { stop: () => void } };

/**
 * Runs markSilentHosts every intervalMs, once per process (a second call returns the running
 * monitor's stop). With the 10 s timeout and 2 s interval a host is marked within 12 s.
 */
export function startLivenessMonitor(db: Db, intervalMs = 2_000, timeoutMs = config.heartbeatTimeoutMs): () => void {
  if (holder.ternLivenessMonitor) return holder.ternLivenessMonitor.stop;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = async () => {
    try {
      await markSilentHosts(db, new Date(), timeoutMs);
    } catch (error) {
      logger.error('liveness check failed', { error: (error as Error).message });
    }
    if (!stopped) timer = setTimeout(tick, intervalMs).unref();
  };
  const monitor = {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      if (holder.ternLivenessMonitor === monitor) holder.ternLivenessMonitor = undefined;
    },
  };
  holder.ternLivenessMonitor = monitor;
  // The first check waits a full timeout: after the console itself was down, every heartbeat
  // on record is old, and live agents need one interval to report before anyone is judged.
  timer = setTimeout(tick, Math.max(intervalMs, timeoutMs)).unref();
  return monitor.stop;
}
