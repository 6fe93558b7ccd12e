import 'server-only';
/**
 * Owns the fleet's scheduling limits in Settings: stored as one row of the `settings` table
 * (key `limits`), defaults from DEFAULT_LIMITS, validated on write and on read. The engine reads
 * them on every tick, so a change applies to running work at the next tick; an evacuation's own
 * limits override them field by field (bandwidth array by array).
 */
import { eq, inArray } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrays, evacuations, settings } from '@/db/schema';
import { DEFAULT_LIMITS, type PlanLimits } from '@/server/evacuation/plan-types';
import { appendEvent, publishEvents, type Actor } from '@/server/events/log';
import { FleetError } from '@/server/fleet/errors';
import { logger } from '@/server/log';
import { limitsSchema } from './limits-schema';

const KEY = 'limits';
/** The longest write pause a pre-copy switch may take, unless an evacuation says otherwise. */
export const DEFAULT_PAUSE_BUDGET_MS = 100;

export interface EvacuationPickup {
  id: string;
  state: string;
  sources: string[];
  /** Limit fields (and `bandwidth <array>`) the evacuation overrides, which a change in Settings does not reach. */
  overridden: string[];
}

export async function getLimits(db: Db): Promise<PlanLimits> {
  const [row] = await db.select().from(settings).where(eq(settings.key, KEY));
  if (!row) return structuredClone(DEFAULT_LIMITS);
  const parsed = limitsSchema.safeParse(row.value);
  if (parsed.success) return parsed.data;
  logger.warn('stored limits are invalid; using the defaults', { issues: parsed.error.issues.map((issue) => issue.message) });
  return structuredClone(DEFAULT_LIMITS);
}

/** Running and paused evacuations, with what each overrides: a change in Settings reaches the rest. */
export async function evacuationsUnderLimits(db: Db): Promise<EvacuationPickup[]> {
  const rows = await db.select({ id: evacuations.id, state: evacuations.state, sourceArrayIds: evacuations.sourceArrayIds, limits: evacuations.limits }).from(evacuations).where(inArray(evacuations.state, ['running', 'paused']));
  if (!rows.length) return [];
  const names = new Map((await db.select({ id: arrays.id, name: arrays.name }).from(arrays)).map((a) => [a.id, a.name]));
  return rows.map((row) => {
    const limits = row.limits as Partial<PlanLimits>;
    const overridden = (['global', 'perHost', 'perSourceArray', 'perTargetArray'] as const).filter((field) => limits[field] !== undefined);
    const bandwidth = Object.keys(limits.arrayBandwidthBytesPerS ?? {}).map((id) => `bandwidth ${names.get(id) ?? id}`);
    return { id: row.id, state: row.state, sources: row.sourceArrayIds.map((id) => names.get(id) ?? id), overridden: [...overridden, ...bandwidth] };
  });
}

/** Replaces the limits, audited with before and after; refuses a budget for an array that does not exist. */
export async function setLimits(db: Db, actor: Actor, input: PlanLimits): Promise<{ limits: PlanLimits; evacuations: EvacuationPickup[] }> {
  const parsed = limitsSchema.safeParse(input);
  if (!parsed.success) throw new FleetError('invalid', `limits: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  const limits = parsed.data;
  const budgeted = Object.keys(limits.arrayBandwidthBytesPerS);
  if (budgeted.length) {
    const known = new Set((await db.select({ id: arrays.id }).from(arrays).where(inArray(arrays.id, budgeted))).map((a) => a.id));
    const unknown = budgeted.filter((id) => !known.has(id));
    if (unknown.length) throw new FleetError('invalid', `no array with id ${unknown.join(', ')}; a bandwidth budget needs an existing array`);
  }
  const before = await getLimits(db);
  const event = await db.transaction(async (tx) => {
    await tx
      .insert(settings)
      .values({ key: KEY, value: limits })
      .onConflictDoUpdate({ target: settings.key, set: { value: limits, updatedAt: new Date() } });
    return appendEvent(tx, {
      kind: 'settings.limits-changed',
      actor,
      object: { kind: 'settings', id: KEY, name: 'Limits' },
      message: `scheduling limits changed by ${actor.name ?? 'console'}: global ${limits.global}, per host ${limits.perHost}, per source array ${limits.perSourceArray}, per target array ${limits.perTargetArray}, ${budgeted.length} array bandwidth budget${budgeted.length === 1 ? '' : 's'}; running work picks them up at the next engine tick`,
      before: { ...before },
      after: { ...limits },
    });
  });
  publishEvents(event);
  return { limits, evacuations: await evacuationsUnderLimits(db) };
}
