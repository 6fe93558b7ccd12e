'use client';
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import type { RouterOutputs } from '@/components/api-types';
import { useTRPC } from '@/components/trpc';

export type MigrationActivity = RouterOutputs['overview']['activity'];
export type RatePoint = MigrationActivity['copyRateHistory'][number];

/** The span a row's copy-rate sparkline covers (docs/ui.md §4.5). */
export const SPARKLINE_WINDOW_MS = 60_000;
/** While something moves, activity is refreshed this often (rows render at most once a second anyway). */
const LIVE_REFRESH_MS = 2_000;

/**
 * `overview.activity`, refreshed every two seconds while migrations run (`live`), with each
 * migration's sparkline by id.
 */
export function useMigrationActivity(live: boolean) {
  const trpc = useTRPC();
  const query = useQuery({ ...trpc.overview.activity.queryOptions(), refetchInterval: live ? LIVE_REFRESH_MS : false });
  const sparklines = useMemo(() => new Map((query.data?.migrations ?? []).map((m) => [m.id, m.sparkline])), [query.data]);
  return { query, sparklines };
}
