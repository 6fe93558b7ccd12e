import 'server-only';
/**
 * Owns the engine's loop: every second, the scheduler plans the tick (tick-plan.ts), then each
 * migration that has not ended is claimed (or its lease renewed) and advanced by one step, at
 * most STEP_CONCURRENCY at a time; the queued ones the scheduler chose are admitted together, in
 * one transaction; each cancelled or rolled-back migration whose target LUN still exists has it
 * removed; once a minute the stored samples are thinned. Telemetry does not wait for the tick:
 * agents push their samples (samples.ts). State
 * lives in the database and on the agents, so a restarted console simply resumes: it
 * re-attaches to the jobs the agents kept running.
 */
import { notInArray } from 'drizzle-orm';
import pLimit from 'p-limit';
import type { Db } from '@/db/open';
import { migrations } from '@/db/schema';
import { refreshEvacuations } from '@/server/evacuation/rollup';
import { logger } from '@/server/log';
import { cleanupTarget, migrationsToClean } from './cleanup';
import { claimLease, engineInstanceId } from './lease';
import { TERMINAL_STATES } from './migration-states';
import type { MigrationRow } from './create';
import { admitChosen, runStep } from './steps';
import { planTick } from './tick-plan';
import { thinAllSamples, THINNING_INTERVAL_MS } from './thinning';

/**
 * How many migrations' steps run at once. A step is a few queries and an agent call; running
 * hundreds at once would queue every API request's queries behind theirs in the connection pool
 * (10 connections) and stall pages for the length of a tick. TERN_ENGINE_STEP_CONCURRENCY sets it.
 */
export const STEP_CONCURRENCY = positiveInteger(process.env.TERN_ENGINE_STEP_CONCURRENCY, 'TERN_ENGINE_STEP_CONCURRENCY', 16);

function positiveInteger(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not ${value}`);
  return n;
}

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
  const admissions: MigrationRow[] = [];
  const step = async (id: string) => {
    try {
      const row = await claimLease(db, id, owner);
      if (row) await runStep(db, row, plan?.directives.get(id), now, admissions);
    } catch (error) {
      logger.warn('migration step failed; retrying next tick', { migrationId: id, error: (error as Error).message });
    }
  };
  const clean = async (id: string) => {
    try {
      const row = await claimLease(db, id, owner);
      if (row) await cleanupTarget(db, row);
    } catch (error) {
      logger.warn('target LUN cleanup failed; retrying next tick', { migrationId: id, error: (error as Error).message });
    }
  };
  const limit = pLimit(STEP_CONCURRENCY);
  await Promise.all([...live.map(({ id }) => limit(step, id)), ...ended.map((id) => limit(clean, id))]);
  await admitChosen(db, admissions, now).catch((error: unknown) =>
    logger.warn('admission failed; retrying next tick', { migrations: admissions.length, error: (error as Error).message }),
  );
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
