/** The evacuation shapes the pages work with, as the browser receives them from `evacuations.*`. */
import type { RouterOutputs } from '@/components/api-types';

export type EvacuationListRow = RouterOutputs['evacuations']['list'][number];
export type EvacuationDetail = RouterOutputs['evacuations']['get'];
export type EvacuationRollup = EvacuationListRow['rollup'];
export type EvacuationReport = RouterOutputs['evacuations']['report'];

export const EVACUATION_TERMINAL = ['completed', 'completed-with-exclusions', 'cancelled', 'failed'];
