/**
 * Owns where each plex moves (docs/architecture.md, evacuate-array planner): which target arrays may take a
 * plex, hand-made choices first while they still fit, then best-fit decreasing over the rest
 * (largest first) by `balance` (the array left least full) or `in-order` (the first that fits).
 * Pure; shares its target rules with the Migrate dialog (server/fleet/target-rules.ts).
 *
 * A target may take a plex when it accepts new volumes (online), is not a source, is among the
 * chosen targets, keeps the tier (unless lower tiers are allowed), is reachable from the volume's
 * host, holds no other plex of the same volume (fault-domain separation, including plexes placed
 * earlier in this plan), and has room after everything already placed on it.
 */
import { formatBytes } from '@/server/format';
import { acceptsNewVolumes, isLowerTier, lowerTierReason, noSpaceReason, notAcceptingReason, unreachableReason } from '@/server/fleet/target-rules';
import type { CannotMoveCode, PlanArray, PlanConstraints } from './plan-types';

export interface PlacementTarget {
  array: PlanArray;
  /** 1 at the index of each host that reaches it (indices as in PlannerInput.hosts); null when every host does. */
  reach: Uint8Array | null;
  selected: boolean;
  /** Capacity − used − what this plan placed so far. */
  freeBytes: number;
  placedBytes: number;
  placedMoves: number;
}

export interface PlacementMove {
  key: string;
  volumeId: string;
  hostId: string;
  /** The host's index in PlannerInput.hosts. */
  hostIndex: number;
  hostname: string;
  nbdExport: string;
  sizeBytes: number;
  source: PlanArray;
  sourceIndex: number;
  /** Array ids holding, or chosen for, another plex of this volume. Shared by the volume's moves. */
  volumeArrays: Set<string>;
}

export type Placement =
  | { targetIndex: number; reason: string; changedByUser: boolean }
  | { code: Extract<CannotMoveCode, 'no-reachable-target' | 'no-capacity'>; reason: string };

export interface PlacementResult {
  placements: Placement[];
  /** Hand-made choices that no longer fit: the move was placed automatically instead. */
  invalidOverrides: { move: PlacementMove; targetName: string; why: string }[];
}

const MAX_NAMED = 3;

function nameList(names: string[]): string {
  return names.length <= MAX_NAMED ? names.join(', ') : `${names.slice(0, MAX_NAMED).join(', ')} and ${names.length - MAX_NAMED} more`;
}

function percent(used: number, capacity: number): number {
  return capacity > 0 ? Math.round((used / capacity) * 100) : 100;
}

/**
 * Why a target may take no plex from this source at all (state, choice, tier), or null. The
 * same for every plex of the source, so computed once per pair.
 */
export function staticRefusal(target: PlacementTarget, source: PlanArray, constraints: PlanConstraints): string | null {
  if (!acceptsNewVolumes(target.array.state)) return notAcceptingReason(target.array.state);
  if (!target.selected) return 'not among the chosen targets';
  if (!constraints.allowLowerTier && isLowerTier(target.array.tier, source.tier)) return lowerTierReason(target.array.tier, source.name, source.tier);
  return null;
}

