'use client';
import { Alert } from '@/components/ui/alert';
import { Button } from '@/components/ui/button';
import { formatAbsolute } from '@/components/format';
import { liveStatus } from '@/components/live/live-status';
import { useLiveConnection } from '@/components/live/live-updates';
import { useNow } from '@/components/use-now';

/** The console-wide banner while live updates are lost (docs/ui.md §2.5, §2.7). */
export function ConnectionBanner() {
  const connection = useLiveConnection();
  const now = useNow();
  if (liveStatus(connection, now) !== 'offline') return null;
  return (
    <div className="px-4 pt-3 sm:px-6 2xl:px-8">
      <Alert
        tone="danger"
        title={`Connection to the console server lost at ${formatAbsolute(connection.since)}.`}
        actions={
          <Button size="sm" variant="outline" onClick={connection.retryNow}>
            Retry now
          </Button>
        }
      >
        <p>Figures on this page may be out of date. Tern keeps retrying in the background.</p>
      </Alert>
    </div>
  );
}
