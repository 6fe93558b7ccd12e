import 'server-only';
/**
 * Owns the engine's loop: every second, the scheduler plans the tick (tick-plan.ts), then each
 * migration that has not ended is claimed (or its lease renewed) and advanced by one step, at
 * most STEP_CONCURRENCY at a time (a migration copying steadily only every STEADY_FOLLOW_MS:
 * its telemetry is pushed); the queued ones the scheduler chose are admitted together, in
 * one transaction; each cancelled or rolled-back migration whose target LUN still exists has it
 * removed; once a minute the stored samples are thinned. Telemetry does not wait for the tick:
 * agents push their samples (samples.ts). State lives in the database and on the agents, so a
 * restarted console simply resumes: it re-attaches to the jobs the agents kept running.
 */
import { notInArray } from 'drizzle-orm';
import pLimit from 'p-limit';
import type { Db } from '@/db/open';
import { migrations } from '@/db/schema';
import { refreshEvacuations } from '@/server/evacuation/rollup';
import { logger } from '@/server/log';
import { cleanupTarget, migrationsToClean } from './cleanup';
import { claimLease, claimLeases, engineInstanceId } from './lease';
import { TERMINAL_STATES } from './migration-states';
import type { MigrationRow } from './create';
import { admitChosen, runStep } from './steps';
import { takeNudges } from './samples';
import { planTick, type Directive } from './tick-plan';
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
 * How often a migration that is steadily copying or syncing is followed (its job's status read
 * and its row's progress updated). Its samples are pushed by the agent every second regardless,
 * and a sample that shows the job leaving steady copying (ready, cutting over, verifying,
 * failed…), stored here or relayed from another replica, nudges the engine to follow it at the
 * next tick, so this bounds only how stale the row's progress
 * columns may be, and how soon an unreachable agent is noticed.
 */
export const STEADY_FOLLOW_MS = 5_000;

/** Per lease owner, the epoch each migration was last stepped under (globalThis: one per process, whatever module instance ticks). */
function steppedEpochs(owner: string): Map<string, number> {
  const holder = globalThis as unknown as { ternSteppedEpochs?: Map<string, Map<string, number>> };
  const byOwner = (holder.ternSteppedEpochs ??= new Map());
  let stepped = byOwner.get(owner);
  if (!stepped) byOwner.set(owner, (stepped = new Map()));
  return stepped;
}

/** Whether the migration's step runs this tick: always, unless it is copying steadily with nothing to do and was followed recently. */
export function dueForStep(row: MigrationRow, directive: Directive | undefined, nudged: boolean, now: Date, steppedEpoch?: number): boolean {
  if (row.state !== 'copying' && row.state !== 'syncing') return true;
  // First step under this lease epoch here (a start or a takeover): its status read tells the agent the new epoch.
  if (steppedEpoch !== row.leaseEpoch) return true;
  if (nudged || directive?.throttle || directive?.window || row.agentUnreachableSince) return true;
  return now.getTime() - row.updatedAt.getTime() >= STEADY_FOLLOW_MS;
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
  // Every lease is renewed each tick, in one statement; steps run only for the migrations that are due.
  const claimed = await claimLeases(db, live.map(({ id }) => id), owner);
  const nudged = takeNudges();
  const step = async (row: MigrationRow) => {
    try {
      await runStep(db, row, plan?.directives.get(row.id), now, admissions);
    } catch (error) {
      logger.warn('migration step failed; retrying next tick', { migrationId: row.id, error: (error as Error).message });
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
  const stepped = steppedEpochs(owner);
  const due = claimed.filter((row) => dueForStep(row, plan?.directives.get(row.id), nudged.has(row.id), now, stepped.get(row.id)));
  const claimedIds = new Set(claimed.map((row) => row.id));
  for (const id of stepped.keys()) if (!claimedIds.has(id)) stepped.delete(id);
  for (const row of due) stepped.set(row.id, row.leaseEpoch);
  await Promise.all([...due.map((row) => limit(step, row)), ...ended.map((id) => limit(clean, id))]);
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
