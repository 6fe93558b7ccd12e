/**
 * Owns the scheduler's decisions (docs/architecture.md), as pure functions of what the engine loaded this
 * tick: which queued migrations to admit under the concurrency cost model, what copy rate each
 * running job may use under the arrays' bandwidth budgets, and which jobs an evacuation's
 * window pauses or resumes. No I/O here; `tick-plan.ts` loads the inputs and the steps act.
 *
 * Invariants:
 * - A migration holds a slot from `preparing` until it has switched and verified: `preparing`,
 *   `syncing`, `copying`, `ready` (the job still copies what applications write), `cutting-over`,
 *   `verifying`, `committing`, and `paused` once the agent holds the job (resume restarts it
 *   without asking the scheduler). `verified` holds none: it copies nothing while it waits for
 *   a commit, and an evacuation that keeps its sources until "Commit all" must not stall there.
 * - Every counter (global, per host, per source array, per target array) counts the whole fleet;
 *   a candidate is admitted only while each counter it would raise stays within the candidate's
 *   own effective limits (Settings, overridden by its evacuation's limits).
 * - Candidates are taken by priority (high first), then age, then id, so every console replica
 *   computes the same choice from the same rows.
 * - An array's budget is the tightest budget any job on it is under; it is shared max-min
 *   fairly: a job held lower by its own throttle or its other array leaves the rest to the others.
 */
import { formatBytes } from '@/server/format';
import type { PlanLimits } from '@/server/evacuation/plan-types';
import type { MigrationState } from './migration-states';
import { describeWindow, isWindowOpen, windowState, type CutoverWindow } from './window';

export interface EvacuationWindow extends CutoverWindow {
  outsideWindow: 'keep-copying' | 'pause';
}

export interface ScheduledEvacuation {
  id: string;
  state: string;
  window: EvacuationWindow | null;
}

export interface ScheduledMigration {
  id: string;
  state: MigrationState;
  /** The agent holds the job (it reported a status at least once). */
  hasJob: boolean;
  host: { id: string; name: string };
  source: { id: string; name: string } | null;
  target: { id: string; name: string };
  evacuation: ScheduledEvacuation | null;
  /** Higher first; 0 when the row has none. */
  priority: number;
  createdAtMs: number;
  /** The operator's own copy-rate limit, null = none. */
  throttleBytesPerS: number | null;
  /** Paused by the engine because the evacuation's window closed (so the engine may resume it). */
  pausedForWindow?: boolean;
}

export type LimitsFor = (migration: ScheduledMigration) => PlanLimits;

const SLOT_STATES: readonly MigrationState[] = ['preparing', 'syncing', 'copying', 'ready', 'cutting-over', 'verifying', 'committing'];
/** States whose job copies under the agent's throttle, and so takes a share of a budget. */
const COPYING_STATES: readonly MigrationState[] = ['preparing', 'syncing', 'copying', 'ready'];
/** Evacuation states whose queued migrations may start (planned: approved rows not yet marked running). */
const ADMITTING_EVACUATION_STATES = ['running', 'planned'];

export function holdsSlot(migration: Pick<ScheduledMigration, 'state' | 'hasJob'>): boolean {
  return SLOT_STATES.includes(migration.state) || (migration.state === 'paused' && migration.hasJob);
}

export function isCopying(migration: Pick<ScheduledMigration, 'state'>): boolean {
  return COPYING_STATES.includes(migration.state);
}

export interface Admissions {
  /** In admission order, each with the limit state in words for its event. */
  admit: { id: string; cause: string }[];
  /** Why each other queued migration waits. */
  wait: { id: string; reason: string }[];
}

const byPriorityThenAge = (a: ScheduledMigration, b: ScheduledMigration) =>
  b.priority - a.priority || a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function counter() {
  const counts = new Map<string, number>();
  return { get: (key: string) => counts.get(key) ?? 0, add: (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1) };
}

