/**
 * The Migrate dialog's field checks (docs/ui.md §3.7, §6.5): each returns the value to send or the
 * message shown under the field. The server validates the same input again.
 */
import { HH_MM, isTimeZone } from '@/server/engine/window';

const MiB = 1024 * 1024;

export interface ThrottleInput {
  mode: 'none' | 'limit';
  /** What the person typed, in MiB/s. */
  mibPerS: string;
}

export function parseThrottle(input: ThrottleInput): { ok: true; bytesPerS: number | null } | { ok: false; error: string } {
  if (input.mode === 'none') return { ok: true, bytesPerS: null };
  const text = input.mibPerS.trim();
  if (text === '') return { ok: false, error: 'Enter a throttle in MiB/s, or choose None.' };
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) return { ok: false, error: 'The throttle must be a whole number of MiB/s, at least 1.' };
  if (value * MiB > Number.MAX_SAFE_INTEGER) return { ok: false, error: 'The throttle is too large.' };
  return { ok: true, bytesPerS: value * MiB };
}

export function validateWindow(window: { start: string; end: string; timeZone: string }): { ok: true } | { ok: false; error: string } {
  if (!HH_MM.test(window.start)) return { ok: false, error: 'Enter the window start as HH:MM, 00:00 to 23:59.' };
  if (!HH_MM.test(window.end)) return { ok: false, error: 'Enter the window end as HH:MM, 00:00 to 23:59.' };
  if (window.start === window.end) return { ok: false, error: 'The window starts and ends at the same time; give it a length.' };
  if (!window.timeZone.trim() || !isTimeZone(window.timeZone.trim())) return { ok: false, error: `"${window.timeZone}" is not a time zone; use an IANA name such as UTC or Europe/Paris.` };
  return { ok: true };
}
