import { TriangleExclamationPoint } from 'lucide-react';
import { cn } from '@/components/ui/cn';
import { formatBytes, formatBytesExact, formatPercent, formatUsedOfTotal } from './format';

/** Threshold ticks until Settings carries its own (docs/ui.md §3.13, "Thresholds and alerts"). */
const WARNING_SHARE = 0.8;
const CRITICAL_SHARE = 0.9;

/**
 * An array's capacity (docs/ui.md §4.4): used (provisioned LUN bytes) against the array's
 * capacity, with warning and critical ticks. It is a `meter` whose value text repeats the
 * label, so the figure never depends on the bar's colour.
 */
export function CapacityBar({
  usedBytes,
  totalBytes,
  label,
  size = 'table',
  showText = true,
  className,
}: {
  usedBytes: number;
  totalBytes: number;
  /** What the bar measures, for its accessible name: "ARR-01 capacity". */
  label: string;
  size?: 'table' | 'header';
  showText?: boolean;
  className?: string;
}) {
  const share = totalBytes > 0 ? usedBytes / totalBytes : 0;
  const level = share >= CRITICAL_SHARE ? 'critical' : share >= WARNING_SHARE ? 'warning' : 'normal';
  const percent = formatPercent(usedBytes, totalBytes);
  const text = `${percent} · ${formatUsedOfTotal(usedBytes, totalBytes)}`;
  const tooltip = [
    `Used by LUNs: ${formatBytes(usedBytes)} (${formatBytesExact(usedBytes)})`,
    `Free: ${formatBytes(Math.max(0, totalBytes - usedBytes))}`,
    `Capacity: ${formatBytes(totalBytes)} (${formatBytesExact(totalBytes)})`,
    level === 'normal' ? null : `Above the ${level} threshold (${Math.round((level === 'critical' ? CRITICAL_SHARE : WARNING_SHARE) * 100)}%)`,
  ]
    .filter(Boolean)
    .join('\n');

  return (
    <div className={cn('flex items-center gap-2', className)} title={tooltip}>
      <div
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.min(100, Math.round(share * 100))}
        aria-valuetext={`${percent} used, ${formatUsedOfTotal(usedBytes, totalBytes, ' of ')}`}
        data-used-bytes={usedBytes}
        data-total-bytes={totalBytes}
        className={cn(
          'relative shrink-0 overflow-hidden rounded-sm bg-capacity-track ring-1 ring-inset ring-foreground/10',
          size === 'header' ? 'h-3 w-52' : 'h-2 w-32',
        )}
      >
        <div
          className={cn(
            'h-full',
            level === 'critical' ? 'bg-capacity-critical' : level === 'warning' ? 'bg-capacity-warning' : 'bg-capacity-used',
          )}
          style={{ width: `${Math.min(100, share * 100)}%` }}
        />
        {[WARNING_SHARE, CRITICAL_SHARE].map((tick) => (
          <span key={tick} aria-hidden className="absolute inset-y-0 w-px bg-foreground/45" style={{ left: `${tick * 100}%` }} />
        ))}
      </div>
      {showText ? (
        <span
          className={cn(
            'inline-flex items-center gap-1 text-xs whitespace-nowrap tabular-nums',
            level === 'normal' ? 'text-muted-foreground' : level === 'warning' ? 'text-amber-700 dark:text-amber-400' : 'text-red-700 dark:text-red-400',
          )}
        >
          {level === 'normal' ? null : <TriangleExclamationPoint aria-hidden className="size-3.5" />}
          {text}
        </span>
      ) : null}
    </div>
  );
}
