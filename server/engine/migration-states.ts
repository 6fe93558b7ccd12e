/**
 * The migration state machine of DESIGN section 4, as the engine and the API see it, and which
 * operator actions each state allows. An action refused here names the state and what would be
 * valid, and changes nothing.
 */
import type { migrationState } from '@/db/schema';

export type MigrationState = (typeof migrationState.enumValues)[number];
export type MigrationAction = 'pause' | 'resume' | 'cancel' | 'setThrottle' | 'cutover' | 'commit' | 'rollback';

export const TERMINAL_STATES: readonly MigrationState[] = ['completed', 'failed', 'cancelled', 'rolled-back'];

/** States in which the target is not yet authoritative: the source still is. */
const BEFORE_SWITCH: readonly MigrationState[] = ['planned', 'queued', 'preparing', 'syncing', 'copying', 'ready', 'paused'];

const ALLOWED: Record<MigrationAction, readonly MigrationState[]> = {
  pause: ['queued', 'preparing', 'syncing', 'copying', 'ready'],
  resume: ['paused'],
  cancel: BEFORE_SWITCH,
  setThrottle: ['planned', 'queued', 'preparing', 'syncing', 'copying', 'ready', 'paused'],
  cutover: ['syncing', 'copying', 'ready'],
  commit: ['verified'],
  rollback: [...BEFORE_SWITCH, 'cutting-over', 'verifying', 'verified'],
};

const WHY: Partial<Record<MigrationAction, string>> = {
  cancel: 'after cutover the target holds the newest data: commit it or roll back instead',
  commit: 'commit releases the source, so it waits for a verified cutover',
  cutover: 'cutover needs the copy under way',
};

export function allowedActions(state: MigrationState): MigrationAction[] {
  return (Object.keys(ALLOWED) as MigrationAction[]).filter((action) => ALLOWED[action].includes(state));
}

export function isAllowed(action: MigrationAction, state: MigrationState): boolean {
  return ALLOWED[action].includes(state);
}

/** Why an action cannot run now, or undefined when it can. */
export function refusal(action: MigrationAction, state: MigrationState): string | undefined {
  if (isAllowed(action, state)) return undefined;
  const valid = allowedActions(state);
  const why = WHY[action] ? `; ${WHY[action]}` : '';
  return `cannot ${action} a migration that is ${state}${why}. Valid now: ${valid.length ? valid.join(', ') : 'nothing (it has ended)'}`;
}
