import { describe, expect, it } from 'vitest';
import { parseThrottle, validateWindow } from './migrate-form';

describe('parseThrottle', () => {
  it('sends null for no throttle and bytes per second for MiB/s', () => {
    expect(parseThrottle({ mode: 'none', mibPerS: 'junk' })).toEqual({ ok: true, bytesPerS: null });
    expect(parseThrottle({ mode: 'limit', mibPerS: ' 400 ' })).toEqual({ ok: true, bytesPerS: 400 * 1024 * 1024 });
  });

  it.each(['', '0', '-5', '1.5', 'abc'])('refuses %j with a message', (text) => {
    const result = parseThrottle({ mode: 'limit', mibPerS: text });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/MiB\/s/);
  });
});

describe('validateWindow', () => {
  it('accepts a window across midnight in an IANA zone', () => {
    expect(validateWindow({ start: '22:00', end: '06:00', timeZone: 'Europe/Paris' })).toEqual({ ok: true });
  });

  it.each([
    [{ start: '24:00', end: '06:00', timeZone: 'UTC' }, /window start/],
    [{ start: '22:00', end: '6:00', timeZone: 'UTC' }, /window end/],
    [{ start: '22:00', end: '22:00', timeZone: 'UTC' }, /same time/],
    [{ start: '22:00', end: '06:00', timeZone: 'Mars/Olympus' }, /not a time zone/],
  ])('refuses %j', (window, message) => {
    const result = validateWindow(window);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(message);
  });
});
