import { describe, expect, it } from 'vitest';
import { migrationState } from '@/db/schema';
import { allowedActions, refusal, TERMINAL_STATES } from './migration-states';

describe('migration state machine', () => {
  it('allows nothing once a migration has ended', () => {
    for (const state of TERMINAL_STATES) expect(allowedActions(state)).toEqual([]);
  });

  it('never allows cancel after the switch, nor commit before verification', () => {
    for (const state of ['cutting-over', 'verifying', 'verified', 'committing'] as const) expect(refusal('cancel', state)).toMatch(/commit it or roll back/);
    for (const state of migrationState.enumValues.filter((s) => s !== 'verified')) expect(refusal('commit', state)).toBeDefined();
    expect(refusal('commit', 'verified')).toBeUndefined();
  });

  it('names the state and what is valid in a refusal', () => {
    expect(refusal('resume', 'copying')).toBe('cannot resume a migration that is copying. Valid now: pause, cancel, setThrottle, cutover, rollback');
    expect(refusal('pause', 'completed')).toBe('cannot pause a migration that is completed. Valid now: nothing (it has ended)');
  });

  it('gives every state at least one way forward or an end', () => {
    for (const state of migrationState.enumValues) {
      if (TERMINAL_STATES.includes(state) || state === 'committing') continue;
      expect(allowedActions(state).length, state).toBeGreaterThan(0);
    }
  });
});
