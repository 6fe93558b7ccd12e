/** The shapes the migration detail page works with, as the browser receives them. */
import type { RouterOutputs } from '@/components/api-types';

export type MigrationDetail = RouterOutputs['migrations']['get'];
export type MigrationSample = RouterOutputs['migrations']['samples'][number];
export type MigrationPrediction = MigrationDetail['prediction'];
export type MigrationPass = MigrationDetail['passes'][number];

/** Chart windows (docs/ui.md §4.1.9): seconds back from now, or null for the whole migration. */
export const WINDOWS = [
  { label: 'Live 5 min', seconds: 300 },
  { label: '15 min', seconds: 900 },
  { label: '1 h', seconds: 3600 },
  { label: 'All', seconds: null },
] as const;
export type WindowSeconds = (typeof WINDOWS)[number]['seconds'];

export const TERMINAL = ['completed', 'failed', 'cancelled', 'rolled-back'];
