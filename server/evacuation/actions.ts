import 'server-only';
/**
 * Owns the bulk controls of an evacuation (docs/ui.md §3.11.2): pause and resume (its migrations and
 * the admission of its queued ones), cancel (stop what has not switched, roll back what has
 * switched but is not committed; committed volumes stay moved), commit all verified, roll back
 * all switched, and its own limits. A control the evacuation's state does not allow is refused
 * with the state and what is valid, and changes nothing. A state change and its audit event
 * commit together before the migrations are acted on, so the scheduler stops (or resumes)
 * admitting at once; each migration's own action is audited by the engine, and the outcome
 * counts come back to the caller (and in an event when some could not be acted on).
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrays, evacuations, migrations, volumes } from '@/db/schema';
import { migrationAction, type JobAction } from '@/server/engine/actions';
import { isAllowed, type MigrationState } from '@/server/engine/migration-states';
import { bus } from '@/server/events/bus';
import { appendEvent, publishEvents, recordEvent, type Actor } from '@/server/events/log';
import { FleetError } from '@/server/fleet/errors';
import { formatBytes } from '@/server/format';
import { confirmPhrase, sourceArrays } from './create';
import type { LimitsOverride } from './options';
import { evacuationById, evacuationListRow, type EvacuationListRow } from './queries';
import type { EvacuationRow, EvacuationState } from './rollup';

export type BulkControl = 'pause' | 'resume' | 'cancel' | 'commitAll' | 'rollbackAll' | 'setLimits';

const VALID: Record<BulkControl, readonly EvacuationState[]> = {
  pause: ['running'],
  resume: ['paused'],
  cancel: ['running', 'paused'],
  commitAll: ['running', 'paused'],
  rollbackAll: ['running', 'paused'],
  setLimits: ['planned', 'running', 'paused'],
};

const LABEL: Record<BulkControl, string> = {
  pause: 'pause',
  resume: 'resume',
  cancel: 'cancel',
  commitAll: 'commit all volumes of',
  rollbackAll: 'roll back all volumes of',
  setLimits: 'change the limits of',
};

/** States whose target holds the newest data but whose source is not yet released. */
const SWITCHED_UNCOMMITTED: readonly MigrationState[] = ['cutting-over', 'verifying', 'verified'];

function refuse(control: BulkControl, row: EvacuationRow): never {
  const valid = (Object.keys(VALID) as BulkControl[]).filter((c) => VALID[c].includes(row.state));
  throw new FleetError('conflict', `cannot ${LABEL[control]} an evacuation that is ${row.state}. Valid now: ${valid.length ? valid.join(', ') : 'nothing (it has ended)'}`);
}

export interface BulkOutcome {
  /** Migrations acted on, by the action taken. */
  acted: Partial<Record<JobAction, number>>;
  /** Migrations left as they are (already past the point where the control applies, or ended). */
  untouched: number;
  /** Migrations the control applied to but that refused or could not be reached, with why. */
  failed: { migrationId: string; volume: string; reason: string }[];
}

type Target = { id: string; state: MigrationState; volume: string };

async function migrationsOf(db: Db, evacuationId: string): Promise<Target[]> {
  return db
    .select({ id: migrations.id, state: migrations.state, volume: volumes.nbdExport })
    .from(migrations)
    .innerJoin(volumes, eq(volumes.id, migrations.volumeId))
    .where(eq(migrations.evacuationId, evacuationId))
    .orderBy(migrations.priority);
}

