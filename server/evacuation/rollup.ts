import 'server-only';
/**
 * Owns an evacuation's rollup, burndown and end, refreshed by the engine each tick (docs/architecture.md).
 *
 * - Left on source: the bytes of moves not yet committed (`committing` or `completed`); it is
 *   the number that reaches 0 when the sources are empty, and it never rises.
 * - Left to copy: the bytes not yet on a target: a whole volume until its job reports, then the
 *   job's left bytes, 0 once switched. A rollback or a failure puts the volume back in full, so
 *   this series may rise, and the rollback's event says why.
 * - Rate: the fall of left-to-copy over the last 15 min of samples (what the sources actually
 *   gave up), or the jobs' current copy rates while there is no history yet.
 * - Predicted finish: left to copy at that rate, a P10–P90 range of ×0.8–×1.4; without a rate,
 *   the plan's prediction scaled to what is left.
 * - The end: once every migration has ended, the evacuation is `failed` if any failed,
 *   `cancelled` if it was cancelled or any was cancelled or rolled back, `completed-with-exclusions`
 *   when the plan excluded volumes, else `completed`. Failures do not stop the others: while any
 *   migration is live the evacuation runs, and failures are counted in `byState`. A source
 *   becomes `evacuated` only when no plex and no mapped LUN remain on it; otherwise `online`.
 */
import { and, count, eq, gte, inArray, isNull, max, or, sql } from 'drizzle-orm';
import type { Db, Tx } from '@/db/open';
import { arrays, evacuationSamples, evacuations, lunMappings, luns, migrationState, migrations, plexes, volumes, type evacuationState } from '@/db/schema';
import { bus, type EventRow } from '@/server/events/bus';
import { appendEvent, publishEvents, type Actor } from '@/server/events/log';
import { formatBytes } from '@/server/format';
import { logger } from '@/server/log';
import { TERMINAL_STATES, type MigrationState } from '@/server/engine/migration-states';
import type { PlanResult } from './plan-types';

export type EvacuationState = (typeof evacuationState.enumValues)[number];
export type EvacuationRow = typeof evacuations.$inferSelect;

export interface Range {
  p10: number;
  p50: number;
  p90: number;
}

export interface EvacuationRollup {
  volumes: number;
  excluded: number;
  byState: Record<MigrationState, number>;
  totalBytes: number;
  leftOnSourceBytes: number;
  leftToCopyBytes: number;
  committedBytes: number;
  /** Over the last 15 min. */
  rateBytesPerS: number;
  /** Epoch ms. */
  predictedFinishAt: Range | null;
  finishAtApproval: number | null;
}

export const SAMPLE_INTERVAL_MS = 5_000;
export const RATE_WINDOW_MS = 15 * 60_000;
const SWITCHED: MigrationState[] = ['cutting-over', 'verifying', 'verified', 'committing', 'completed'];
const COMMITTED: MigrationState[] = ['committing', 'completed'];
const COPYING: MigrationState[] = ['preparing', 'syncing', 'copying', 'ready'];
const NOT_MOVED: MigrationState[] = ['failed', 'cancelled', 'rolled-back'];

export const engineEvacuationActor: Actor = { kind: 'system', name: 'engine' };

export const approvedPlan = (row: EvacuationRow) => row.plan as PlanResult | null;

/** Per evacuation and migration state: how many, their bytes, what is left to copy, their copy rate now. */
async function migrationTotals(db: Db | Tx, evacuationIds: string[]) {
  if (!evacuationIds.length) return [];
  return db
    .select({
      evacuationId: migrations.evacuationId,
      state: migrations.state,
      n: count(),
      bytes: sql<number>`coalesce(sum(${volumes.sizeBytes}), 0)`.mapWith(Number),
      leftToCopy: sql<number>`coalesce(sum(case
        when ${inArray(migrations.state, SWITCHED)} then 0
        when ${inArray(migrations.state, NOT_MOVED)} or ${migrations.agentStatus} is null then ${volumes.sizeBytes}
        else least(${migrations.dirtyBytes}, ${volumes.sizeBytes}) end), 0)`.mapWith(Number),
      copyRate: sql<number>`coalesce(sum(case when ${inArray(migrations.state, COPYING)} then ${migrations.copyRateBytesPerS} else 0 end), 0)`.mapWith(Number),
    })
    .from(migrations)
    .innerJoin(volumes, eq(volumes.id, migrations.volumeId))
    .where(inArray(migrations.evacuationId, evacuationIds))
    .groupBy(migrations.evacuationId, migrations.state);
}

