/**
 * Owns the evacuation plan (docs/architecture.md, evacuate-array planner; docs/ui.md §3.10): from an inventory
 * snapshot, the limits and the administrator's choices, every plex on the source arrays either
 * gets a target, a strategy and a place in the predicted schedule, or a reason it cannot move.
 *
 * Pure and deterministic: no I/O, no clock (time is seconds from the start), the same input gives
 * the same output, ties are broken by name, then id. It imports no `server-only` so the benchmark
 * runs it under plain Node. Placement lives in placement.ts, the schedule simulation in
 * schedule-sim.ts, the pre-copy/mirror model in server/fleet/strategy-model.ts.
 */
import { formatBytes } from '@/server/format';
import { DEFAULT_COPY_RATE_BYTES_PER_S, planningWriteRate, recommendStrategy, type StrategyRecommendation } from '@/server/fleet/strategy-model';
import { placeMoves, staticRefusal, type PlacementMove, type PlacementTarget } from './placement';
import type { CannotMove, CannotMoveCode, PlanArray, PlanHost, PlannedMove, PlannerInput, PlanResult, PlanVolume, Strategy } from './plan-types';
import { planWarnings } from './plan-warnings';
import { simulateSchedule, type SimConfig, type SimJob, type SimResult } from './schedule-sim';

/** The copy-rate spread re-simulated for P10 (faster) and P90 (slower). */
export const COPY_RATE_SPREAD = 0.25;
/** A burndown carries at most this many points. */
export const MAX_BURNDOWN_POINTS = 200;

