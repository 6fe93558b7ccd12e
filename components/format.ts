/**
 * Every number, size, duration and time the console shows is formatted here (docs/ui.md §5), so
 * pages never format inline. Inputs are raw base units: bytes, bytes/s, ms, Date or epoch ms.
 * Output is fixed to English with `,` grouping so the server render and the browser agree.
 */

const NBSP = '\u00a0';
const MINUS = '\u2212';
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;
const grouping = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function fixed(value: number, digits: number): string {
  return new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

/** Digits by magnitude (§5.1): below 10 two decimals, below 100 one, otherwise none. */
function digitsFor(value: number): number {
  return value < 10 ? 2 : value < 100 ? 1 : 0;
}

/** "0 B", "512 B", "1.50 KiB", "12.1 GiB", "1,023 MiB", "4.20 TiB" — binary units only (§5.1). */
export function formatBytes(bytes: number): string {
  const magnitude = Math.abs(bytes);
  const sign = bytes < 0 ? '-' : '';
  if (magnitude < 1024) return `${sign}${grouping.format(Math.round(magnitude))}${NBSP}B`;
  let unit = 0;
  let value = magnitude;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  // Rounding can cross a digit boundary (9.996 → 10.0) or carry into the next unit
  // (1023.7 MiB would read "1,024 MiB"), so the digits follow the rounded value.
  const rounded = Number(value.toFixed(digitsFor(value)));
  if (rounded >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = Number(value.toFixed(digitsFor(value)));
  return `${sign}${fixed(shown, digitsFor(shown))}${NBSP}${UNITS[unit]}`;
}

/** "+1.20 GiB", "−512 MiB" with a real minus sign (§5.1). */
export function formatSignedBytes(bytes: number): string {
  if (bytes === 0) return formatBytes(0);
  return `${bytes > 0 ? '+' : MINUS}${formatBytes(Math.abs(bytes))}`;
}

/** "1,099,511,627,776 bytes", for tooltips. */
export function formatBytesExact(bytes: number): string {
  return `${grouping.format(bytes)} ${Math.abs(bytes) === 1 ? 'byte' : 'bytes'}`;
}

/** "612 MiB/s", "2.40 GiB/s", "0 B/s" (§5.2). */
export function formatRate(bytesPerS: number): string {
  return `${formatBytes(bytesPerS)}/s`;
}

/** "1,240 volumes", "1 volume" (§5.4). */
export function formatCount(n: number, singular: string, plural = `${singular}s`): string {
  return `${grouping.format(n)} ${n === 1 ? singular : plural}`;
}

/** An integer with grouping: "1,240". */
export function formatInteger(n: number): string {
  return grouping.format(n);
}

/**
 * A share of a whole as a percentage (§5.6): floored, "<1%" for anything above zero that
 * floors to 0, and never "100%" unless the whole is reached.
 */
export function formatPercent(part: number, whole: number): string {
  if (whole <= 0) return '—';
  const share = (part / whole) * 100;
  if (share <= 0) return '0%';
  if (share < 1) return '<1%';
  if (share < 100) return `${Math.min(99, Math.floor(share))}%`;
  return `${Math.floor(share)}%`;
}

/** "<1 s", "45 s", "3 min 20 s", "12 min", "2 h 05 min", "3 d 4 h" (§5.5). */
export function formatDuration(ms: number): string {
  const totalSeconds = Math.floor(Math.max(0, ms) / 1000);
  if (totalSeconds < 1) return '<1 s';
  if (totalSeconds < 60) return `${totalSeconds} s`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  if (totalMinutes < 10) {
    const seconds = totalSeconds % 60;
    return seconds === 0 ? `${totalMinutes} min` : `${totalMinutes} min ${seconds} s`;
  }
  if (totalMinutes < 60) return `${totalMinutes} min`;
  const totalHours = Math.floor(totalMinutes / 60);
  if (totalHours < 24) return `${totalHours} h ${String(totalMinutes % 60).padStart(2, '0')} min`;
  const days = Math.floor(totalHours / 24);
  const hours = totalHours % 24;
  return hours === 0 ? `${days} d` : `${days} d ${hours} h`;
}

/** Stopwatch form for "running for": "0:12", "12:05", "1:02:05" (§5.5). */
export function formatStopwatch(ms: number): string {
  const totalSeconds = Math.floor(Math.max(0, ms) / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = String(totalSeconds % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const pad2 = (n: number) => String(n).padStart(2, '0');
const toDate = (value: Date | number) => (typeof value === 'number' ? new Date(value) : value);

function clock(date: Date, seconds: boolean): string {
  const hm = `${pad2(date.getHours())}:${pad2(date.getMinutes())}`;
  return seconds ? `${hm}:${pad2(date.getSeconds())}` : hm;
}

/** Table form (§5.7): "28 Nov 14:03:12", with the year when it is not the current one. */
export function formatAbsolute(value: Date | number, now: Date | number = Date.now()): string {
  const date = toDate(value);
  const year = date.getFullYear() === toDate(now).getFullYear() ? '' : ` ${date.getFullYear()}`;
  return `${date.getDate()} ${MONTHS[date.getMonth()]}${year} ${clock(date, true)}`;
}

/** Detail and tooltip form (§5.7): "2026-11-28 14:03:12 CET (UTC+01:00)". */
export function formatAbsoluteLong(value: Date | number): string {
  const date = toDate(value);
  const day = `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())}`;
  const offsetMinutes = -date.getTimezoneOffset();
  const sign = offsetMinutes < 0 ? '-' : '+';
  const offset = `UTC${sign}${pad2(Math.floor(Math.abs(offsetMinutes) / 60))}:${pad2(Math.abs(offsetMinutes) % 60)}`;
  const zone = new Intl.DateTimeFormat('en-GB', { timeZoneName: 'short' }).formatToParts(date).find((part) => part.type === 'timeZoneName')?.value;
  return `${day} ${clock(date, true)}${zone ? ` ${zone}` : ''} (${offset})`;
}

function startOfDay(date: Date): number {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/**
 * Relative time (§5.7): "just now" under 10 s, "42 s ago", "5 min ago", "3 h ago" on the same
 * day, "yesterday 14:03", then the absolute form; "in 5 min" for the future.
 */
export function formatRelative(value: Date | number, now: Date | number = Date.now()): string {
  const date = toDate(value);
  const nowDate = toDate(now);
  const diffMs = nowDate.getTime() - date.getTime();
  const abs = Math.abs(diffMs);
  const future = diffMs < 0;
  if (abs < 10_000) return future ? 'in a few seconds' : 'just now';
  const phrase = (text: string) => (future ? `in ${text}` : `${text} ago`);
  if (abs < 60_000) return phrase(`${Math.floor(abs / 1000)} s`);
  if (abs < 3_600_000) return phrase(`${Math.floor(abs / 60_000)} min`);
  const days = Math.round((startOfDay(nowDate) - startOfDay(date)) / 86_400_000);
  if (abs < 86_400_000 && days === 0) return phrase(`${Math.floor(abs / 3_600_000)} h`);
  if (days === 1) return `yesterday ${clock(date, false)}`;
  if (days === -1) return `tomorrow ${clock(date, false)}`;
  return formatAbsolute(date, nowDate);
}

/**
 * Middle-truncates an identifier (§5.8): colon-separated ids keep their first 5 and last 4
 * groups; plain ones (Tern's 32-digit WWNs) keep 10 leading and 6 trailing characters.
 */
export function middleTruncate(id: string): string {
  if (id.includes(':')) {
    const groups = id.split(':');
    if (groups.length <= 9) return id;
    return `${groups.slice(0, 5).join(':')}…${groups.slice(-4).join(':')}`;
  }
  if (id.length <= 18) return id;
  return `${id.slice(0, 10)}…${id.slice(-6)}`;
}

/** "tier 1" (§3.3). */
export function formatTier(tier: number): string {
  return `tier ${tier}`;
}

/**
 * "6.08 / 7.80 TiB" when both share a unit, otherwise "512 GiB / 7.80 TiB" (§4.4's
 * "used of total"); `separator` may be " of ".
 */
export function formatUsedOfTotal(usedBytes: number, totalBytes: number, separator = ' / '): string {
  const used = formatBytes(usedBytes);
  const total = formatBytes(totalBytes);
  const [usedNumber, usedUnit] = used.split(NBSP);
  const totalUnit = total.split(NBSP)[1];
  return usedUnit === totalUnit ? `${usedNumber}${separator}${total}` : `${used}${separator}${total}`;
}

/** "0.84 ms", "3.1 ms", "84 ms", "1.8 s" (§5.3): latencies and cutover pauses. */
export function formatLatency(ms: number): string {
  const value = Math.max(0, ms);
  if (value >= 1000) return `${fixed(value / 1000, 1)}${NBSP}s`;
  if (value >= 10) return `${grouping.format(Math.round(value))}${NBSP}ms`;
  if (value >= 1) return `${fixed(value, 1)}${NBSP}ms`;
  if (value === 0) return `0${NBSP}ms`;
  return `${Number(value.toPrecision(2))}${NBSP}ms`;
}

/** Clock time of day, "14:03" or "14:03:12" (§5.7, chart axes and the ETA's clock time). */
export function formatTimeOfDay(value: Date | number, withSeconds = false): string {
  return clock(toDate(value), withSeconds);
}

/** The rounding step of an ETA point (§5.6): 1 min under 10 min, 5 min under an hour, else 15 min. */
function roundEtaS(seconds: number): number {
  const step = seconds < 600 ? 60 : seconds < 3600 ? 300 : 900;
  return Math.max(step, Math.round(seconds / step) * step);
}

/**
 * An ETA from the model's P10/P50/P90 seconds (§5.6): "<1 min", "~12 min" when the spread is
 * within 30% of the P50, else a range "10–18 min"; an unbounded P90 reads "12 min or more".
 */
export function formatEta(eta: { p10: number; p50: number; p90: number | null }): string {
  if (eta.p90 !== null && eta.p90 < 60) return '<1 min';
  if (eta.p90 === null) return `${formatDuration(roundEtaS(eta.p50) * 1000)} or more`;
  if (eta.p90 - eta.p10 <= 0.3 * eta.p50) return eta.p50 < 60 ? '<1 min' : `~${formatDuration(roundEtaS(eta.p50) * 1000)}`;
  const low = eta.p10 < 60 ? 0 : roundEtaS(eta.p10);
  const high = roundEtaS(eta.p90);
  const highText = formatDuration(high * 1000);
  if (low === 0) return `<1–${highText}`;
  const lowText = formatDuration(low * 1000);
  // "10–20 min" when both ends are whole minutes; otherwise each end keeps its own units.
  const minutesOnly = (text: string) => /^\d+ min$/.test(text);
  return minutesOnly(lowText) && minutesOnly(highText) ? `${lowText.replace(' min', '')}–${highText}` : `${lowText}–${highText}`;
}

/** Copy against application writes in words (§5.2): "copy 3.1× faster", "writes faster than copy". */
export function formatCopyVsWrites(copyBytesPerS: number, writeBytesPerS: number): string {
  if (writeBytesPerS <= 0) return 'no application writes';
  if (writeBytesPerS >= copyBytesPerS) return 'writes faster than copy';
  return `copy ${fixed(copyBytesPerS / writeBytesPerS, 1)}× faster`;
}

/** The unit a byte axis uses for all its ticks: the largest whose value of `maxBytes` is ≥ 1 (§4.1.3). */
export function byteUnitFor(maxBytes: number): number {
  let unit = 0;
  let value = Math.abs(maxBytes);
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit;
}

/** Bytes in a fixed unit, for axis ticks: "0 MiB", "256 MiB", "768 MiB", "1,024 MiB". */
export function formatBytesInUnit(bytes: number, unit: number): string {
  const value = bytes / 1024 ** unit;
  const digits = value === 0 || Number.isInteger(value) ? 0 : Math.abs(value) < 10 ? (Number.isInteger(value * 10) ? 1 : 2) : Math.abs(value) < 100 ? 1 : 0;
  return `${fixed(value, digits)}${NBSP}${UNITS[unit]}`;
}
