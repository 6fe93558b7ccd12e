import 'server-only';
/**
 * Owns what the scheduler decides once per engine tick, from the database: the migrations to
 * admit, the throttle each copying job should have, the jobs an evacuation's window pauses or
 * resumes, and why each other queued migration waits. The steps act on these directives under
 * each migration's lease. `queueReason` runs the same decision to tell a reader why one waits.
 */
import { and, desc, eq, inArray, notInArray } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrays, evacuations, events, hosts, migrations, volumes } from '@/db/schema';
import type { PlanLimits } from '@/server/evacuation/plan-types';
import { logger } from '@/server/log';
import { getLimits } from '@/server/settings/limits';
import { TERMINAL_STATES } from './migration-states';
import { admissions, bandwidthShares, holdsSlot, windowActions, type EvacuationWindow, type ScheduledEvacuation, type ScheduledMigration, type ThrottleShare, type WindowAction } from './scheduler';
import { cutoverWindowSchema } from './window';

/** What the engine should do for one migration this tick, beyond following its job. */
export interface Directive {
  /** Admit it (queued → preparing), with the limit state in words. */
  admit?: string;
  /** Set the agent's throttle to this; present only when it differs from what the agent has. */
  throttle?: ThrottleShare;
  window?: WindowAction;
}

export interface TickPlan {
  directives: Map<string, Directive>;
  /** Why each queued migration that is not admitted waits. */
  waiting: Map<string, string>;
}

function windowOf(evacuation: typeof evacuations.$inferSelect): EvacuationWindow | null {
  const { window: value, outsideWindow, id: evacuationId } = evacuation;
  if (!value) return null;
  const window = cutoverWindowSchema.safeParse(value);
  if (window.success) return { ...window.data, outsideWindow: outsideWindow === 'pause' ? 'pause' : 'keep-copying' };
  logger.warn('evacuation window is invalid; scheduling as if it had none', { evacuationId, issues: window.error.issues.map((issue) => issue.message) });
  return null;
}

const positiveInt = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 1;

/** Settings limits with an evacuation's overrides on top, field by field and array by array. */
export function effectiveLimits(settings: PlanLimits, overrides: Partial<PlanLimits> | undefined): PlanLimits {
  const limits = { ...settings, arrayBandwidthBytesPerS: { ...settings.arrayBandwidthBytesPerS } };
  if (!overrides) return limits;
  for (const field of ['global', 'perHost', 'perSourceArray', 'perTargetArray'] as const) {
    if (positiveInt(overrides[field])) limits[field] = overrides[field];
  }
  for (const [arrayId, bytesPerS] of Object.entries(overrides.arrayBandwidthBytesPerS ?? {})) {
    if (positiveInt(bytesPerS)) limits.arrayBandwidthBytesPerS[arrayId] = bytesPerS;
  }
  return limits;
}

export async function planTick(db: Db, now = new Date()): Promise<TickPlan> {
  const rows = await db
    .select({ migration: migrations, hostId: hosts.id, hostname: hosts.hostname })
    .from(migrations)
    .innerJoin(volumes, eq(volumes.id, migrations.volumeId))
    .innerJoin(hosts, eq(hosts.id, volumes.hostId))
    .where(notInArray(migrations.state, [...TERMINAL_STATES, 'planned']));
  const plan: TickPlan = { directives: new Map(), waiting: new Map() };
  if (!rows.length) return plan;

  const settings = await getLimits(db);
  const arrayNames = new Map((await db.select({ id: arrays.id, name: arrays.name }).from(arrays)).map((a) => [a.id, a.name]));
  const evacuationIds = [...new Set(rows.map((row) => row.migration.evacuationId).filter((id): id is string => id !== null))];
  const evacuationRows = evacuationIds.length ? await db.select().from(evacuations).where(inArray(evacuations.id, evacuationIds)) : [];
  const scheduled = new Map<string, ScheduledEvacuation>(evacuationRows.map((e) => [e.id, { id: e.id, state: e.state, window: windowOf(e) }]));
  const limitsOf = new Map(evacuationRows.map((e) => [e.id, effectiveLimits(settings, e.limits as Partial<PlanLimits>)]));

  const array = (id: string) => ({ id, name: arrayNames.get(id) ?? id });
  const all: ScheduledMigration[] = rows.map(({ migration: m, hostId, hostname }) => ({
    id: m.id,
    state: m.state,
    hasJob: m.agentStatus !== null,
    host: { id: hostId, name: hostname },
    source: m.sourceArrayId ? array(m.sourceArrayId) : null,
    target: array(m.targetArrayId),
    evacuation: m.evacuationId ? (scheduled.get(m.evacuationId) ?? null) : null,
    priority: m.priority,
    createdAtMs: m.createdAt.getTime(),
    throttleBytesPerS: m.throttleBytesPerS,
  }));
  await markPausedForWindow(db, all);
  const limitsFor = (m: ScheduledMigration) => (m.evacuation ? limitsOf.get(m.evacuation.id)! : settings);

  const directive = (id: string) => {
    let d = plan.directives.get(id);
    if (!d) plan.directives.set(id, (d = {}));
    return d;
  };
  const decided = admissions(
    all.filter((m) => m.state === 'queued'),
    all.filter(holdsSlot),
    limitsFor,
    now,
  );
  for (const { id, cause } of decided.admit) directive(id).admit = cause;
  for (const { id, reason } of decided.wait) plan.waiting.set(id, reason);

  const applied = new Map(rows.map(({ migration: m }) => [m.id, (m.agentStatus as { throttleBytesPerS?: number | null } | null)?.throttleBytesPerS]));
  const shares = bandwidthShares(all, (m, arrayId) => limitsFor(m).arrayBandwidthBytesPerS[arrayId]);
  for (const [id, share] of shares) if (applied.get(id) !== share.bytesPerS) directive(id).throttle = share;
  for (const action of windowActions(all, now)) directive(action.id).window = action;
  return plan;
}

/** Marks the paused migrations of window-pausing evacuations whose last pause was the engine's, for the window. */
async function markPausedForWindow(db: Db, all: ScheduledMigration[]) {
  const candidates = all.filter((m) => m.state === 'paused' && m.evacuation?.window?.outsideWindow === 'pause');
  if (!candidates.length) return;
  const pauses = await db
    .select({ objectId: events.objectId, after: events.after })
    .from(events)
    .where(and(eq(events.kind, 'migration.paused'), inArray(events.objectId, candidates.map((m) => m.id))))
    .orderBy(desc(events.id));
  const last = new Map<string, Record<string, unknown> | null>();
  for (const pause of pauses) if (pause.objectId && !last.has(pause.objectId)) last.set(pause.objectId, pause.after);
  for (const m of candidates) m.pausedForWindow = last.get(m.id)?.pausedBy === 'window';
}

/** Why a queued migration has not started, or null when it is not waiting for the scheduler. */
export async function queueReason(db: Db, migrationId: string, now = new Date()): Promise<string | null> {
  return (await planTick(db, now)).waiting.get(migrationId) ?? null;
}
