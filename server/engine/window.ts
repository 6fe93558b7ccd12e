/**
 * Owns cutover policies and maintenance-window arithmetic. A window is a daily span of wall-clock
 * time in an IANA time zone, `[start, end)` to the minute, and may wrap midnight (22:00–06:00).
 * Wall-clock time is read through Intl, so daylight-saving changes move the window with the
 * clock, as an administrator means it. No `server-only` here: client components import it to
 * validate a form and to show when a window opens.
 */
import { z } from 'zod';

export interface CutoverWindow {
  /** HH:MM, 24-hour, wall-clock time in `timeZone`. */
  start: string;
  end: string;
  /** IANA zone, e.g. `UTC` or `Europe/Paris`. */
  timeZone: string;
}

export interface CutoverPolicy {
  /** auto: switch as soon as the copy converges; manual: wait in `ready` for "cut over now";
   *  window: switch by itself once converged, but only while the window is open. */
  mode: 'auto' | 'manual' | 'window';
  /** auto: release the source once the switch is verified; manual: wait in `verified`. */
  commit: 'auto' | 'manual';
  /** Required when, and only when, mode is `window`. */
  window?: CutoverWindow;
}

export interface WindowState {
  open: boolean;
  /** When a closed window next opens; null while it is open, or when the policy has no window. */
  opensAt: Date | null;
  /** When the window closes: the current span's end if open, else the end of the next span. */
  closesAt: Date | null;
}

/** A time of day, 00:00 to 23:59. */
export const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const timeOfDay = (field: string) => z.string().regex(HH_MM, `window ${field} must be a time of day as HH:MM, 00:00 to 23:59`);

export const cutoverWindowSchema = z
  .object({
    start: timeOfDay('start'),
    end: timeOfDay('end'),
    timeZone: z
      .string()
      .max(64)
      .refine(isTimeZone, { error: (issue) => `window time zone ${JSON.stringify(issue.input)} is not an IANA time zone; use e.g. UTC or Europe/Paris` }),
  })
  .refine((window) => window.start !== window.end, { error: 'window start and end are the same time; a window must have a length', path: ['end'] });

export const cutoverPolicySchema = z
  .object({
    mode: z.enum(['auto', 'manual', 'window']),
    commit: z.enum(['auto', 'manual']),
    window: cutoverWindowSchema.optional(),
  })
  .superRefine((policy, ctx) => {
    if (policy.mode === 'window' && !policy.window) {
      ctx.addIssue({ code: 'custom', path: ['window'], message: 'cutover mode "window" needs a window: { start: "HH:MM", end: "HH:MM", timeZone }' });
    }
    if (policy.mode !== 'window' && policy.window) {
      ctx.addIssue({ code: 'custom', path: ['window'], message: `a window applies only to cutover mode "window", not "${policy.mode}"` });
    }
  });

/** `22:00–06:00 Europe/Paris` */
export function describeWindow(window: CutoverWindow): string {
  return `${window.start}–${window.end} ${window.timeZone}`;
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Wall-clock fields of `at` in `zone`. */
function wallClock(zone: string, at: Date) {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(at).map((part) => [part.type, Number(part.value)]));
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

/** How far `zone`'s wall clock is ahead of UTC at `at`. */
function offsetMs(zone: string, at: number): number {
  const wall = wallClock(zone, new Date(at));
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second) - Math.floor(at / 1000) * 1000;
}

/** The instant the wall clock in `zone` shows that day at `minutes` past midnight (a time skipped by DST lands just after the gap). */
function instantAt(zone: string, year: number, month: number, day: number, minutes: number): number {
  const wall = Date.UTC(year, month - 1, day, 0, minutes);
  const guess = wall - offsetMs(zone, wall);
  return wall - offsetMs(zone, guess);
}

/** The first instant strictly after `after` at which the wall clock in `zone` shows `hhmm`. */
function nextOccurrence(zone: string, hhmm: string, after: Date): Date {
  const today = wallClock(zone, after);
  for (let day = 0; day < 3; day++) {
    const at = instantAt(zone, today.year, today.month, today.day + day, minutesOf(hhmm));
    if (at > after.getTime()) return new Date(at);
  }
  throw new Error(`no ${hhmm} in ${zone} within two days of ${after.toISOString()}`);
}

export function isWindowOpen(window: CutoverWindow, now: Date): boolean {
  const wall = wallClock(window.timeZone, now);
  const minute = wall.hour * 60 + wall.minute;
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

/** Whether the policy lets the engine cut over at `now`, and when that changes. A policy without a window is always open. */
export function windowState(policy: { mode?: CutoverPolicy['mode']; window?: CutoverWindow }, now: Date): WindowState {
  const window = policy.mode === 'window' ? policy.window : undefined;
  if (!window) return { open: true, opensAt: null, closesAt: null };
  if (isWindowOpen(window, now)) return { open: true, opensAt: null, closesAt: nextOccurrence(window.timeZone, window.end, now) };
  const opensAt = nextOccurrence(window.timeZone, window.start, now);
  return { open: false, opensAt, closesAt: nextOccurrence(window.timeZone, window.end, opensAt) };
}