interface Candidate {
  key: string;
  volume: PlanVolume;
  hostname: string;
  lunId: string;
  lunName: string;
  source: PlanArray;
  sourceIndex: number;
  /** Set when it cannot move before placement is even tried. */
  refused: { code: CannotMoveCode; reason: string } | null;
  /** Shared by the volume's candidates: arrays holding or chosen for one of its plexes. */
  volumeArrays: Set<string>;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function agentOfflineReason(host: PlanHost | undefined, hostId: string): string {
  if (!host) return `host ${hostId} is unknown to the console`;
  const since = new Date(host.stateSince).toISOString();
  if (host.state === 'fenced') return `host ${host.hostname} is fenced since ${since}`;
  if (host.state === 'pending') return `agent on ${host.hostname} has not connected yet (pending since ${since})`;
  return `agent disconnected since ${since}`;
}

/** Why a plex cannot move whatever the targets, or null. */
function refusal(volume: PlanVolume, host: PlanHost | undefined, source: PlanArray, excluded: boolean): Candidate['refused'] {
  const underlying: Candidate['refused'] =
    source.state === 'offline'
      ? { code: 'source-offline', reason: `source array ${source.name} is offline; nothing can be read from it` }
      : host?.state !== 'connected'
        ? { code: 'agent-offline', reason: agentOfflineReason(host, volume.hostId) }
        : volume.migrating
          ? { code: 'already-migrating', reason: `already migrating (migration ${volume.migrating.migrationId} is ${volume.migrating.state})` }
          : null;
  if (excluded) return { code: 'excluded', reason: `excluded by an administrator${underlying ? `; ${underlying.reason}` : ''}` };
  return underlying;
}

function reachByHostIndex(hostIds: string[], hostIndexById: Map<string, number>, hosts: number): Uint8Array {
  const reach = new Uint8Array(hosts);
  for (const id of hostIds) {
    const index = hostIndexById.get(id);
    if (index !== undefined) reach[index] = 1;
  }
  return reach;
}

function rate(bytesPerS: number): string {
  return `${formatBytes(Math.round(bytesPerS))}/s`;
}

export function plan(input: PlannerInput): PlanResult {
  const { limits, constraints } = input;
  const arrayById = new Map(input.arrays.map((array) => [array.id, array]));
  const hostById = new Map(input.hosts.map((host) => [host.id, host]));
  const hostIndexById = new Map(input.hosts.map((host, index) => [host.id, index]));
  const sources = [...new Set(constraints.sourceArrayIds)].flatMap((id) => arrayById.get(id) ?? []);
  const sourceIndexById = new Map(sources.map((source, index) => [source.id, index]));
  const excluded = new Set(constraints.excludedVolumeIds);
  const selected = constraints.targetArrayIds ? new Set(constraints.targetArrayIds) : null;
  const budget = (arrayId: string) => limits.arrayBandwidthBytesPerS[arrayId] ?? Number.POSITIVE_INFINITY;

  const targets: PlacementTarget[] = input.arrays
    .filter((array) => !sourceIndexById.has(array.id))
    .sort((a, b) => byText(a.name, b.name) || byText(a.id, b.id))
    .map((array) => ({
      array,
      reach: array.allHosts ? null : reachByHostIndex(array.reachableHostIds, hostIndexById, input.hosts.length),
      selected: selected === null || selected.has(array.id),
      freeBytes: array.capacityBytes - array.usedBytes,
      placedBytes: 0,
      placedMoves: 0,
    }));

  // Every plex on a source array is a candidate, in host, volume, then source order.
  const hostnameOf = (volume: PlanVolume) => hostById.get(volume.hostId)?.hostname ?? volume.hostId;
  const volumes = input.volumes
    .map((volume) => ({ volume, hostname: hostnameOf(volume) }))
    .sort((a, b) => byText(a.hostname, b.hostname) || byText(a.volume.nbdExport, b.volume.nbdExport) || byText(a.volume.id, b.volume.id));
  const candidates: Candidate[] = [];
  for (const { volume, hostname } of volumes) {
    const onSources = volume.plexes.filter((plex) => sourceIndexById.has(plex.arrayId));
    if (onSources.length === 0) continue;
    const host = hostById.get(volume.hostId);
    const volumeArrays = new Set<string>();
    for (const plex of volume.plexes) if (!sourceIndexById.has(plex.arrayId)) volumeArrays.add(plex.arrayId);
    if (onSources.length > 1) onSources.sort((a, b) => sourceIndexById.get(a.arrayId)! - sourceIndexById.get(b.arrayId)! || byText(a.lunName, b.lunName) || byText(a.lunId, b.lunId));
    for (const plex of onSources) {
      const sourceIndex = sourceIndexById.get(plex.arrayId)!;
      const source = sources[sourceIndex]!;
      candidates.push({
        key: `${volume.id}:${plex.lunId}`,
        volume,
        hostname,
        lunId: plex.lunId,
        lunName: plex.lunName,
        source,
        sourceIndex,
        refused: refusal(volume, host, source, excluded.has(volume.id)),
        volumeArrays,
      });
    }
  }

  const movable = candidates.filter((candidate) => candidate.refused === null);
  const placementMoves: PlacementMove[] = movable.map((candidate) => ({
    key: candidate.key,
    volumeId: candidate.volume.id,
    hostId: candidate.volume.hostId,
    // Only moves of connected, hence known, hosts reach placement.
    hostIndex: hostIndexById.get(candidate.volume.hostId)!,
    hostname: candidate.hostname,
    nbdExport: candidate.volume.nbdExport,
    sizeBytes: candidate.volume.sizeBytes,
    source: candidate.source,
    sourceIndex: candidate.sourceIndex,
    volumeArrays: candidate.volumeArrays,
  }));
  const { placements, invalidOverrides } = placeMoves(placementMoves, sources, targets, constraints);
  const placementOf = new Map(movable.map((candidate, i) => [candidate.key, placements[i]!]));

  // Strategy per placed move, at the copy rate the job will get: the expected one, capped by its
  // share of its source's and target's budgets when as many jobs run as the limits allow.
  const placed = movable.flatMap((candidate) => {
    const placement = placementOf.get(candidate.key)!;
    return 'targetIndex' in placement ? [{ candidate, placement }] : [];
  });
  const movesFrom = new Int32Array(sources.length);
  const movesTo = new Int32Array(targets.length);
  for (const { candidate, placement } of placed) {
    movesFrom[candidate.sourceIndex] = movesFrom[candidate.sourceIndex]! + 1;
    movesTo[placement.targetIndex] = movesTo[placement.targetIndex]! + 1;
  }
  const copyRate = constraints.expectedCopyRateBytesPerS;
  const copyRateBasis = constraints.copyRateBasis ?? (copyRate === DEFAULT_COPY_RATE_BYTES_PER_S ? 'default' : 'measured');
  const share = (array: PlanArray, kind: 'read' | 'write', perArray: number, moves: number) => {
    const jobs = Math.max(1, Math.min(perArray, limits.global, moves));
    const bytesPerS = budget(array.id) / jobs;
    const label = Number.isFinite(bytesPerS) ? `${array.name}'s ${kind} budget ${rate(budget(array.id))}${jobs > 1 ? ` shared by ${jobs} jobs` : ''}` : '';
    return { bytesPerS, label };
  };
  const sourceShares = sources.map((source, s) => share(source, 'read', limits.perSourceArray, movesFrom[s]!));
  const targetShares = targets.map((target, t) => share(target.array, 'write', limits.perTargetArray, movesTo[t]!));
  const strategies = placed.map(({ candidate, placement }) => {
    const sourceShare = sourceShares[candidate.sourceIndex]!;
    const targetShare = targetShares[placement.targetIndex]!;
    const held = sourceShare.bytesPerS <= targetShare.bytesPerS ? sourceShare : targetShare;
    const recommendation = recommendStrategy({
      sizeBytes: candidate.volume.sizeBytes,
      ...planningWriteRate(candidate.volume),
      copyRateBytesPerS: copyRate,
      copyRateBasis,
      copyRateScope: 'fleet',
      throttleBytesPerS: held.bytesPerS < copyRate ? held.bytesPerS : null,
      throttleLabel: held.label,
      pauseBudgetMs: constraints.pauseBudgetMs,
    });
    const strategy: Strategy = constraints.strategy === 'auto' ? recommendation.strategy : constraints.strategy;
    const reason =
      constraints.strategy === 'auto'
        ? recommendation.reason
        : `${strategy === 'precopy' ? 'Pre-copy' : 'Mirror'} for all (your choice). Model: ${recommendation.reason}`;
    return { strategy, reason, recommendation, workBytes: workBytes(strategy, candidate.volume.sizeBytes, recommendation) };
  });

  // The schedule, simulated at the expected copy rate and at ±25% of it.
  const sims = simulatePlan(
    placed.map(({ candidate, placement }, i) => ({ candidate, targetIndex: placement.targetIndex, workBytes: strategies[i]!.workBytes })),
    constraints.order,
    sources,
    targets,
    input,
  );
  const { nominal, fast, slow } = sims;

  const moves: PlannedMove[] = placed.map(({ candidate, placement }, i) => {
    const strategy = strategies[i]!;
    const p50 = nominal.endS[i]! - nominal.startS[i]!;
    return {
      key: candidate.key,
      volumeId: candidate.volume.id,
      hostId: candidate.volume.hostId,
      hostname: candidate.hostname,
      diskGroup: candidate.volume.diskGroup,
      volumeName: candidate.volume.name,
      nbdExport: candidate.volume.nbdExport,
      sizeBytes: candidate.volume.sizeBytes,
      sourceArrayId: candidate.source.id,
      sourceLunId: candidate.lunId,
      sourceLunName: candidate.lunName,
      targetArrayId: targets[placement.targetIndex]!.array.id,
      placementReason: placement.reason,
      changedByUser: placement.changedByUser,
      strategy: strategy.strategy,
      strategyReason: strategy.reason,
      writeRateBytesPerS: planningWriteRate(candidate.volume).writeRateBytesPerS,
      predictedSeconds: { p50, p90: Math.max(p50, slow.endS[i]! - slow.startS[i]!) },
      scheduled: { startS: nominal.startS[i]!, endS: nominal.endS[i]! },
    };
  });

  const cannotMove: CannotMove[] = candidates.flatMap((candidate) => {
    const placement = placementOf.get(candidate.key);
    const why = candidate.refused ?? (placement && 'code' in placement ? placement : null);
    if (!why) return [];
    return [
      {
        key: candidate.key,
        volumeId: candidate.volume.id,
        hostId: candidate.volume.hostId,
        hostname: candidate.hostname,
        nbdExport: candidate.volume.nbdExport,
        sizeBytes: candidate.volume.sizeBytes,
        sourceArrayId: candidate.source.id,
        sourceLunId: candidate.lunId,
        code: why.code,
        reason: why.reason,
      },
    ];
  });

  const affectedHosts = [...new Set(candidates.map((candidate) => candidate.volume.hostId))];
  const planTargets = targets.map((target, t) => {
    const refusals = sources.map((source) => staticRefusal(target, source, constraints));
    const reachableHosts = target.reach === null ? affectedHosts.length : affectedHosts.filter((id) => target.reach![hostIndexById.get(id) ?? -1] === 1).length;
    const refused =
      sources.length > 0 && refusals.every((r) => r !== null)
        ? refusals[0]!
        : affectedHosts.length > 0 && reachableHosts === 0
          ? `not reachable from any of the ${affectedHosts.length} affected hosts`
          : target.array.capacityBytes - target.array.usedBytes <= 0
            ? 'no free space'
            : null;
    return {
      arrayId: target.array.id,
      name: target.array.name,
      tier: target.array.tier,
      state: target.array.state,
      capacityBytes: target.array.capacityBytes,
      usedBytesBefore: target.array.usedBytes,
      usedBytesAfter: target.array.usedBytes + target.placedBytes,
      incomingBytes: target.placedBytes,
      incomingVolumes: target.placedMoves,
      reachableHosts,
      affectedHosts: affectedHosts.length,
      selected: target.selected,
      eligible: refused === null,
      reason: refused,
      peakJobs: nominal.peakTargetJobs[t] ?? 0,
      peakBytesPerS: Math.round(nominal.peakTargetBytesPerS[t] ?? 0),
    };
  });

  const candidateVolumes = [...new Map(candidates.map((candidate) => [candidate.volume.id, candidate.volume])).values()];
  const byStrategy: Record<Strategy, number> = { precopy: 0, mirror: 0 };
  for (const move of moves) byStrategy[move.strategy] += 1;
  const p50 = nominal.makespanS;

  return {
    sources: sources.map((source) => {
      const here = candidates.filter((candidate) => candidate.source.id === source.id);
      return {
        arrayId: source.id,
        name: source.name,
        usedBytes: source.usedBytes,
        plexes: here.length,
        volumes: new Set(here.map((candidate) => candidate.volume.id)).size,
        hosts: new Set(here.map((candidate) => candidate.volume.hostId)).size,
        luns: source.lunCount ?? new Set(here.map((candidate) => candidate.lunId)).size,
      };
    }),
    moves,
    cannotMove,
    warnings: planWarnings({
      sources,
      candidates: candidates.map((candidate) => ({ volume: candidate.volume, hostname: candidate.hostname, sourceArrayId: candidate.source.id })),
      sourceIds: new Set(sourceIndexById.keys()),
      cannotMove,
      moves: moves.map((move, i) => ({ move, copyRateBytesPerS: strategies[i]!.recommendation.copyRateBytesPerS })),
      targets: planTargets,
      invalidOverrides,
    }),
    targets: planTargets,
    totals: {
      plexes: candidates.length,
      volumes: candidateVolumes.length,
      bytes: candidates.reduce((sum, candidate) => sum + candidate.volume.sizeBytes, 0),
      hosts: affectedHosts.length,
      movableBytes: moves.reduce((sum, move) => sum + move.sizeBytes, 0),
      writeRateBytesPerS: candidateVolumes.reduce((sum, volume) => sum + (volume.writeRateBytesPerS ?? 0), 0),
      writeRateP95BytesPerS: candidateVolumes.reduce((sum, volume) => sum + (volume.writeRateP95BytesPerS ?? volume.writeRateBytesPerS ?? 0), 0),
      byStrategy,
    },
    prediction: {
      seconds: { p10: Math.min(fast.makespanS, p50), p50, p90: Math.max(slow.makespanS, p50) },
      burndown: burndown(moves),
      bottleneck: bottleneck(nominal, moves, sources, targets, input),
    },
    blocked: cannotMove.some((entry) => entry.code !== 'excluded'),
  };
}

/**
 * Bytes a job copies: a converging pre-copy its passes (duration × rate, as the model predicts); a
 * pre-copy that will not converge pass 0 and then a mirror resync (the default non-convergence
 * policy switches to mirror); a mirror the volume once.
 */
function workBytes(strategy: Strategy, sizeBytes: number, recommendation: StrategyRecommendation): number {
  if (strategy === 'mirror') return sizeBytes;
  const { precopy } = recommendation;
  return precopy.converges && precopy.durationS !== null ? precopy.durationS * recommendation.copyRateBytesPerS : 2 * sizeBytes;
}

function simulatePlan(
  jobs: { candidate: Candidate; targetIndex: number; workBytes: number }[],
  order: PlannerInput['constraints']['order'],
  sources: PlanArray[],
  targets: PlacementTarget[],
  input: PlannerInput,
): { nominal: SimResult; fast: SimResult; slow: SimResult } {
  const hostIndex = new Map<string, number>();
  const volumeIndex = new Map<string, number>();
  for (const { candidate } of jobs) {
    if (!hostIndex.has(candidate.volume.hostId)) hostIndex.set(candidate.volume.hostId, hostIndex.size);
    if (!volumeIndex.has(candidate.volume.id)) volumeIndex.set(candidate.volume.id, volumeIndex.size);
  }
  const sizes = jobs.map((job) => job.candidate.volume.sizeBytes);
  const keys = jobs.map((job) => job.candidate.key);
  const hostnames = jobs.map((job) => job.candidate.hostname);
  const ranked = Array.from({ length: jobs.length }, (_, i) => i).sort((a, b) => {
    if (order === 'largest-first') return sizes[b]! - sizes[a]! || byText(keys[a]!, keys[b]!);
    if (order === 'by-host') return byText(hostnames[a]!, hostnames[b]!) || sizes[a]! - sizes[b]! || byText(keys[a]!, keys[b]!);
    return sizes[a]! - sizes[b]! || byText(keys[a]!, keys[b]!);
  });
  const rank = new Int32Array(jobs.length);
  ranked.forEach((job, position) => (rank[job] = position));
  const simJobs: SimJob[] = jobs.map((job, i) => ({
    host: hostIndex.get(job.candidate.volume.hostId)!,
    source: job.candidate.sourceIndex,
    target: job.targetIndex,
    volume: volumeIndex.get(job.candidate.volume.id)!,
    workBytes: job.workBytes,
    rank: rank[i]!,
  }));
  const { limits } = input;
  const budget = (arrayId: string) => limits.arrayBandwidthBytesPerS[arrayId] ?? Number.POSITIVE_INFINITY;
  const config = (factor: number): SimConfig => ({
    hosts: hostIndex.size,
    sources: sources.length,
    targets: targets.length,
    volumes: volumeIndex.size,
    global: Math.max(1, limits.global),
    perHost: Math.max(1, limits.perHost),
    perSourceArray: Math.max(1, limits.perSourceArray),
    perTargetArray: Math.max(1, limits.perTargetArray),
    copyRateBytesPerS: input.constraints.expectedCopyRateBytesPerS * factor,
    sourceBudgetBytesPerS: sources.map((source) => budget(source.id)),
    targetBudgetBytesPerS: targets.map((target) => budget(target.array.id)),
  });
  return {
    nominal: simulateSchedule(simJobs, config(1)),
    fast: simulateSchedule(simJobs, config(1 + COPY_RATE_SPREAD)),
    slow: simulateSchedule(simJobs, config(1 - COPY_RATE_SPREAD)),
  };
}

/**
 * Bytes left on the sources over time: the movable bytes at 0, stepping down as each move ends.
 * With more distinct end times than fit, the step line is sampled at even times (the first point
 * is the start, the last the finish at 0).
 */
function burndown(moves: PlannedMove[]): { t: number; leftBytes: number }[] {
  const ends = moves.map((move) => ({ t: move.scheduled.endS, bytes: move.sizeBytes })).sort((a, b) => a.t - b.t);
  let left = moves.reduce((sum, move) => sum + move.sizeBytes, 0);
  const steps: { t: number; leftBytes: number }[] = [{ t: 0, leftBytes: left }];
  for (const end of ends) {
    left -= end.bytes;
    const last = steps.at(-1)!;
    if (last.t === end.t && steps.length > 1) last.leftBytes = left;
    else steps.push({ t: end.t, leftBytes: left });
  }
  if (steps.length <= MAX_BURNDOWN_POINTS) return steps;
  const finish = steps.at(-1)!.t;
  const sampled = [steps[0]!];
  let step = 0;
  for (let k = 1; k < MAX_BURNDOWN_POINTS; k++) {
    const t = (finish * k) / (MAX_BURNDOWN_POINTS - 1);
    while (step + 1 < steps.length && steps[step + 1]!.t <= t) step += 1;
    sampled.push({ t, leftBytes: k === MAX_BURNDOWN_POINTS - 1 ? steps.at(-1)!.leftBytes : steps[step]!.leftBytes });
  }
  return sampled;
}

/**
 * What held the pace, in words: a bandwidth budget when jobs copied most of the bytes held by
 * it; else the concurrency limit moves waited on longest (when they waited a quarter of the time
 * or more); else the last move to finish, which alone sets the duration.
 */
function bottleneck(sim: SimResult, moves: PlannedMove[], sources: PlanArray[], targets: PlacementTarget[], input: PlannerInput): string {
  if (moves.length === 0) return 'nothing to move';
  const { limits } = input;
  const totalBytes = [...sim.bytesHeldBy.values()].reduce((sum, bytes) => sum + bytes, 0);
  const top = (map: Map<string, number>, accept: (key: string) => boolean) =>
    [...map.entries()].filter(([key]) => accept(key)).sort((a, b) => b[1] - a[1] || byText(a[0], b[0]))[0];
  const budgetHeld = top(sim.bytesHeldBy, (key) => key.includes('budget'));
  if (budgetHeld && budgetHeld[1] >= totalBytes / 2) {
    const [kind, index] = budgetHeld[0].split(':') as [string, string];
    const array = kind === 'source-budget' ? sources[Number(index)]! : targets[Number(index)]!.array;
    return `${array.name} ${kind === 'source-budget' ? 'read' : 'write'} budget ${rate(limits.arrayBandwidthBytesPerS[array.id] ?? 0)}`;
  }
  const waited = top(sim.waitHeldBy, () => true);
  if (waited && waited[1] >= sim.makespanS / 4) {
    const [kind, index] = waited[0].split(':') as [string, string | undefined];
    if (kind === 'global') return `the global limit of ${limits.global} concurrent jobs, each copying at up to ${rate(input.constraints.expectedCopyRateBytesPerS)}`;
    if (kind === 'source-jobs') return `the limit of ${limits.perSourceArray} jobs per source array on ${sources[Number(index)]!.name}`;
    if (kind === 'target-jobs') return `the limit of ${limits.perTargetArray} jobs per target array on ${targets[Number(index)]!.array.name}`;
    if (kind === 'host') {
      const perHost = new Map<string, number>();
      for (const move of moves) perHost.set(move.hostname, (perHost.get(move.hostname) ?? 0) + 1);
      const [busiest, count] = [...perHost.entries()].sort((a, b) => b[1] - a[1] || byText(a[0], b[0]))[0]!;
      return `the limit of ${limits.perHost} jobs per host (${busiest} has ${count} moves)`;
    }
    return 'moves of one volume run one after the other';
  }
  const last = moves.reduce((latest, move) => (move.scheduled.endS > latest.scheduled.endS ? move : latest));
  return `the last move to finish, ${last.hostname}/${last.nbdExport} (${formatBytes(last.sizeBytes)}), at up to ${rate(input.constraints.expectedCopyRateBytesPerS)}`;
}
