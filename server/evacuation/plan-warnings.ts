/**
 * Owns the evacuation plan's warnings (docs/ui.md §3.10, steps Impact and Review): what the
 * administrator should know before approving, with counts and the volumes each concerns, and
 * which of them must be acknowledged. Pure.
 */
import type { CannotMove, PlanArray, PlannedMove, PlanTarget, PlanVolume, PlanWarning } from './plan-types';
import type { PlacementResult } from './placement';

/** Writes above this share of the job's copy rate make a pre-copy unlikely to converge. */
export const HIGH_WRITE_SHARE = 0.6;
/** A target fuller than this after the plan must be acknowledged. */
export const NEARLY_FULL_SHARE = 0.85;

export interface WarningInput {
  sources: PlanArray[];
  candidates: { volume: PlanVolume; hostname: string; sourceArrayId: string }[];
  sourceIds: Set<string>;
  cannotMove: CannotMove[];
  moves: { move: PlannedMove; copyRateBytesPerS: number }[];
  targets: PlanTarget[];
  invalidOverrides: PlacementResult['invalidOverrides'];
}

const MAX_NAMED = 5;

function names(list: string[]): string {
  return list.length <= MAX_NAMED ? list.join(', ') : `${list.slice(0, MAX_NAMED).join(', ')} and ${list.length - MAX_NAMED} more`;
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

const unique = (ids: string[]) => [...new Set(ids)];

export function planWarnings(input: WarningInput): PlanWarning[] {
  const warnings: PlanWarning[] = [];
  const sourceNames = input.sources.length === 1 ? input.sources[0]!.name : 'the source arrays';

  const offline = input.cannotMove.filter((entry) => entry.code === 'agent-offline');
  if (offline.length) {
    const hostnames = unique(offline.map((entry) => entry.hostname));
    const volumeIds = unique(offline.map((entry) => entry.volumeId));
    warnings.push({
      code: 'host-disconnected',
      severity: 'warning',
      message: `${plural(hostnames.length, 'host is', 'hosts are')} not connected (${names(hostnames)}; ${plural(volumeIds.length, 'volume')}). Their volumes cannot move until the agents return.`,
      volumeIds,
      needsAcknowledgement: false,
    });
  }

  const migrating = unique(input.cannotMove.filter((entry) => entry.code === 'already-migrating').map((entry) => entry.volumeId));
  if (migrating.length) {
    warnings.push({
      code: 'already-migrating',
      severity: 'warning',
      message: `${plural(migrating.length, 'volume is', 'volumes are')} already migrating; they cannot be planned until those migrations end.`,
      volumeIds: migrating,
      needsAcknowledgement: false,
    });
  }

  const highWrites = unique(
    input.moves
      .filter(({ move, copyRateBytesPerS }) => move.writeRateBytesPerS !== null && move.writeRateBytesPerS > HIGH_WRITE_SHARE * copyRateBytesPerS)
      .map(({ move }) => move.volumeId),
  );
  if (highWrites.length) {
    warnings.push({
      code: 'high-writes',
      severity: 'warning',
      message: `${plural(highWrites.length, 'volume writes', 'volumes write')} at p95 faster than ${HIGH_WRITE_SHARE * 100}% of the expected copy rate; pre-copy may not converge there.`,
      volumeIds: highWrites,
      needsAcknowledgement: false,
    });
  }

  const plexesOnSources = new Map<string, number>();
  for (const candidate of input.candidates) plexesOnSources.set(candidate.volume.id, (plexesOnSources.get(candidate.volume.id) ?? 0) + 1);
  const volumes = [...new Map(input.candidates.map((candidate) => [candidate.volume.id, candidate.volume])).values()];
  const both = volumes.filter((volume) => (plexesOnSources.get(volume.id) ?? 0) > 1).map((volume) => volume.id);
  if (both.length) {
    warnings.push({
      code: 'both-plexes-on-source',
      severity: 'info',
      message: `${plural(both.length, 'volume keeps', 'volumes keep')} more than one plex on ${sourceNames}; each moves, to a different array.`,
      volumeIds: both,
      needsAcknowledgement: false,
    });
  }
  const elsewhere = volumes.filter((volume) => volume.plexes.some((plex) => !input.sourceIds.has(plex.arrayId))).map((volume) => volume.id);
  if (elsewhere.length) {
    warnings.push({
      code: 'other-plex-elsewhere',
      severity: 'info',
      message: `${plural(elsewhere.length, 'volume has its', 'volumes have their')} other plex elsewhere; only the plex on ${sourceNames} moves.`,
      volumeIds: elsewhere,
      needsAcknowledgement: false,
    });
  }

  for (const target of input.targets) {
    if (target.incomingVolumes === 0 || target.usedBytesAfter <= NEARLY_FULL_SHARE * target.capacityBytes) continue;
    warnings.push({
      code: 'target-nearly-full',
      severity: 'warning',
      message: `${target.name} will be about ${Math.round((target.usedBytesAfter / target.capacityBytes) * 100)}% full afterwards.`,
      volumeIds: unique(input.moves.filter(({ move }) => move.targetArrayId === target.arrayId).map(({ move }) => move.volumeId)),
      needsAcknowledgement: true,
    });
  }

  const mirrored = unique(input.moves.filter(({ move }) => move.strategy === 'mirror').map(({ move }) => move.volumeId));
  if (mirrored.length) {
    warnings.push({
      code: 'mirror-latency',
      severity: 'warning',
      message: `${plural(mirrored.length, 'volume uses', 'volumes use')} mirror: their writes go to two LUNs while they resync, adding some latency.`,
      volumeIds: mirrored,
      needsAcknowledgement: true,
    });
  }

  for (const { move, targetName, why } of input.invalidOverrides) {
    warnings.push({
      code: 'override-invalid',
      severity: 'warning',
      message: `Your choice of ${targetName} for ${move.hostname}/${move.nbdExport} no longer fits: ${why}. It is placed automatically instead.`,
      volumeIds: [move.volumeId],
      needsAcknowledgement: false,
    });
  }
  return warnings;
}
