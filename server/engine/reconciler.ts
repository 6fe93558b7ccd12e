import 'server-only';
/**
 * Owns the engine's loop: every second, the scheduler plans the tick (tick-plan.ts), then each
 * migration that has not ended is claimed (or its lease renewed) and advanced by one step, and each cancelled or rolled-back migration whose
 * target LUN still exists has it removed; once a minute the stored samples are thinned. State
 * lives in the database and on the agents, so a restarted console simply resumes: it
 * re-attaches to the jobs the agents kept running.
 */
import { notInArray } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { migrations } from '@/db/schema';
import { refreshEvacuations } from '@/server/evacuation/rollup';
import { logger } from '@/server/log';
import { cleanupTarget, migrationsToClean } from './cleanup';
import { claimLease, engineInstanceId } from './lease';
import { TERMINAL_STATES } from './migration-states';
import { runStep } from './steps';
import { planTick } from './tick-plan';
import { thinAllSamples, THINNING_INTERVAL_MS } from './thinning';

/**
 * One pass over every live migration; resolves when each has had its step. The scheduler decides
 * once, from the database, before the steps run: which queued migrations start, each copying
 * job's throttle, and window pauses. `now` is the time windows are judged at (tests inject it).
 */
export async function reconcileOnce(db: Db, owner = engineInstanceId, now = new Date()): Promise<void> {
  const live = await db
    .select({ id: migrations.id })
    .from(migrations)
    .where(notInArray(migrations.state, [...TERMINAL_STATES, 'planned']));
  const ended = await migrationsToClean(db);
  const plan = live.length ? await planTick(db, now) : undefined;
  await Promise.all([
    ...live.map(async ({ id }) => {
      try {
        const row = await claimLease(db, id, owner);
        if (row) await runStep(db, row, plan?.directives.get(id), now);
      } catch (error) {
        logger.warn('migration step failed; retrying next tick', { migrationId: id, error: (error as Error).message });
      }
    }),
    ...ended.map(async (id) => {
      try {
        const row = await claimLease(db, id, owner);
        if (row) await cleanupTarget(db, row);
      } catch (error) {
        logger.warn('target LUN cleanup failed; retrying next tick', { migrationId: id, error: (error as Error).message });
      }
    }),
  ]);
  // Evacuations roll up their migrations after the steps, so each rollup sees this tick's states.
  await refreshEvacuations(db).catch((error: unknown) => logger.warn('evacuation rollups failed; retrying next tick', { error: (error as Error).message }));
}

const holder = globalThis as unknown as { ternReconciler?: { stop: () => Promise<void> } };

/** Runs reconcileOnce every intervalMs, once per process; returns a stop that waits for the tick in flight. */
export function startReconciler(db: Db, intervalMs = 1_000): () => Promise<void> {
  if (holder.ternReconciler) return holder.ternReconciler.stop;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  let thinnedAt = 0;
  const thinIfDue = async () => {
    if (Date.now() - thinnedAt < THINNING_INTERVAL_MS) return;
    thinnedAt = Date.now();
    await thinAllSamples(db);
  };
  const tick = () => {
    inFlight = reconcileOnce(db)
      .then(thinIfDue)
      .catch((error: unknown) => logger.error('reconciler tick failed', { error: (error as Error).message }))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs).unref();
      });
  };
  const reconciler = {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      if (holder.ternReconciler === reconciler) holder.ternReconciler = undefined;
      await inFlight;
    },
  };
  holder.ternReconciler = reconciler;
  timer = setTimeout(tick, intervalMs).unref();
  return reconciler.stop;
}
