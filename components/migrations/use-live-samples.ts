'use client';
/**
 * A migration's samples for the chart window, kept live (docs/ui.md §3.9.6): the window's samples
 * from `migrations.samples` (downsampled by the server), then every new one from
 * `migrations.onSample`, which resumes after the newest id it was given, so a reconnect replays
 * what it missed. Pushed samples are rendered at most once a second.
 */
import { useQuery } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useEffect, useMemo, useState } from 'react';
import { useTRPC } from '@/components/trpc';
import type { MigrationSample, WindowSeconds } from './types';

const RENDER_INTERVAL_MS = 1_000;
/** Pushed samples kept in memory: two hours at one a second. */
const MAX_LIVE = 7_200;

export function useLiveSamples(id: string, windowSeconds: WindowSeconds, live: boolean) {
  const trpc = useTRPC();
  const base = useQuery(
    trpc.migrations.samples.queryOptions({ id, window: { seconds: windowSeconds, maxPoints: 600 } }, { staleTime: Infinity, refetchOnWindowFocus: false, placeholderData: (previous) => previous }),
  );
  // The subscription starts once, after the first window arrived, from its newest sample.
  const [resumeFrom, setResumeFrom] = useState<number | null>(null);
  const baseNewest = base.data?.at(-1)?.id ?? (base.data ? 0 : null);
  if (resumeFrom === null && baseNewest !== null) setResumeFrom(baseNewest);

  // Pushed samples wait here (not in state: no render per sample) until the next flush.
  const [pending] = useState<MigrationSample[]>(() => []);
  const [pushed, setPushed] = useState<MigrationSample[]>([]);
  const subscription = useSubscription(
    trpc.migrations.onSample.subscriptionOptions(
      { id, lastEventId: resumeFrom === null ? null : String(resumeFrom) },
      { enabled: live && resumeFrom !== null, onData: ({ data }) => void pending.push(data) },
    ),
  );
  useEffect(() => {
    const timer = setInterval(() => {
      if (pending.length === 0) return;
      const fresh = pending.splice(0, pending.length);
      setPushed((previous) => {
        const next = [...previous, ...fresh];
        return next.length > MAX_LIVE ? next.slice(next.length - MAX_LIVE) : next;
      });
    }, RENDER_INTERVAL_MS);
    return () => clearInterval(timer);
  }, [pending]);

  const samples = useMemo(() => {
    const rows = base.data ?? [];
    const newest = rows.at(-1)?.id ?? 0;
    const since = rows[0]?.at.getTime() ?? 0;
    return [...rows, ...pushed.filter((s) => s.id > newest && s.at.getTime() >= since)];
  }, [base.data, pushed]);

  return { samples, base, subscriptionStatus: subscription.status };
}
