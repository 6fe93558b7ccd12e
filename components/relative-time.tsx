'use client';
import { cn } from '@/components/ui/cn';
import { formatAbsoluteLong, formatDuration, formatRelative } from './format';
import { useNow } from './use-now';

/**
 * "42 s ago", ticking every second, with the absolute time in the tooltip (docs/ui.md §5.7).
 * `warnAfterMs` turns it amber once the time is older than that (a late heartbeat).
 */
export function RelativeTime({ value, warnAfterMs, className }: { value: Date | null | undefined; warnAfterMs?: number; className?: string }) {
  const now = useNow();
  if (!value) return <span className={cn('text-muted-foreground', className)}>never</span>;
  const current = now || value.getTime();
  const late = warnAfterMs !== undefined && current - value.getTime() > warnAfterMs;
  return (
    <time
      dateTime={value.toISOString()}
      title={formatAbsoluteLong(value)}
      data-late={late || undefined}
      className={cn('tabular-nums', late && 'font-medium text-amber-700 dark:text-amber-400', className)}
    >
      {now ? formatRelative(value, now) : ''}
    </time>
  );
}

/** How long since a moment, ticking: "2 min 10 s" (docs/ui.md §5.5). */
export function Since({ value, className }: { value: Date; className?: string }) {
  const now = useNow();
  return (
    <span title={`since ${formatAbsoluteLong(value)}`} className={cn('tabular-nums', className)}>
      {now ? formatDuration(now - value.getTime()) : ''}
    </span>
  );
}