export function placeMoves(moves: readonly PlacementMove[], sources: readonly PlanArray[], targets: PlacementTarget[], constraints: PlanConstraints): PlacementResult {
  const placements = new Array<Placement>(moves.length);
  const invalidOverrides: PlacementResult['invalidOverrides'] = [];
  const targetIndexById = new Map(targets.map((target, index) => [target.array.id, index]));
  // refusals[s][t]: why target t can take nothing from source s, or null.
  const refusals = sources.map((source) => targets.map((target) => staticRefusal(target, source, constraints)));
  const open = refusals.map((row) => row.flatMap((refusal, t) => (refusal === null ? [t] : [])));
  // The order targets are tried in: in-order follows the administrator's list (or tier, then
  // name, when they chose none); balance looks at every target, ties going to the name first.
  const tryOrder = (s: number): number[] => {
    const candidates = open[s]!;
    if (constraints.placement !== 'in-order') return candidates;
    if (constraints.targetArrayIds) {
      return constraints.targetArrayIds.flatMap((id) => {
        const t = targetIndexById.get(id);
        return t !== undefined && candidates.includes(t) ? [t] : [];
      });
    }
    return [...candidates].sort((a, b) => targets[a]!.array.tier - targets[b]!.array.tier || a - b);
  };
  const orders = sources.map((_, s) => tryOrder(s));

  const place = (m: number, t: number) => {
    const move = moves[m]!;
    const target = targets[t]!;
    target.freeBytes -= move.sizeBytes;
    target.placedBytes += move.sizeBytes;
    target.placedMoves += 1;
    move.volumeArrays.add(target.array.id);
  };

  const reaches = (target: PlacementTarget, hostIndex: number) => target.reach === null || target.reach[hostIndex] === 1;

  /** Why a hand-made choice does not fit this move now, or null when it does. */
  const overrideRefusal = (move: PlacementMove, t: number | undefined): string | null => {
    if (t === undefined) return 'the array is not a possible target (it is a source, or unknown)';
    const target = targets[t]!;
    const refusal = refusals[move.sourceIndex]![t]!;
    if (refusal !== null) return refusal;
    if (!reaches(target, move.hostIndex)) return unreachableReason(move.hostname);
    if (move.volumeArrays.has(target.array.id)) return 'it already holds another plex of this volume';
    if (target.freeBytes < move.sizeBytes) return noSpaceReason(target.freeBytes, move.sizeBytes);
    return null;
  };

  // Best-fit decreasing: the largest plexes first, while there is the most room to choose from.
  const bySize = Array.from({ length: moves.length }, (_, i) => i).sort((a, b) => moves[b]!.sizeBytes - moves[a]!.sizeBytes || (moves[a]!.key < moves[b]!.key ? -1 : 1));
  const overrideNotes = new Map<number, string>();
  for (const m of bySize) {
    const move = moves[m]!;
    const chosen = constraints.overrides[move.key];
    if (chosen === undefined) continue;
    const t = targetIndexById.get(chosen);
    const why = overrideRefusal(move, t);
    if (why === null) {
      place(m, t!);
      placements[m] = { targetIndex: t!, reason: 'chosen by you', changedByUser: true };
    } else {
      const targetName = t === undefined ? chosen : targets[t]!.array.name;
      invalidOverrides.push({ move, targetName, why });
      overrideNotes.set(m, `your choice ${targetName} no longer fits (${why}); `);
    }
  }

  for (const m of bySize) {
    if (placements[m]) continue;
    const move = moves[m]!;
    const note = overrideNotes.get(m) ?? '';
    let best = -1;
    let bestUtilization = Number.POSITIVE_INFINITY;
    let fitting = 0;
    let reachable = 0;
    let largestFree = -1;
    // Only in-order placement names what it skipped; balance says how many it chose among.
    const skipped: string[] | null = constraints.placement === 'in-order' ? [] : null;
    const fullOfVolume: string[] = [];
    for (const t of orders[move.sourceIndex]!) {
      const target = targets[t]!;
      if (!reaches(target, move.hostIndex)) {
        skipped?.push(`${target.array.name} not reachable`);
        continue;
      }
      reachable += 1;
      if (move.volumeArrays.size > 0 && move.volumeArrays.has(target.array.id)) {
        fullOfVolume.push(target.array.name);
        skipped?.push(`${target.array.name} holds another plex`);
        continue;
      }
      if (target.freeBytes < move.sizeBytes) {
        if (largestFree < 0 || target.freeBytes > targets[largestFree]!.freeBytes) largestFree = t;
        skipped?.push(`${target.array.name} full`);
        continue;
      }
      fitting += 1;
      if (constraints.placement === 'in-order') {
        best = t;
        break;
      }
      const utilization = (target.array.usedBytes + target.placedBytes + move.sizeBytes) / target.array.capacityBytes;
      if (utilization < bestUtilization) {
        best = t;
        bestUtilization = utilization;
      }
    }
    if (best >= 0) {
      const target = targets[best]!;
      const after = percent(target.array.usedBytes + target.placedBytes + move.sizeBytes, target.array.capacityBytes);
      const reason =
        constraints.placement === 'in-order'
          ? `first ${constraints.targetArrayIds ? 'in your target order' : 'by tier and name'} with room reachable from ${move.hostname}${skipped?.length ? ` (skipped ${nameList(skipped)})` : ''}`
          : fitting === 1
            ? `the only eligible array reachable from ${move.hostname} with room (${after}% full after)`
            : `least full afterwards (${after}%) of ${fitting} eligible arrays reachable from ${move.hostname} with room`;
      place(m, best);
      placements[m] = { targetIndex: best, reason: note + reason, changedByUser: false };
      continue;
    }
    placements[m] = unplaced(move, reachable, fullOfVolume, largestFree >= 0 ? targets[largestFree]! : null, refusals[move.sourceIndex]!, targets, open[move.sourceIndex]!.length);
  }
  return { placements, invalidOverrides };
}

/** The cannot-move result for a plex no target takes, with the numbers. */
function unplaced(
  move: PlacementMove,
  reachable: number,
  holdingPlex: string[],
  largestFree: PlacementTarget | null,
  refusals: (string | null)[],
  targets: PlacementTarget[],
  eligible: number,
): Placement {
  if (eligible === 0) {
    const why = targets.flatMap((target, t) => (refusals[t] ? [`${target.array.name}: ${refusals[t]}`] : []));
    return { code: 'no-reachable-target', reason: `no eligible target array for a plex on ${move.source.name}${why.length ? ` (${nameList(why)})` : ''}` };
  }
  if (reachable === 0) {
    return { code: 'no-reachable-target', reason: `none of the ${eligible} eligible target arrays is reachable from ${move.hostname}` };
  }
  if (largestFree === null) {
    return { code: 'no-reachable-target', reason: `the reachable target arrays (${nameList(holdingPlex)}) already hold another plex of this volume` };
  }
  return {
    code: 'no-capacity',
    reason: `needs ${formatBytes(move.sizeBytes)}; largest reachable free ${formatBytes(Math.max(0, largestFree.freeBytes))} on ${largestFree.array.name}`,
  };
}
