/**
 * Owns the rules that decide whether an array may receive a volume, and the words for each
 * refusal, shared by the Migrate dialog (one volume) and the evacuation planner (a fleet). Pure,
 * so the planner and its benchmark can use it without a database.
 */
import { formatBytes } from '@/server/format';

/** Only an online array takes new LUNs: degraded, evacuating, evacuated and offline ones do not. */
export function acceptsNewVolumes(state: string): boolean {
  return state === 'online';
}

export function notAcceptingReason(state: string): string {
  return `array is ${state}`;
}

export function unreachableReason(hostname: string): string {
  return `not reachable from ${hostname} (no path)`;
}

export function noSpaceReason(freeBytes: number, neededBytes: number): string {
  return `${formatBytes(Math.max(0, freeBytes))} free, ${formatBytes(neededBytes)} needed`;
}

/** Tier 1 is the fastest: a numerically higher tier is a lower one. */
export function isLowerTier(targetTier: number, sourceTier: number): boolean {
  return targetTier > sourceTier;
}

export function lowerTierReason(targetTier: number, sourceName: string, sourceTier: number): string {
  return `tier ${targetTier} is lower than ${sourceName}'s tier ${sourceTier}`;
}
