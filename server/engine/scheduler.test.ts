/**
 * The scheduler's pure decisions: admission under every counter of the cost model with
 * per-evacuation overrides, priority before age, paused evacuations and closed windows; fair
 * bandwidth shares under read and write budgets; and window pauses and resumes.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type PlanLimits } from '@/server/evacuation/plan-types';
import type { MigrationState } from './migration-states';
import { admissions, bandwidthShares, holdsSlot, windowActions, type ScheduledEvacuation, type ScheduledMigration } from './scheduler';

const MiB = 1024 * 1024;
const NOW = new Date('2025-01-15T12:00:00Z');
let seq = 0;

function migration(over: Partial<Omit<ScheduledMigration, 'host'>> & { host?: string; from?: string; to?: string } = {}): ScheduledMigration {
  const { host = 'h1', from = 'A1', to = 'A2', ...rest } = over;
  seq += 1;
  return {
    id: `m${String(seq).padStart(3, '0')}`,
    state: 'queued',
    hasJob: false,
    host: { id: host, name: host },
    source: { id: from, name: from },
    target: { id: to, name: to },
    evacuation: null,
    priority: 0,
    createdAtMs: NOW.getTime() - 60_000 + seq,
    throttleBytesPerS: null,
    ...rest,
  };
}

const settings = (over: Partial<PlanLimits> = {}) => () => ({ ...DEFAULT_LIMITS, ...over });
const ids = (list: { id: string }[]) => list.map((entry) => entry.id);

describe('admissions', () => {
  it('admits up to the per-host limit, counting what already runs, and says why the rest wait', () => {
    const running = [migration({ state: 'copying', hasJob: true })];
    const queued = [migration(), migration(), migration()];
    const result = admissions(queued, running, settings(), NOW);
    expect(ids(result.admit)).toEqual([queued[0]!.id]);
    expect(result.admit[0]!.cause).toBe('admitted: fleet runs 2 of 16; host h1 runs 2 of 2; A1 sends 2 of 8; A2 receives 2 of 8');
    expect(result.wait.map((w) => w.reason)).toEqual(['waits for a slot: host h1 runs 2 of 2', 'waits for a slot: host h1 runs 2 of 2']);
  });

  it('applies the global, per source array and per target array limits across hosts', () => {
    const queued = ['h1', 'h2', 'h3', 'h4'].map((host) => migration({ host }));
    expect(ids(admissions(queued, [], settings({ global: 2 }), NOW).admit)).toHaveLength(2);
    expect(admissions(queued, [], settings({ perSourceArray: 3 }), NOW).wait[0]!.reason).toBe('waits for a slot: A1 sends 3 of 3');
    const spread = [migration({ host: 'h1', to: 'T1' }), migration({ host: 'h2', to: 'T1' }), migration({ host: 'h3', to: 'T2' })];
    const result = admissions(spread, [], settings({ perTargetArray: 1 }), NOW);
    expect(ids(result.admit)).toEqual([spread[0]!.id, spread[2]!.id]);
    expect(result.wait).toEqual([{ id: spread[1]!.id, reason: 'waits for a slot: T1 receives 1 of 1' }]);
  });

  it('takes higher priority first, then the oldest', () => {
    const old = migration();
    const young = migration();
    const urgent = migration({ priority: 5 });
    expect(ids(admissions([young, urgent, old], [], settings({ perHost: 2 }), NOW).admit)).toEqual([urgent.id, old.id]);
  });

  it('uses each migration’s own limits: its evacuation’s overrides over Settings', () => {
    const evacuation: ScheduledEvacuation = { id: 'e1', state: 'running', window: null };
    const running = [migration({ state: 'copying', hasJob: true })];
    const ofEvacuation = migration({ evacuation });
    const standalone = migration({ host: 'h1' });
    const limitsFor = (m: ScheduledMigration) => ({ ...DEFAULT_LIMITS, ...(m.evacuation ? { perHost: 1 } : {}) });
    const result = admissions([ofEvacuation, standalone], running, limitsFor, NOW);
    expect(ids(result.admit)).toEqual([standalone.id]);
    expect(result.wait).toEqual([{ id: ofEvacuation.id, reason: 'waits for a slot: host h1 runs 1 of 1' }]);
  });

  it('admits nothing of a paused evacuation, nor of one whose window is closed', () => {
    const paused = migration({ evacuation: { id: 'e1', state: 'paused', window: null } });
    const closed = migration({ host: 'h2', evacuation: { id: 'e2', state: 'running', window: { start: '22:00', end: '06:00', timeZone: 'UTC', outsideWindow: 'keep-copying' } } });
    const open = migration({ host: 'h3', evacuation: { id: 'e3', state: 'running', window: { start: '11:00', end: '13:00', timeZone: 'UTC', outsideWindow: 'pause' } } });
    const result = admissions([paused, closed, open], [], settings(), NOW);
    expect(ids(result.admit)).toEqual([open.id]);
    expect(result.wait).toEqual([
      { id: paused.id, reason: 'its evacuation is paused; none of its migrations start until it runs' },
      { id: closed.id, reason: 'waits for window 22:00–06:00 UTC, which opens in 10 h' },
    ]);
  });

  it('counts paused jobs the agent holds, and not verified ones', () => {
    const cases: [MigrationState, boolean, boolean][] = [
      ['preparing', false, true],
      ['ready', true, true],
      ['paused', true, true],
      ['paused', false, false],
      ['verified', true, false],
      ['queued', false, false],
    ];
    for (const [state, hasJob, holds] of cases) expect(holdsSlot({ state, hasJob }), `${state} hasJob=${hasJob}`).toBe(holds);
    const result = admissions([migration()], [migration({ state: 'verified', hasJob: true }), migration({ state: 'paused', hasJob: true })], settings({ perHost: 2 }), NOW);
    expect(result.admit).toHaveLength(1);
  });
});

describe('bandwidthShares', () => {
  const budgets = (byArray: Record<string, number>) => (_m: ScheduledMigration, arrayId: string) => byArray[arrayId];

  it('shares a source budget equally, and gives a job alone all of it', () => {
    const jobs = [migration({ state: 'copying' }), migration({ state: 'copying' }), migration({ state: 'copying' })];
    const shares = bandwidthShares(jobs, budgets({ A1: 4 * MiB }));
    expect([...shares.values()].map((s) => s.bytesPerS)).toEqual(Array(3).fill(Math.floor((4 * MiB) / 3)));
    expect(shares.get(jobs[0]!.id)!.reason).toBe('A1 read budget 4 MiB/s shared by 3 jobs');
    expect(bandwidthShares([jobs[0]!], budgets({ A1: 4 * MiB })).get(jobs[0]!.id)).toEqual({ bytesPerS: 4 * MiB, reason: 'A1 read budget 4 MiB/s shared by 1 job' });
  });

  it('gives what a throttled job leaves to the others (max-min fairness), and respects the tighter of read and write', () => {
    const slow = migration({ state: 'copying', throttleBytesPerS: MiB });
    const a = migration({ state: 'copying' });
    const b = migration({ state: 'copying', to: 'T9' });
    const shares = bandwidthShares([slow, a, b], budgets({ A1: 9 * MiB, T9: 2 * MiB }));
    expect(shares.get(slow.id)).toEqual({ bytesPerS: MiB, reason: 'its own limit 1 MiB/s' });
    expect(shares.get(b.id)).toEqual({ bytesPerS: 2 * MiB, reason: 'T9 write budget 2 MiB/s shared by 1 job' });
    expect(shares.get(a.id)!.bytesPerS).toBe(6 * MiB);
    const sum = [...shares.values()].reduce((total, s) => total + (s.bytesPerS ?? 0), 0);
    expect(sum).toBeLessThanOrEqual(9 * MiB);
  });

  it('leaves jobs without any budget or throttle unlimited, and ignores jobs that do not copy', () => {
    const free = migration({ state: 'syncing' });
    const paused = migration({ state: 'paused', hasJob: true });
    const shares = bandwidthShares([free, paused], budgets({}));
    expect(shares.get(free.id)!.bytesPerS).toBeNull();
    expect(shares.has(paused.id)).toBe(false);
  });

  it('uses the tightest budget any job on the array is under', () => {
    const evacuated = migration({ state: 'copying' });
    const other = migration({ state: 'copying' });
    const shares = bandwidthShares([evacuated, other], (m, arrayId) => (arrayId === 'A1' ? (m === evacuated ? 2 * MiB : 8 * MiB) : undefined));
    expect([...shares.values()].map((s) => s.bytesPerS)).toEqual([MiB, MiB]);
  });
});

describe('windowActions', () => {
  const window = (start: string, end: string, outsideWindow: 'pause' | 'keep-copying' = 'pause') => ({ start, end, timeZone: 'UTC', outsideWindow });
  const evacuation = (w: ReturnType<typeof window>, state = 'running'): ScheduledEvacuation => ({ id: 'e1', state, window: w });

  it('pauses copying jobs when a pausing window is closed, and resumes only those it paused when it opens', () => {
    const closed = evacuation(window('22:00', '06:00'));
    const copying = migration({ state: 'copying', hasJob: true, evacuation: closed });
    const queued = migration({ evacuation: closed });
    expect(windowActions([copying, queued], NOW)).toEqual([{ id: copying.id, action: 'pause', cause: 'window 22:00–06:00 UTC closed; this evacuation pauses copying outside its window' }]);

    const open = evacuation(window('11:00', '13:00'));
    const byWindow = migration({ state: 'paused', hasJob: true, pausedForWindow: true, evacuation: open });
    const byOperator = migration({ state: 'paused', hasJob: true, pausedForWindow: false, evacuation: open });
    expect(windowActions([byWindow, byOperator], NOW).map((a) => [a.id, a.action])).toEqual([[byWindow.id, 'resume']]);
    expect(windowActions([{ ...byWindow, evacuation: evacuation(window('11:00', '13:00'), 'paused') }], NOW)).toEqual([]);
  });

  it('keeps copying outside a keep-copying window', () => {
    const copying = migration({ state: 'copying', hasJob: true, evacuation: evacuation(window('22:00', '06:00', 'keep-copying')) });
    expect(windowActions([copying], NOW)).toEqual([]);
  });
});