function untilText(at: Date, now: Date): string {
  const minutes = Math.max(1, Math.round((at.getTime() - now.getTime()) / 60_000));
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `in ${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

/** Why an evacuation keeps its queued migrations from starting now, or undefined when it does not. */
export function evacuationHold(evacuation: ScheduledEvacuation | null, now: Date): string | undefined {
  if (!evacuation) return undefined;
  if (!ADMITTING_EVACUATION_STATES.includes(evacuation.state)) return `its evacuation is ${evacuation.state}; none of its migrations start until it runs`;
  const window = evacuation.window;
  if (window && !isWindowOpen(window, now)) {
    const opensAt = windowState({ mode: 'window', window }, now).opensAt;
    return `waits for window ${describeWindow(window)}${opensAt ? `, which opens ${untilText(opensAt, now)}` : ''}`;
  }
  return undefined;
}

/**
 * Which queued migrations start now. `running` are the migrations that hold slots (others are
 * ignored); `queued` those in `queued`.
 */
export function admissions(queued: ScheduledMigration[], running: ScheduledMigration[], limitsFor: LimitsFor, now: Date): Admissions {
  const fleet = counter();
  const host = counter();
  const source = counter();
  const target = counter();
  const take = (m: ScheduledMigration) => {
    fleet.add('all');
    host.add(m.host.id);
    if (m.source) source.add(m.source.id);
    target.add(m.target.id);
  };
  for (const m of running) if (holdsSlot(m)) take(m);

  const result: Admissions = { admit: [], wait: [] };
  for (const m of [...queued].sort(byPriorityThenAge)) {
    const held = evacuationHold(m.evacuation, now);
    if (held) {
      result.wait.push({ id: m.id, reason: held });
      continue;
    }
    const limits = limitsFor(m);
    const levels = [
      { text: `fleet runs`, n: fleet.get('all'), limit: limits.global },
      { text: `host ${m.host.name} runs`, n: host.get(m.host.id), limit: limits.perHost },
      ...(m.source ? [{ text: `${m.source.name} sends`, n: source.get(m.source.id), limit: limits.perSourceArray }] : []),
      { text: `${m.target.name} receives`, n: target.get(m.target.id), limit: limits.perTargetArray },
    ];
    const full = levels.filter((level) => level.n >= level.limit);
    if (full.length) {
      result.wait.push({ id: m.id, reason: `waits for a slot: ${full.map((level) => `${level.text} ${level.n} of ${level.limit}`).join('; ')}` });
      continue;
    }
    take(m);
    result.admit.push({ id: m.id, cause: `admitted: ${levels.map((level) => `${level.text} ${level.n + 1} of ${level.limit}`).join('; ')}` });
  }
  return result;
}

export interface ThrottleShare {
  /** The rate the agent's job should be held to; null = unlimited. */
  bytesPerS: number | null;
  /** What holds it there, in words. */
  reason: string;
}

const rate = (bytesPerS: number) => `${formatBytes(bytesPerS)}/s`;

/**
 * Each copying job's throttle: min(its own throttle, its fair share of its source's read budget,
 * its fair share of its target's write budget), by progressive filling (max-min fairness).
 * `budgetFor(migration, arrayId)` is the budget that migration's limits give the array.
 */
export function bandwidthShares(jobs: ScheduledMigration[], budgetFor: (migration: ScheduledMigration, arrayId: string) => number | undefined): Map<string, ThrottleShare> {
  const copying = jobs.filter(isCopying);
  const arrays = new Map<string, { name: string; role: 'read' | 'write'; budget: number; jobs: ScheduledMigration[] }>();
  const join = (m: ScheduledMigration, array: { id: string; name: string }, role: 'read' | 'write') => {
    const budget = budgetFor(m, array.id);
    const entry = arrays.get(array.id);
    if (entry) {
      entry.jobs.push(m);
      if (budget !== undefined) entry.budget = Math.min(entry.budget, budget);
    } else {
      arrays.set(array.id, { name: array.name, role, budget: budget ?? Infinity, jobs: [m] });
    }
  };
  for (const m of copying) {
    if (m.source) join(m, m.source, 'read');
    join(m, m.target, 'write');
  }

  const shares = new Map<string, ThrottleShare>();
  const used = new Map<string, number>();
  const active = new Set(copying.map((m) => m.id));
  while (active.size) {
    let level = Infinity;
    for (const [arrayId, array] of arrays) {
      const n = array.jobs.filter((m) => active.has(m.id)).length;
      if (n && Number.isFinite(array.budget)) level = Math.min(level, (array.budget - (used.get(arrayId) ?? 0)) / n);
    }
    for (const m of copying) if (active.has(m.id) && m.throttleBytesPerS !== null) level = Math.min(level, m.throttleBytesPerS);
    if (!Number.isFinite(level)) {
      for (const id of active) shares.set(id, { bytesPerS: null, reason: 'no budget or throttle applies' });
      break;
    }
    // Freeze every job held at this level: by its own throttle, or by an array that is now full.
    const frozen = new Map<string, string>();
    for (const m of copying) {
      if (active.has(m.id) && m.throttleBytesPerS !== null && m.throttleBytesPerS <= level) frozen.set(m.id, `its own limit ${rate(m.throttleBytesPerS)}`);
    }
    for (const [arrayId, array] of arrays) {
      const onIt = array.jobs.filter((m) => active.has(m.id));
      if (!onIt.length || !Number.isFinite(array.budget)) continue;
      if ((array.budget - (used.get(arrayId) ?? 0)) / onIt.length <= level * (1 + 1e-9)) {
        const why = `${array.name} ${array.role} budget ${rate(array.budget)} shared by ${array.jobs.length} job${array.jobs.length === 1 ? '' : 's'}`;
        for (const m of onIt) if (!frozen.has(m.id)) frozen.set(m.id, why);
      }
    }
    for (const [id, reason] of frozen) {
      const m = copying.find((job) => job.id === id)!;
      const bytesPerS = Math.max(1, Math.floor(level));
      shares.set(id, { bytesPerS, reason });
      active.delete(id);
      for (const array of [m.source, m.target]) if (array) used.set(array.id, (used.get(array.id) ?? 0) + bytesPerS);
    }
  }
  return shares;
}

export interface WindowAction {
  id: string;
  action: 'pause' | 'resume';
  cause: string;
}

/**
 * For evacuations that pause copying outside their window: the jobs to pause now that it is
 * closed, and the jobs the engine paused to resume now that it is open. A job an operator
 * paused is left alone, and nothing resumes while the evacuation itself is paused.
 */
export function windowActions(migrations: ScheduledMigration[], now: Date): WindowAction[] {
  const actions: WindowAction[] = [];
  for (const m of migrations) {
    const window = m.evacuation?.window;
    if (!window || window.outsideWindow !== 'pause' || !m.hasJob) continue;
    const open = isWindowOpen(window, now);
    if (!open && ['syncing', 'copying', 'ready'].includes(m.state)) {
      actions.push({ id: m.id, action: 'pause', cause: `window ${describeWindow(window)} closed; this evacuation pauses copying outside its window` });
    } else if (open && m.state === 'paused' && m.pausedForWindow && ADMITTING_EVACUATION_STATES.includes(m.evacuation!.state)) {
      actions.push({ id: m.id, action: 'resume', cause: `window ${describeWindow(window)} open; copying resumes` });
    }
  }
  return actions;
}