type Totals = Awaited<ReturnType<typeof migrationTotals>>;

function emptyByState(): Record<MigrationState, number> {
  return Object.fromEntries(migrationState.enumValues.map((state) => [state, 0])) as Record<MigrationState, number>;
}

/** The oldest sample inside the rate window. */
async function rateBaseline(db: Db | Tx, evacuationId: string, now: Date) {
  const [oldest] = await db
    .select({ at: evacuationSamples.at, leftToCopyBytes: evacuationSamples.leftToCopyBytes })
    .from(evacuationSamples)
    .where(and(eq(evacuationSamples.evacuationId, evacuationId), gte(evacuationSamples.at, new Date(now.getTime() - RATE_WINDOW_MS))))
    .orderBy(evacuationSamples.at)
    .limit(1);
  return oldest;
}

export async function buildRollup(db: Db | Tx, evacuation: EvacuationRow, totals: Totals, now: Date): Promise<EvacuationRollup> {
  const byState = emptyByState();
  let totalBytes = 0;
  let leftToCopyBytes = 0;
  let committedBytes = 0;
  let currentRate = 0;
  for (const row of totals) {
    if (row.evacuationId !== evacuation.id) continue;
    byState[row.state] += row.n;
    totalBytes += row.bytes;
    leftToCopyBytes += row.leftToCopy;
    currentRate += row.copyRate;
    if (COMMITTED.includes(row.state)) committedBytes += row.bytes;
  }
  const leftOnSourceBytes = totalBytes - committedBytes;
  const baseline = await rateBaseline(db, evacuation.id, now);
  const spanS = baseline ? (now.getTime() - baseline.at.getTime()) / 1000 : 0;
  const rateBytesPerS = spanS >= SAMPLE_INTERVAL_MS / 1000 && baseline ? Math.max(0, Math.round((baseline.leftToCopyBytes - leftToCopyBytes) / spanS)) : currentRate;

  const plan = approvedPlan(evacuation);
  const approvedAt = evacuation.approvedAt?.getTime() ?? null;
  const at = (seconds: number) => Math.round(now.getTime() + seconds * 1000);
  let predictedFinishAt: Range | null = null;
  if (leftOnSourceBytes === 0 || leftToCopyBytes === 0) predictedFinishAt = { p10: now.getTime(), p50: now.getTime(), p90: now.getTime() };
  else if (rateBytesPerS > 0) {
    const seconds = leftToCopyBytes / rateBytesPerS;
    predictedFinishAt = { p10: at(seconds * 0.8), p50: at(seconds), p90: at(seconds * 1.4) };
  } else if (plan && totalBytes > 0) {
    const share = leftToCopyBytes / totalBytes;
    const s = plan.prediction.seconds;
    predictedFinishAt = { p10: at(s.p10 * share), p50: at(s.p50 * share), p90: at(s.p90 * share) };
  }
  return {
    volumes: Object.values(byState).reduce((a, b) => a + b, 0),
    excluded: new Set((plan?.cannotMove ?? []).filter((c) => c.code === 'excluded').map((c) => c.volumeId)).size,
    byState,
    totalBytes,
    leftOnSourceBytes,
    leftToCopyBytes,
    committedBytes,
    rateBytesPerS,
    predictedFinishAt,
    finishAtApproval: plan && approvedAt !== null ? Math.round(approvedAt + plan.prediction.seconds.p50 * 1000) : null,
  };
}

