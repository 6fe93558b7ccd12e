/**
 * CSV exports of an evacuation (docs/ui.md §3.10 Review, §3.11.4 report): one row per volume, raw
 * bytes in `*_bytes` columns, times as ISO 8601 UTC, fields quoted when they need it.
 */
import type { PlanResult } from '@/server/evacuation/plan-types';

function field(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  return [header, ...rows].map((row) => row.map(field).join(',')).join('\r\n') + '\r\n';
}

const iso = (value: Date | number | string | null | undefined) => (value === null || value === undefined ? '' : new Date(value).toISOString());

export const PLAN_CSV_HEADER = [
  'host',
  'disk_group',
  'volume',
  'size_bytes',
  'source_array',
  'source_lun',
  'target_array',
  'strategy',
  'strategy_reason',
  'predicted_seconds_p50',
  'predicted_seconds_p90',
  'window',
] as const;

/** The Review step's plan, one row per planned move. */
export function planCsv(plan: PlanResult, arrayNames: ReadonlyMap<string, string>, window: string): string {
  return toCsv(
    PLAN_CSV_HEADER,
    plan.moves.map((m) => [
      m.hostname,
      m.diskGroup,
      m.volumeName,
      m.sizeBytes,
      arrayNames.get(m.sourceArrayId) ?? m.sourceArrayId,
      m.sourceLunName,
      arrayNames.get(m.targetArrayId) ?? m.targetArrayId,
      m.strategy,
      m.strategyReason,
      Math.round(m.predictedSeconds.p50),
      Math.round(m.predictedSeconds.p90),
      window,
    ]),
  );
}

export interface ReportVolume {
  host: string;
  diskGroup: string;
  volume: string;
  sizeBytes: number;
  sourceArray: string | null;
  sourceLun: string | null;
  targetArray: string;
  targetLun: string | null;
  strategy: string;
  copyStartedAt: Date | number | string | null;
  cutoverAt: Date | number | string | null;
  cutoverPauseMs: number | null;
  committedAt: Date | number | string | null;
  bytesCopied: number | null;
  verification: string;
}

export const REPORT_CSV_HEADER = [
  'host',
  'disk_group',
  'volume',
  'size_bytes',
  'source_array',
  'source_lun',
  'target_array',
  'target_lun',
  'strategy',
  'copy_started_at',
  'cutover_at',
  'cutover_pause_ms',
  'committed_at',
  'bytes_copied',
  'verification',
] as const;

/** The report's volume table (and the detail page's export). */
export function reportCsv(volumes: readonly ReportVolume[]): string {
  return toCsv(
    REPORT_CSV_HEADER,
    volumes.map((v) => [
      v.host,
      v.diskGroup,
      v.volume,
      v.sizeBytes,
      v.sourceArray,
      v.sourceLun,
      v.targetArray,
      v.targetLun,
      v.strategy,
      iso(v.copyStartedAt),
      iso(v.cutoverAt),
      v.cutoverPauseMs,
      iso(v.committedAt),
      v.bytesCopied,
      v.verification,
    ]),
  );
}

/** Offers text as a file download in the browser. */
export function downloadText(filename: string, text: string, type = 'text/csv;charset=utf-8') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
