'use client';
/**
 * Cells a migration row shows wherever migrations are listed (the migrations list, the overview,
 * an evacuation's volumes): the copy rate with its 60 s sparkline, and the ETA in words.
 */
import { formatRate } from '@/components/format';
import { Sparkline } from '@/components/sparkline';
import { Badge } from '@/components/ui/badge';
import { cn } from '@/components/ui/cn';
import { useNow } from '@/components/use-now';
import { etaOf, type EtaInput } from './eta';
import { SPARKLINE_WINDOW_MS, type RatePoint } from './use-migration-activity';

export function CopyRate({
  migration,
  sparkline,
  showThrottle = false,
}: {
  migration: { state: string; copyRateBytesPerS: number | null; throttleBytesPerS: number | null };
  sparkline?: readonly RatePoint[];
  showThrottle?: boolean;
}) {
  if (migration.state === 'paused') return <Badge tone="warning">paused</Badge>;
  if (migration.state !== 'copying' && migration.state !== 'syncing') return <span className="text-muted-foreground">—</span>;
  return (
    <div className="flex items-center gap-2 text-blue-700 dark:text-sky-400">
      {sparkline?.length ? <Sparkline points={sparkline.map((p) => ({ t: p.t, value: p.bytesPerS }))} windowMs={SPARKLINE_WINDOW_MS} width={80} /> : null}
      <span className="text-foreground tabular-nums">{migration.copyRateBytesPerS === null ? '—' : formatRate(migration.copyRateBytesPerS)}</span>
      {showThrottle && migration.throttleBytesPerS ? (
        <span className="hidden text-xs text-muted-foreground 2xl:inline" title={`throttled to ${formatRate(migration.throttleBytesPerS)}`}>
          ≤ {formatRate(migration.throttleBytesPerS)}
        </span>
      ) : null}
    </div>
  );
}

const ETA_TONE = {
  normal: '',
  muted: 'text-muted-foreground',
  attention: 'font-medium text-violet-700 dark:text-violet-300',
  warning: 'text-amber-700 dark:text-amber-400',
} as const;

export function Eta({ migration, className }: { migration: EtaInput; className?: string }) {
  const eta = etaOf(migration, useNow());
  return (
    <span className={cn('whitespace-nowrap tabular-nums', ETA_TONE[eta.tone], className)} title={eta.title} data-testid="eta">
      {eta.text}
    </span>
  );
}