/** The rollup of one evacuation now, e.g. right after its migrations were inserted. */
export async function computeRollup(db: Db | Tx, evacuation: EvacuationRow, now = new Date()): Promise<EvacuationRollup> {
  return buildRollup(db, evacuation, await migrationTotals(db, [evacuation.id]), now);
}

export async function insertSample(db: Db | Tx, evacuationId: string, rollup: EvacuationRollup, now: Date) {
  await db.insert(evacuationSamples).values({
    evacuationId,
    at: now,
    leftOnSourceBytes: rollup.leftOnSourceBytes,
    leftToCopyBytes: rollup.leftToCopyBytes,
    committedBytes: rollup.committedBytes,
  });
}

/** How the evacuation ends once none of its migrations is live. */
export function endState(evacuation: EvacuationRow, rollup: EvacuationRollup): EvacuationState {
  if (rollup.byState.failed > 0) return 'failed';
  if (evacuation.state === 'cancelled' || rollup.byState.cancelled + rollup.byState['rolled-back'] > 0) return 'cancelled';
  if (rollup.excluded > 0) return 'completed-with-exclusions';
  return 'completed';
}

/** What still holds a source array: plexes on its LUNs and LUNs mapped to a host. */
export async function leftOnArray(db: Db | Tx, arrayId: string) {
  const [plexRow] = await db.select({ n: count() }).from(plexes).innerJoin(luns, eq(luns.id, plexes.lunId)).where(eq(luns.arrayId, arrayId));
  const [mapped] = await db.select({ n: sql<number>`count(distinct ${lunMappings.lunId})`.mapWith(Number) }).from(lunMappings).innerJoin(luns, eq(luns.id, lunMappings.lunId)).where(eq(luns.arrayId, arrayId));
  return { plexes: plexRow?.n ?? 0, mappedLuns: mapped?.n ?? 0 };
}

function endMessage(evacuation: EvacuationRow, state: EvacuationState, rollup: EvacuationRollup, sourceNames: string): string {
  const s = rollup.byState;
  const moved = `${s.completed} of ${rollup.volumes} volumes moved (${formatBytes(rollup.committedBytes)})`;
  switch (state) {
    case 'completed':
      return `evacuation of ${sourceNames} completed: ${moved}`;
    case 'completed-with-exclusions':
      return `evacuation of ${sourceNames} completed with exclusions: ${moved}; ${rollup.excluded} volume${rollup.excluded === 1 ? ' was' : 's were'} excluded and stay on the source`;
    case 'failed':
      return `evacuation of ${sourceNames} failed: ${moved}; ${s.failed} failed${s['rolled-back'] ? `, ${s['rolled-back']} rolled back` : ''}${s.cancelled ? `, ${s.cancelled} cancelled` : ''}; those stay on the source`;
    default:
      return `evacuation of ${sourceNames} ended cancelled: ${moved}; ${s.cancelled} cancelled and ${s['rolled-back']} rolled back stay on the source${evacuation.state === 'cancelled' ? '' : ' (cancelled or rolled back one by one)'}`;
  }
}

