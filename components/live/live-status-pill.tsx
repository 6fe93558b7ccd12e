'use client';
import { cn } from '@/components/ui/cn';
import { formatAbsolute } from '@/components/format';
import { useNow } from '@/components/use-now';
import { liveStatus } from './live-status';
import { useLiveConnection } from './live-updates';

const looks = {
  live: { dot: 'bg-emerald-500', text: 'text-emerald-800 dark:text-emerald-300', ring: 'ring-emerald-600/25' },
  reconnecting: { dot: 'bg-amber-500', text: 'text-amber-800 dark:text-amber-300', ring: 'ring-amber-600/30' },
  offline: { dot: 'bg-red-600', text: 'text-red-700 dark:text-red-300', ring: 'ring-red-600/30' },
} as const;

/**
 * Live / Reconnecting… / Offline (docs/ui.md §2.7), so a frozen screen looks frozen. The dot is
 * never the only cue: the word changes too, and the dot's shape differs (hollow when not live).
 */
export function LiveStatusPill() {
  const connection = useLiveConnection();
  const now = useNow();
  const status = liveStatus(connection, now);
  const lastUpdate = connection.lastUpdateAt();
  const label = status === 'live' ? 'Live' : status === 'offline' ? 'Offline' : connection.status === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  const tooltip =
    status === 'live'
      ? `Updates stream from the server${lastUpdate ? `; last update ${formatAbsolute(lastUpdate)}` : ''}`
      : `Not receiving updates${lastUpdate ? ` since ${formatAbsolute(lastUpdate)}` : ''}; figures may be out of date`;
  const look = looks[status];
  return (
    <span
      data-testid="live-status"
      data-status={status}
      role="status"
      title={tooltip}
      className={cn('inline-flex h-7 items-center gap-1.5 rounded-full px-2.5 text-xs font-medium ring-1 ring-inset', look.text, look.ring)}
    >
      <span aria-hidden className={cn('size-2 rounded-full', status === 'live' ? look.dot : cn('border-2 bg-transparent', status === 'offline' ? 'border-red-600' : 'border-amber-500'))} />
      {label}
    </span>
  );
}