/** Applies `choose(migration)` to each migration; undefined leaves it alone. */
async function actOnEach(db: Db, actor: Actor, targets: Target[], choose: (m: Target) => JobAction | undefined): Promise<BulkOutcome> {
  const outcome: BulkOutcome = { acted: {}, untouched: 0, failed: [] };
  for (const m of targets) {
    const action = choose(m);
    if (!action) {
      outcome.untouched++;
      continue;
    }
    try {
      await migrationAction(db, actor, m.id, action);
      outcome.acted[action] = (outcome.acted[action] ?? 0) + 1;
    } catch (error) {
      outcome.failed.push({ migrationId: m.id, volume: m.volume, reason: (error as Error).message });
    }
  }
  return outcome;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function describe(outcome: BulkOutcome): string {
  const acted = Object.entries(outcome.acted).map(([action, n]) => `${action} ${n}`);
  return `${acted.length ? acted.join(', ') : 'nothing to act on'}; ${outcome.untouched} left as they are${outcome.failed.length ? `; ${outcome.failed.length} could not be acted on` : ''}`;
}

/** Records the migrations a control could not act on; they are already audited one by one when acted on. */
async function reportFailures(db: Db, actor: Actor, row: EvacuationRow, control: BulkControl, outcome: BulkOutcome) {
  if (!outcome.failed.length) return;
  await recordEvent(db, {
    kind: `evacuation.${control}-incomplete`,
    severity: 'warning',
    actor,
    object: { kind: 'evacuation', id: row.id },
    message: `${control}: ${plural(outcome.failed.length, 'migration')} could not be acted on: ${outcome.failed
      .slice(0, 5)
      .map((f) => `${f.volume}: ${f.reason}`)
      .join('; ')}`,
    after: { failed: outcome.failed },
  });
}

/** Changes the evacuation's state with its event, in one transaction, if it is still in `from.state`. */
async function changeState(db: Db, actor: Actor, from: EvacuationRow, to: EvacuationState, kind: string, message: string, after: Record<string, unknown> = {}) {
  const event = await db.transaction(async (tx) => {
    const [updated] = await tx
      .update(evacuations)
      .set({ state: to, updatedAt: new Date() })
      .where(and(eq(evacuations.id, from.id), eq(evacuations.state, from.state)))
      .returning({ id: evacuations.id });
    if (!updated) return undefined;
    return appendEvent(tx, { kind, actor, object: { kind: 'evacuation', id: from.id }, message, before: { state: from.state }, after: { state: to, ...after } });
  });
  if (!event) throw new FleetError('conflict', `the evacuation changed state meanwhile; it is no longer ${from.state}. Reload and try again`);
  publishEvents(event);
}

async function finishControl(db: Db, id: string, outcome: BulkOutcome): Promise<EvacuationListRow & { outcome: BulkOutcome }> {
  const row = await evacuationListRow(db, id);
  bus.publish('evacuation', { id, state: row.state, rollup: { ...row.rollup } });
  return { ...row, outcome };
}

export async function pauseEvacuation(db: Db, actor: Actor, id: string) {
  const row = await evacuationById(db, id);
  if (!VALID.pause.includes(row.state)) refuse('pause', row);
  const targets = await migrationsOf(db, id);
  const pausable = targets.filter((m) => isAllowed('pause', m.state)).length;
  await changeState(db, actor, row, 'paused', 'evacuation.paused', `paused by ${actor.name ?? 'console'}: no queued migration starts; ${plural(pausable, 'migration')} to pause, those past the switch finish`, { pausable });
  const outcome = await actOnEach(db, actor, targets, (m) => (isAllowed('pause', m.state) ? 'pause' : undefined));
  await reportFailures(db, actor, row, 'pause', outcome);
  return finishControl(db, id, outcome);
}

export async function resumeEvacuation(db: Db, actor: Actor, id: string) {
  const row = await evacuationById(db, id);
  if (!VALID.resume.includes(row.state)) refuse('resume', row);
  const targets = await migrationsOf(db, id);
  const paused = targets.filter((m) => m.state === 'paused').length;
  await changeState(db, actor, row, 'running', 'evacuation.resumed', `resumed by ${actor.name ?? 'console'}: ${plural(paused, 'paused migration')} resume and queued ones start again`, { paused });
  const outcome = await actOnEach(db, actor, targets, (m) => (m.state === 'paused' ? 'resume' : undefined));
  await reportFailures(db, actor, row, 'resume', outcome);
  return finishControl(db, id, outcome);
}

/** What cancel does to a migration: cancel before the switch, roll back after it, nothing once committed. */
function cancelAction(state: MigrationState): JobAction | undefined {
  if (isAllowed('cancel', state)) return 'cancel';
  if (SWITCHED_UNCOMMITTED.includes(state)) return 'rollback';
  return undefined;
}

export async function cancelEvacuation(db: Db, actor: Actor, id: string) {
  const row = await evacuationById(db, id);
  if (!VALID.cancel.includes(row.state)) refuse('cancel', row);
  const targets = await migrationsOf(db, id);
  const plan = { cancel: 0, rollback: 0, stay: 0 };
  for (const m of targets) {
    const action = cancelAction(m.state);
    if (action === 'cancel') plan.cancel++;
    else if (action === 'rollback') plan.rollback++;
    else if (m.state === 'completed' || m.state === 'committing') plan.stay++;
  }
  await changeState(
    db,
    actor,
    row,
    'cancelled',
    'evacuation.cancelled',
    `cancelled by ${actor.name ?? 'console'}: ${plural(plan.cancel, 'migration')} stop before the switch (targets deleted, sources kept), ${plan.rollback} roll back to their source, ${plan.stay} already committed stay moved`,
    plan,
  );
  const outcome = await actOnEach(db, actor, targets, (m) => cancelAction(m.state));
  await reportFailures(db, actor, row, 'cancel', outcome);
  return finishControl(db, id, outcome);
}

export async function commitAll(db: Db, actor: Actor, id: string, confirm: string) {
  const row = await evacuationById(db, id);
  if (!VALID.commitAll.includes(row.state)) refuse('commitAll', row);
  const sources = await sourceArrays(db, row.sourceArrayIds);
  const phrase = confirmPhrase(sources.map((s) => s.name));
  if (confirm.trim() !== phrase) throw new FleetError('invalid', `type "${phrase}" to confirm committing every verified volume; got "${confirm}"`);
  const targets = await migrationsOf(db, id);
  const outcome = await actOnEach(db, actor, targets, (m) => (m.state === 'verified' ? 'commit' : undefined));
  await recordEvent(db, {
    kind: 'evacuation.commit-all',
    actor,
    object: { kind: 'evacuation', id },
    message: `commit all by ${actor.name ?? 'console'}: ${plural(outcome.acted.commit ?? 0, 'verified volume')} committed (their source LUNs are released and deleted); ${describe(outcome)}`,
    after: { ...outcome },
  });
  return finishControl(db, id, outcome);
}

export async function rollbackAll(db: Db, actor: Actor, id: string) {
  const row = await evacuationById(db, id);
  if (!VALID.rollbackAll.includes(row.state)) refuse('rollbackAll', row);
  const targets = await migrationsOf(db, id);
  const outcome = await actOnEach(db, actor, targets, (m) => (SWITCHED_UNCOMMITTED.includes(m.state) ? 'rollback' : undefined));
  await recordEvent(db, {
    kind: 'evacuation.rollback-all',
    actor,
    object: { kind: 'evacuation', id },
    message: `roll back all by ${actor.name ?? 'console'}: ${plural(outcome.acted.rollback ?? 0, 'switched, uncommitted volume')} go back to their source, so their bytes are left to copy again; ${describe(outcome)}`,
    after: { ...outcome },
  });
  return finishControl(db, id, outcome);
}

const limitText = (limits: LimitsOverride, names: Map<string, string>) =>
  [
    ...(['global', 'perHost', 'perSourceArray', 'perTargetArray'] as const).filter((k) => limits[k] !== undefined).map((k) => `${k} ${limits[k]}`),
    ...Object.entries(limits.arrayBandwidthBytesPerS ?? {}).map(([arrayId, bytesPerS]) => `${names.get(arrayId) ?? arrayId} ${formatBytes(bytesPerS)}/s`),
  ].join(', ') || 'Settings only';

/** Replaces the fields given of the evacuation's own limits; the scheduler applies them at its next tick. */
export async function setEvacuationLimits(db: Db, actor: Actor, id: string, limits: LimitsOverride) {
  const row = await evacuationById(db, id);
  if (!VALID.setLimits.includes(row.state)) refuse('setLimits', row);
  const budgeted = Object.keys(limits.arrayBandwidthBytesPerS ?? {});
  const known = budgeted.length ? await db.select({ id: arrays.id, name: arrays.name }).from(arrays).where(inArray(arrays.id, budgeted)) : [];
  const unknown = budgeted.filter((arrayId) => !known.some((a) => a.id === arrayId));
  if (unknown.length) throw new FleetError('invalid', `no array with id ${unknown.join(', ')}; a bandwidth budget needs an existing array`);
  const before = row.limits as LimitsOverride;
  const next: LimitsOverride = { ...before, ...limits };
  const names = new Map((await db.select({ id: arrays.id, name: arrays.name }).from(arrays)).map((a) => [a.id, a.name]));
  const event = await db.transaction(async (tx) => {
    const [updated] = await tx
      .update(evacuations)
      .set({ limits: { ...next }, updatedAt: new Date() })
      .where(and(eq(evacuations.id, id), inArray(evacuations.state, [...VALID.setLimits])))
      .returning({ id: evacuations.id });
    if (!updated) return undefined;
    return appendEvent(tx, {
      kind: 'evacuation.limits-changed',
      actor,
      object: { kind: 'evacuation', id },
      message: `limits changed by ${actor.name ?? 'console'}: ${limitText(before, names)} → ${limitText(next, names)}; the engine applies them at its next tick`,
      before: { ...before },
      after: { ...next },
    });
  });
  if (!event) throw new FleetError('conflict', 'the evacuation ended meanwhile; its limits no longer apply');
  publishEvents(event);
  return finishControl(db, id, { acted: {}, untouched: 0, failed: [] });
}