/** Ends the evacuation in `tx`: its state, its sources' states, and the events that say why. */
async function finish(tx: Tx, evacuation: EvacuationRow, rollup: EvacuationRollup, now: Date): Promise<{ state: EvacuationState; events: EventRow[] } | undefined> {
  const state = endState(evacuation, rollup);
  const [ended] = await tx
    .update(evacuations)
    .set({ state, endedAt: now, updatedAt: now, rollup: { ...rollup } })
    .where(and(eq(evacuations.id, evacuation.id), eq(evacuations.state, evacuation.state), isNull(evacuations.endedAt)))
    .returning({ id: evacuations.id });
  if (!ended) return undefined;
  const sources = await tx.select({ id: arrays.id, name: arrays.name, state: arrays.state }).from(arrays).where(inArray(arrays.id, evacuation.sourceArrayIds));
  const sourceNames = sources.map((a) => a.name).join(', ');
  const written: EventRow[] = [];
  written.push(
    await appendEvent(tx, {
      kind: `evacuation.${state}`,
      severity: state === 'failed' ? 'error' : state === 'completed' ? 'info' : 'warning',
      actor: engineEvacuationActor,
      object: { kind: 'evacuation', id: evacuation.id, name: sourceNames },
      message: endMessage(evacuation, state, rollup, sourceNames),
      before: { state: evacuation.state },
      after: { state, byState: rollup.byState, excluded: rollup.excluded, committedBytes: rollup.committedBytes },
    }),
  );
  for (const source of sources) {
    const left = await leftOnArray(tx, source.id);
    const next = left.plexes === 0 && left.mappedLuns === 0 ? 'evacuated' : 'online';
    await tx.update(arrays).set({ state: next }).where(eq(arrays.id, source.id));
    written.push(
      await appendEvent(tx, {
        kind: 'array.state-changed',
        actor: engineEvacuationActor,
        object: { kind: 'array', id: source.id, name: source.name },
        message:
          next === 'evacuated'
            ? `array ${source.name} evacuated: no plex and no mapped LUN remain on it`
            : `array ${source.name} back online after the evacuation ended ${state}: ${left.plexes} plex${left.plexes === 1 ? '' : 'es'} and ${left.mappedLuns} mapped LUN${left.mappedLuns === 1 ? '' : 's'} remain on it`,
        before: { state: source.state },
        after: { state: next, evacuationId: evacuation.id },
      }),
    );
  }
  return { state, events: written };
}

/**
 * One engine tick for every evacuation in progress: refresh its rollup, add a burndown sample
 * when the last is 5 s old, end it when none of its migrations is live, and tell subscribers.
 */
export async function refreshEvacuations(db: Db, now = new Date()): Promise<void> {
  const live = await db
    .select()
    .from(evacuations)
    .where(or(inArray(evacuations.state, ['running', 'paused']), and(eq(evacuations.state, 'cancelled'), isNull(evacuations.endedAt))));
  if (!live.length) return;
  const ids = live.map((e) => e.id);
  const totals = await migrationTotals(db, ids);
  const lastSamples = new Map(
    (await db.select({ id: evacuationSamples.evacuationId, at: max(evacuationSamples.at) }).from(evacuationSamples).where(inArray(evacuationSamples.evacuationId, ids)).groupBy(evacuationSamples.evacuationId)).map(
      (row) => [row.id, row.at],
    ),
  );
  for (const evacuation of live) {
    try {
      const rollup = await buildRollup(db, evacuation, totals, now);
      const liveMigrations = totals.filter((row) => row.evacuationId === evacuation.id && !TERMINAL_STATES.includes(row.state)).reduce((n, row) => n + row.n, 0);
      const last = lastSamples.get(evacuation.id);
      const result = await db.transaction(async (tx) => {
        const [updated] = await tx
          .update(evacuations)
          .set({ rollup: { ...rollup } })
          .where(and(eq(evacuations.id, evacuation.id), eq(evacuations.state, evacuation.state)))
          .returning({ id: evacuations.id });
        if (!updated) return undefined;
        const ending = liveMigrations === 0;
        if (ending || !last || now.getTime() - last.getTime() >= SAMPLE_INTERVAL_MS) await insertSample(tx, evacuation.id, rollup, now);
        return ending ? await finish(tx, evacuation, rollup, now) : { state: evacuation.state, events: [] };
      });
      if (!result) continue;
      publishEvents(...result.events);
      bus.publish('evacuation', { id: evacuation.id, state: result.state, rollup: { ...rollup } });
    } catch (error) {
      logger.warn('evacuation rollup failed; retrying next tick', { evacuationId: evacuation.id, error: (error as Error).message });
    }
  }
}
