import { describe, expect, it } from 'vitest';
import { etaOf, formatEtaPoint } from './eta';

const row = (over: Partial<Parameters<typeof etaOf>[0]>) => ({ state: 'copying', etaSeconds: null, cutoverPolicy: { mode: 'auto', commit: 'auto' }, ...over });

describe('migration ETA in words (docs/ui.md §5.6)', () => {
  it('rounds a point to the minute under 10 min, to 5 min under an hour, then to 15 min', () => {
    expect(formatEtaPoint(42)).toBe('<1 min');
    expect(formatEtaPoint(200)).toBe('~3 min');
    expect(formatEtaPoint(12 * 60 + 40)).toBe('~15 min');
    expect(formatEtaPoint(2 * 3600 + 10 * 60)).toBe('~2 h 15 min');
  });

  it('names the condition when there is no point to give', () => {
    expect(etaOf(row({})).text).toBe('Estimating…');
    expect(etaOf(row({ state: 'ready', cutoverPolicy: { mode: 'manual', commit: 'auto' } }))).toMatchObject({ text: 'Waiting for you', tone: 'attention' });
    expect(etaOf(row({ state: 'verified', cutoverPolicy: { mode: 'auto', commit: 'manual' } })).text).toBe('Waiting for you');
    expect(etaOf(row({ state: 'paused', etaSeconds: 30 })).text).toBe('—');
    expect(etaOf(row({ agentUnreachableSince: new Date(), etaSeconds: 30 }))).toMatchObject({ text: 'Unknown', tone: 'warning' });
  });

  it('a closed cutover window says when it opens; an open one is switching', () => {
    const policy = { mode: 'window', commit: 'auto', window: { start: '22:00', end: '06:00', timeZone: 'UTC' } };
    const noon = Date.UTC(2026, 10, 28, 12, 0, 0);
    expect(etaOf(row({ state: 'ready', cutoverPolicy: policy }), noon).text).toMatch(/^Window · opens \d\d:\d\d$/);
    expect(etaOf(row({ state: 'ready', cutoverPolicy: policy }), Date.UTC(2026, 10, 28, 23, 0, 0)).text).toBe('Switching');
  });
});
