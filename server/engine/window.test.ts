/**
 * Maintenance-window arithmetic: spans that wrap midnight, zones ahead of and behind UTC, a
 * half-hour zone, the days clocks change, and the policy's validation messages.
 */
import { describe, expect, it } from 'vitest';
import { cutoverPolicySchema, describeWindow, isWindowOpen, windowState, type CutoverPolicy } from './window';

const at = (iso: string) => new Date(iso);
const policy = (start: string, end: string, timeZone: string): CutoverPolicy => ({ mode: 'window', commit: 'auto', window: { start, end, timeZone } });

describe('windowState', () => {
  it('is always open for a policy without a window', () => {
    expect(windowState({ mode: 'auto' }, at('2025-01-15T12:00:00Z'))).toEqual({ open: true, opensAt: null, closesAt: null });
    expect(windowState({ mode: 'manual' }, at('2025-01-15T12:00:00Z'))).toEqual({ open: true, opensAt: null, closesAt: null });
  });

  it('handles a window inside one day, start inclusive and end exclusive', () => {
    const office = policy('09:00', '17:00', 'UTC');
    expect(windowState(office, at('2025-01-15T08:59:59Z'))).toEqual({ open: false, opensAt: at('2025-01-15T09:00:00Z'), closesAt: at('2025-01-15T17:00:00Z') });
    expect(windowState(office, at('2025-01-15T09:00:00Z'))).toEqual({ open: true, opensAt: null, closesAt: at('2025-01-15T17:00:00Z') });
    expect(windowState(office, at('2025-01-15T17:00:00Z'))).toEqual({ open: false, opensAt: at('2025-01-16T09:00:00Z'), closesAt: at('2025-01-16T17:00:00Z') });
  });

  it('wraps midnight, on both sides of it', () => {
    const night = policy('22:00', '06:00', 'UTC');
    expect(windowState(night, at('2025-01-15T23:30:00Z'))).toEqual({ open: true, opensAt: null, closesAt: at('2025-01-16T06:00:00Z') });
    expect(windowState(night, at('2025-01-16T05:59:00Z'))).toEqual({ open: true, opensAt: null, closesAt: at('2025-01-16T06:00:00Z') });
    expect(windowState(night, at('2025-01-16T06:00:00Z'))).toEqual({ open: false, opensAt: at('2025-01-16T22:00:00Z'), closesAt: at('2025-01-17T06:00:00Z') });
    expect(windowState(night, at('2025-01-16T21:59:59Z'))).toMatchObject({ open: false, opensAt: at('2025-01-16T22:00:00Z') });
  });

  it('reads the wall clock of the zone, in winter and in summer', () => {
    const paris = policy('22:00', '06:00', 'Europe/Paris');
    // 22:30 in Paris is 21:30 UTC in winter (CET) and 20:30 UTC in summer (CEST).
    expect(windowState(paris, at('2025-01-15T21:30:00Z'))).toEqual({ open: true, opensAt: null, closesAt: at('2025-01-16T05:00:00Z') });
    expect(windowState(paris, at('2025-07-15T20:30:00Z'))).toEqual({ open: true, opensAt: null, closesAt: at('2025-07-16T04:00:00Z') });
    // 21:30 UTC is 23:30 in Paris in July, but only 17:30 in New York.
    expect(isWindowOpen(paris.window!, at('2025-07-15T21:30:00Z'))).toBe(true);
    expect(windowState(policy('22:00', '06:00', 'America/New_York'), at('2025-07-15T21:30:00Z'))).toEqual({
      open: false,
      opensAt: at('2025-07-16T02:00:00Z'),
      closesAt: at('2025-07-16T10:00:00Z'),
    });
    // Kolkata is UTC+05:30.
    expect(windowState(policy('01:00', '02:00', 'Asia/Kolkata'), at('2025-01-15T19:00:00Z'))).toEqual({
      open: false,
      opensAt: at('2025-01-15T19:30:00Z'),
      closesAt: at('2025-01-15T20:30:00Z'),
    });
  });

  it('follows the clock across a change of daylight-saving time', () => {
    const paris = policy('22:00', '06:00', 'Europe/Paris');
    // Paris springs forward at 01:00 UTC on 2025-03-30: the night opens at 22:00 CET, closes at 06:00 CEST.
    expect(windowState(paris, at('2025-03-29T22:00:00Z'))).toEqual({ open: true, opensAt: null, closesAt: at('2025-03-30T04:00:00Z') });
    // And falls back at 01:00 UTC on 2025-10-26: opens at 22:00 CEST, closes at 06:00 CET.
    expect(windowState(paris, at('2025-10-25T12:00:00Z'))).toEqual({ open: false, opensAt: at('2025-10-25T20:00:00Z'), closesAt: at('2025-10-26T05:00:00Z') });
    // 02:30 does not exist in Paris on 2025-03-30; that day the window opens when the clock jumps past it.
    const skipped = windowState(policy('02:30', '04:00', 'Europe/Paris'), at('2025-03-29T12:00:00Z'));
    expect(skipped.open).toBe(false);
    expect(skipped.opensAt!.getTime()).toBeGreaterThanOrEqual(at('2025-03-30T01:00:00Z').getTime());
    expect(skipped.opensAt!.getTime()).toBeLessThan(skipped.closesAt!.getTime());
    expect(skipped.closesAt).toEqual(at('2025-03-30T02:00:00Z'));
  });

  it('describes a window for events and screens', () => {
    expect(describeWindow({ start: '22:00', end: '06:00', timeZone: 'Europe/Paris' })).toBe('22:00–06:00 Europe/Paris');
  });
});

describe('cutoverPolicySchema', () => {
  const problems = (input: unknown) => {
    const parsed = cutoverPolicySchema.safeParse(input);
    return parsed.success ? [] : parsed.error.issues.map((issue) => issue.message);
  };

  it('accepts the three modes, a window only with mode window', () => {
    expect(problems({ mode: 'auto', commit: 'auto' })).toEqual([]);
    expect(problems({ mode: 'manual', commit: 'manual' })).toEqual([]);
    expect(problems(policy('22:00', '06:00', 'Europe/Paris'))).toEqual([]);
  });

  it('names what is wrong with a window', () => {
    expect(problems({ mode: 'window', commit: 'auto' })).toEqual(['cutover mode "window" needs a window: { start: "HH:MM", end: "HH:MM", timeZone }']);
    expect(problems({ ...policy('22:00', '06:00', 'UTC'), mode: 'auto' })).toEqual(['a window applies only to cutover mode "window", not "auto"']);
    expect(problems(policy('24:00', '06:00', 'UTC'))).toEqual(['window start must be a time of day as HH:MM, 00:00 to 23:59']);
    expect(problems(policy('22:00', '6:00', 'UTC'))).toEqual(['window end must be a time of day as HH:MM, 00:00 to 23:59']);
    expect(problems(policy('22:00', '06:00', 'Mars/Olympus'))).toEqual(['window time zone "Mars/Olympus" is not an IANA time zone; use e.g. UTC or Europe/Paris']);
    expect(problems(policy('06:00', '06:00', 'UTC'))).toEqual(['window start and end are the same time; a window must have a length']);
  });
});
