/**
 * The evacuation planner on hand-built inventories: placement rules, every cannot-move reason,
 * strategy choices, the simulated schedule against the limits, determinism; then properties over
 * random inventories (fast-check) that no plan may break.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type PlanArray, type PlanConstraints, type PlanHost, type PlanLimits, type PlannerInput, type PlanResult, type PlanVolume } from './plan-types';
import { plan } from './planner';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const T0 = Date.parse('2026-11-28T09:12:00Z');

function array(name: string, over: Partial<PlanArray> = {}): PlanArray {
  return { id: `a-${name}`, name, tier: 2, state: 'online', capacityBytes: 1024 * GiB, usedBytes: 0, allHosts: true, reachableHostIds: [], ...over };
}

function host(hostname: string, over: Partial<PlanHost> = {}): PlanHost {
  return { id: `h-${hostname}`, hostname, state: 'connected', stateSince: T0, ...over };
}

/** A volume on `hostname` with one plex per array name given. */
function volume(hostname: string, name: string, sizeBytes: number, arrayNames: string[], over: Partial<PlanVolume> = {}): PlanVolume {
  return {
    id: `v-${hostname}-${name}`,
    hostId: `h-${hostname}`,
    diskGroup: 'dg',
    name,
    nbdExport: `dg/${name}`,
    sizeBytes,
    writeRateBytesPerS: null,
    writeRateP95BytesPerS: null,
    plexes: arrayNames.map((arrayName, i) => ({ lunId: `l-${hostname}-${name}-${i}`, lunName: `${name}-${i}`, arrayId: `a-${arrayName}` })),
    migrating: null,
    ...over,
  };
}

function input(parts: { arrays: PlanArray[]; hosts: PlanHost[]; volumes: PlanVolume[]; limits?: Partial<PlanLimits>; constraints?: Partial<PlanConstraints> }): PlannerInput {
  return {
    arrays: parts.arrays,
    hosts: parts.hosts,
    volumes: parts.volumes,
    limits: { ...DEFAULT_LIMITS, ...parts.limits },
    constraints: {
      sourceArrayIds: ['a-SRC'],
      targetArrayIds: null,
      allowLowerTier: false,
      placement: 'balance',
      overrides: {},
      excludedVolumeIds: [],
      strategy: 'auto',
      pauseBudgetMs: 100,
      order: 'smallest-first',
      expectedCopyRateBytesPerS: 200 * MiB,
      ...parts.constraints,
    },
  };
}

const targetOf = (result: PlanResult, volumeId: string) => result.moves.filter((move) => move.volumeId === volumeId).map((move) => move.targetArrayId);
const cannot = (result: PlanResult, volumeId: string) => result.cannotMove.find((entry) => entry.volumeId === volumeId);

/**
 * Checks the simulated schedule against the limits: at every start instant, the moves running
 * (start ≤ t < end) stay within the global, per-host, per-source and per-target limits, and two
 * moves of one volume never overlap. Returns the most jobs seen at once.
 */
function expectScheduleWithinLimits(result: PlanResult, limits: PlanLimits) {
  let most = 0;
  for (const move of result.moves) {
    expect(move.scheduled.endS).toBeGreaterThanOrEqual(move.scheduled.startS);
    const t = move.scheduled.startS;
    const running = result.moves.filter((other) => other.scheduled.startS <= t && t < other.scheduled.endS);
    most = Math.max(most, running.length);
    expect(running.length).toBeLessThanOrEqual(limits.global);
    const count = (pick: (m: (typeof running)[number]) => string) => {
      const counts = new Map<string, number>();
      for (const m of running) counts.set(pick(m), (counts.get(pick(m)) ?? 0) + 1);
      return Math.max(0, ...counts.values());
    };
    expect(count((m) => m.hostId)).toBeLessThanOrEqual(limits.perHost);
    expect(count((m) => m.sourceArrayId)).toBeLessThanOrEqual(limits.perSourceArray);
    expect(count((m) => m.targetArrayId)).toBeLessThanOrEqual(limits.perTargetArray);
    expect(count((m) => m.volumeId)).toBeLessThanOrEqual(1);
  }
  const finish = Math.max(0, ...result.moves.map((move) => move.scheduled.endS));
  expect(result.prediction.seconds.p50).toBeCloseTo(finish, 6);
  return most;
}

describe('placement', () => {
  it('fills targets until they are full, then says what is missing with the numbers', () => {
    const result = plan(
      input({
        arrays: [array('SRC'), array('T1', { capacityBytes: 250 * GiB })],
        hosts: [host('db-01')],
        volumes: ['a', 'b', 'c'].map((name) => volume('db-01', name, 100 * GiB, ['SRC'])),
      }),
    );
    expect(result.moves).toHaveLength(2);
    expect(result.cannotMove).toEqual([expect.objectContaining({ code: 'no-capacity', reason: 'needs 100 GiB; largest reachable free 50 GiB on T1' })]);
    expect(result.blocked).toBe(true);
    const t1 = result.targets.find((target) => target.name === 'T1')!;
    expect(t1).toMatchObject({ usedBytesAfter: 200 * GiB, incomingBytes: 200 * GiB, incomingVolumes: 2 });
    expect(result.totals).toMatchObject({ plexes: 3, volumes: 3, bytes: 300 * GiB, movableBytes: 200 * GiB });
  });

  it('places a volume only on arrays its host reaches', () => {
    const result = plan(
      input({
        arrays: [array('SRC'), array('ZONED', { allHosts: false, reachableHostIds: ['h-app-01'] })],
        hosts: [host('app-01'), host('app-02')],
        volumes: [volume('app-01', 'a', GiB, ['SRC']), volume('app-02', 'b', GiB, ['SRC'])],
      }),
    );
    expect(targetOf(result, 'v-app-01-a')).toEqual(['a-ZONED']);
    expect(cannot(result, 'v-app-02-b')).toMatchObject({ code: 'no-reachable-target', reason: 'none of the 1 eligible target arrays is reachable from app-02' });
    expect(result.targets[0]).toMatchObject({ name: 'ZONED', reachableHosts: 1, affectedHosts: 2, eligible: true });
  });

  it('keeps the tier or better unless lower tiers are allowed', () => {
    const arrays = [array('SRC', { tier: 2 }), array('FAST', { tier: 1, capacityBytes: 10 * GiB }), array('SLOW', { tier: 3 })];
    const volumes = [volume('db-01', 'big', 20 * GiB, ['SRC']), volume('db-01', 'small', 5 * GiB, ['SRC'])];
    const kept = plan(input({ arrays, hosts: [host('db-01')], volumes }));
    expect(targetOf(kept, 'v-db-01-small')).toEqual(['a-FAST']);
    expect(cannot(kept, 'v-db-01-big')).toMatchObject({ code: 'no-capacity', reason: 'needs 20 GiB; largest reachable free 10 GiB on FAST' });
    expect(kept.targets.find((target) => target.name === 'SLOW')).toMatchObject({ eligible: false, reason: "tier 3 is lower than SRC's tier 2" });

    const lower = plan(input({ arrays, hosts: [host('db-01')], volumes, constraints: { allowLowerTier: true } }));
    expect(lower.cannotMove).toEqual([]);
    expect(targetOf(lower, 'v-db-01-big')).toEqual(['a-SLOW']);
    expect(lower.targets.every((target) => target.eligible)).toBe(true);
  });

  it('never puts two plexes of one volume on one array', () => {
    const hosts = [host('db-01')];
    // Both plexes on the source: two moves, to two arrays.
    const both = plan(input({ arrays: [array('SRC'), array('T1'), array('T2')], hosts, volumes: [volume('db-01', 'mirrored', GiB, ['SRC', 'SRC'])] }));
    expect(new Set(targetOf(both, 'v-db-01-mirrored'))).toEqual(new Set(['a-T1', 'a-T2']));
    expect(both.warnings.map((warning) => warning.code)).toContain('both-plexes-on-source');

    // Only one target: the second plex cannot follow the first there.
    const one = plan(input({ arrays: [array('SRC'), array('T1')], hosts, volumes: [volume('db-01', 'mirrored', GiB, ['SRC', 'SRC'])] }));
    expect(one.moves).toHaveLength(1);
    expect(one.cannotMove).toEqual([expect.objectContaining({ code: 'no-reachable-target', reason: 'the reachable target arrays (T1) already hold another plex of this volume' })]);

    // The other plex lives on T1 already: the source plex goes elsewhere even though T1 is emptier.
    const elsewhere = plan(
      input({ arrays: [array('SRC'), array('T1'), array('T2', { usedBytes: 900 * GiB })], hosts, volumes: [volume('db-01', 'split', GiB, ['SRC', 'T1'])] }),
    );
    expect(targetOf(elsewhere, 'v-db-01-split')).toEqual(['a-T2']);
    expect(elsewhere.warnings.map((warning) => warning.code)).toContain('other-plex-elsewhere');
  });

  it('evacuates several sources at once without using one as the target of another', () => {
    const result = plan(
      input({
        arrays: [array('SRC'), array('SRC2'), array('T1', { usedBytes: 800 * GiB })],
        hosts: [host('db-01')],
        volumes: [volume('db-01', 'a', GiB, ['SRC']), volume('db-01', 'b', GiB, ['SRC2'])],
        constraints: { sourceArrayIds: ['a-SRC', 'a-SRC2'] },
      }),
    );
    expect(result.moves.map((move) => move.targetArrayId)).toEqual(['a-T1', 'a-T1']);
    expect(result.targets.map((target) => target.name)).toEqual(['T1']);
    expect(result.sources.map((source) => [source.name, source.plexes])).toEqual([
      ['SRC', 1],
      ['SRC2', 1],
    ]);
  });

  it('balance evens out utilization across targets for equal volumes', () => {
    const arrays = [array('SRC'), array('T1', { usedBytes: 100 * GiB }), array('T2', { usedBytes: 300 * GiB }), array('T3', { usedBytes: 500 * GiB })];
    const volumes = Array.from({ length: 60 }, (_, i) => volume(`h${i % 7}`, `v${i}`, 10 * GiB, ['SRC']));
    const hosts = Array.from({ length: 7 }, (_, i) => host(`h${i}`));
    const result = plan(input({ arrays, hosts, volumes }));
    const after = result.targets.map((target) => target.usedBytesAfter / target.capacityBytes);
    expect(Math.max(...after) - Math.min(...after)).toBeLessThanOrEqual((10 * GiB) / (1024 * GiB));

    // In order: fill the first target named (524 GiB free: 52 volumes) before touching the next.
    const inOrder = plan(input({ arrays, hosts, volumes, constraints: { placement: 'in-order', targetArrayIds: ['a-T3', 'a-T1'] } }));
    expect(inOrder.targets.map((target) => [target.name, target.incomingVolumes])).toEqual([
      ['T1', 8],
      ['T2', 0],
      ['T3', 52],
    ]);
    expect(inOrder.moves.find((move) => move.targetArrayId === 'a-T1')!.placementReason).toMatch(/^first in your target order with room reachable from h\d \(skipped T3 full\)$/);
    expect(inOrder.targets.find((target) => target.name === 'T2')).toMatchObject({ selected: false, eligible: false, incomingVolumes: 0 });
  });

  it('keeps a hand-made choice while it fits, and places it automatically with a warning when it no longer does', () => {
    const arrays = [array('SRC'), array('T1'), array('T2', { usedBytes: 500 * GiB }), array('ZONED', { allHosts: false, reachableHostIds: [] })];
    const volumes = [volume('db-01', 'a', GiB, ['SRC']), volume('db-01', 'b', GiB, ['SRC'])];
    const result = plan(
      input({ arrays, hosts: [host('db-01')], volumes, constraints: { overrides: { 'v-db-01-a:l-db-01-a-0': 'a-T2', 'v-db-01-b:l-db-01-b-0': 'a-ZONED' } } }),
    );
    const [a, b] = result.moves;
    expect(a).toMatchObject({ volumeId: 'v-db-01-a', targetArrayId: 'a-T2', changedByUser: true, placementReason: 'chosen by you' });
    expect(b).toMatchObject({ volumeId: 'v-db-01-b', targetArrayId: 'a-T1', changedByUser: false });
    expect(b!.placementReason).toMatch(/^your choice ZONED no longer fits \(not reachable from db-01 \(no path\)\); least full/);
    expect(result.warnings.find((warning) => warning.code === 'override-invalid')).toMatchObject({ volumeIds: ['v-db-01-b'] });
  });
});

describe('cannot move', () => {
  it('gives every reason with its numbers; an exclusion does not block', () => {
    const result = plan(
      input({
        arrays: [array('SRC'), array('DOWN', { state: 'offline' }), array('T1', { capacityBytes: 50 * GiB }), array('Z', { allHosts: false, reachableHostIds: ['h-db-01'] })],
        hosts: [host('db-01'), host('app-33', { state: 'disconnected' }), host('app-40')],
        volumes: [
          volume('db-01', 'ok', GiB, ['SRC']),
          volume('db-01', 'moving', GiB, ['SRC'], { migrating: { migrationId: 'm-1', state: 'copying' } }),
          volume('db-01', 'huge', 2048 * GiB, ['SRC']),
          volume('app-33', 'a', GiB, ['SRC']),
          volume('app-40', 'solo', GiB, ['SRC', 'T1']),
          volume('db-01', 'old', GiB, ['DOWN']),
          volume('db-01', 'skip', GiB, ['SRC']),
        ],
        constraints: { sourceArrayIds: ['a-SRC', 'a-DOWN'], excludedVolumeIds: ['v-db-01-skip'] },
      }),
    );
    const codes = Object.fromEntries(result.cannotMove.map((entry) => [entry.volumeId, [entry.code, entry.reason]]));
    expect(codes).toEqual({
      'v-db-01-moving': ['already-migrating', 'already migrating (migration m-1 is copying)'],
      'v-db-01-huge': ['no-capacity', 'needs 2 TiB; largest reachable free 1 TiB on Z'],
      'v-app-33-a': ['agent-offline', 'agent disconnected since 2026-11-28T09:12:00.000Z'],
      'v-app-40-solo': ['no-reachable-target', 'the reachable target arrays (T1) already hold another plex of this volume'],
      'v-db-01-old': ['source-offline', 'source array DOWN is offline; nothing can be read from it'],
      'v-db-01-skip': ['excluded', 'excluded by an administrator'],
    });
    expect(result.blocked).toBe(true);
    expect(result.warnings.find((warning) => warning.code === 'host-disconnected')?.message).toBe(
      '1 host is not connected (app-33; 1 volume). Their volumes cannot move until the agents return.',
    );
    expect(result.warnings.find((warning) => warning.code === 'already-migrating')?.volumeIds).toEqual(['v-db-01-moving']);

    const onlyExcluded = plan(
      input({ arrays: [array('SRC'), array('T1')], hosts: [host('db-01', { state: 'fenced' })], volumes: [volume('db-01', 'x', GiB, ['SRC'])], constraints: { excludedVolumeIds: ['v-db-01-x'] } }),
    );
    expect(onlyExcluded.cannotMove).toEqual([expect.objectContaining({ code: 'excluded', reason: 'excluded by an administrator; host db-01 is fenced since 2026-11-28T09:12:00.000Z' })]);
    expect(onlyExcluded.blocked).toBe(false);
  });

  it('names why no target is eligible at all', () => {
    const result = plan(
      input({ arrays: [array('SRC'), array('OFF', { state: 'offline' }), array('LOW', { tier: 4 })], hosts: [host('db-01')], volumes: [volume('db-01', 'a', GiB, ['SRC'])] }),
    );
    expect(result.cannotMove[0]).toMatchObject({
      code: 'no-reachable-target',
      reason: "no eligible target array for a plex on SRC (LOW: tier 4 is lower than SRC's tier 2, OFF: array is offline)",
    });
  });
});

describe('strategy', () => {
  const arrays = [array('SRC'), array('T1')];
  const hosts = [host('db-01')];
  const quiet = volume('db-01', 'quiet', 10 * GiB, ['SRC'], { writeRateP95BytesPerS: MiB });
  const busy = volume('db-01', 'busy', 10 * GiB, ['SRC'], { writeRateBytesPerS: 100 * MiB, writeRateP95BytesPerS: 180 * MiB });

  it('auto picks pre-copy for quiet volumes and mirror for busy ones, with reasons in numbers', () => {
    const result = plan(input({ arrays, hosts, volumes: [quiet, busy] }));
    const [b, q] = result.moves;
    expect(q).toMatchObject({ volumeId: quiet.id, strategy: 'precopy', writeRateBytesPerS: MiB });
    expect(q!.strategyReason).toMatch(/^Pre-copy: copy ~200 MiB\/s \(default; no recent migration on this fleet\) vs writes p95 1 MiB\/s, ~\d+ pass/);
    expect(b).toMatchObject({ volumeId: busy.id, strategy: 'mirror' });
    expect(b!.strategyReason).toContain('Pre-copy would not converge: writes (p95 180 MiB/s)');
    expect(result.totals.byStrategy).toEqual({ precopy: 1, mirror: 1 });
    expect(result.warnings.find((warning) => warning.code === 'high-writes')?.volumeIds).toEqual([busy.id]);
    expect(result.warnings.find((warning) => warning.code === 'mirror-latency')).toMatchObject({ volumeIds: [busy.id], needsAcknowledgement: true });
  });

  it('plans for the copy rate the job will get under a shared bandwidth budget', () => {
    const result = plan(
      input({ arrays, hosts, volumes: [quiet, volume('db-01', 'other', GiB, ['SRC'])], limits: { arrayBandwidthBytesPerS: { 'a-SRC': 4 * MiB } }, constraints: { copyRateBasis: 'measured' } }),
    );
    const q = result.moves.find((move) => move.volumeId === quiet.id)!;
    // 4 MiB/s shared by 2 jobs = 2 MiB/s against 1 MiB/s of writes: half the copy rate, so mirror.
    expect(q.strategy).toBe('mirror');
    expect(q.strategyReason).toContain("~2 MiB/s (limited by SRC's read budget 4 MiB/s shared by 2 jobs)");
  });

  it('follows a forced strategy and still says what the model thinks', () => {
    const result = plan(input({ arrays, hosts, volumes: [busy], constraints: { strategy: 'precopy' } }));
    expect(result.moves[0]).toMatchObject({ strategy: 'precopy' });
    expect(result.moves[0]!.strategyReason).toMatch(/^Pre-copy for all \(your choice\)\. Model: Pre-copy would not converge/);
  });
});

describe('schedule simulation', () => {
  it('shares a source read budget between its jobs: ten 1 GiB mirrors under 100 MiB/s take 102.4 s', () => {
    const result = plan(
      input({
        arrays: [array('SRC'), array('T1')],
        hosts: Array.from({ length: 10 }, (_, i) => host(`h${i}`)),
        volumes: Array.from({ length: 10 }, (_, i) => volume(`h${i}`, 'v', GiB, ['SRC'])),
        limits: { arrayBandwidthBytesPerS: { 'a-SRC': 100 * MiB }, perSourceArray: 16, perTargetArray: 16 },
        constraints: { strategy: 'mirror' },
      }),
    );
    expect(result.prediction.seconds.p50).toBeCloseTo(102.4, 6);
    // The budget, not the copy rate, holds the pace: ±25% of copy rate changes nothing.
    expect(result.prediction.seconds.p10).toBeCloseTo(102.4, 6);
    expect(result.prediction.seconds.p90).toBeCloseTo(102.4, 6);
    expect(result.prediction.bottleneck).toBe('SRC read budget 100 MiB/s');
    expect(result.targets[0]).toMatchObject({ peakJobs: 10, peakBytesPerS: 100 * MiB });
    expect(result.prediction.burndown).toEqual([
      { t: 0, leftBytes: 10 * GiB },
      { t: expect.closeTo(102.4, 6), leftBytes: 0 },
    ]);
  });

  it('admits under the global limit in the order asked and names the limit that held the pace', () => {
    const volumes = [1, 2, 3, 4].map((n) => volume(`h${n}`, 'v', n * GiB, ['SRC']));
    const parts = {
      arrays: [array('SRC'), array('T1')],
      hosts: [1, 2, 3, 4].map((n) => host(`h${n}`)),
      volumes,
      limits: { global: 1 },
      constraints: { strategy: 'mirror' as const, expectedCopyRateBytesPerS: GiB },
    };
    const smallest = plan(input(parts));
    expect(smallest.moves.map((move) => [move.sizeBytes / GiB, move.scheduled.startS, move.scheduled.endS])).toEqual([
      [1, 0, 1],
      [2, 1, 3],
      [3, 3, 6],
      [4, 6, 10],
    ]);
    expect(smallest.prediction.seconds).toEqual({ p10: 8, p50: 10, p90: expect.closeTo(10 / 0.75, 9) });
    expect(smallest.prediction.bottleneck).toBe('the global limit of 1 concurrent jobs, each copying at up to 1 GiB/s');
    expect(smallest.moves[3]!.predictedSeconds).toEqual({ p50: 4, p90: expect.closeTo(4 / 0.75, 9) });
    const largest = plan(input({ ...parts, constraints: { ...parts.constraints, order: 'largest-first' } }));
    expect(largest.moves.map((move) => move.scheduled.startS)).toEqual([9, 7, 4, 0]);
  });

  it('never exceeds the concurrency limits and runs one move per volume at a time', () => {
    const hosts = Array.from({ length: 12 }, (_, i) => host(`h${String(i).padStart(2, '0')}`));
    const volumes = Array.from({ length: 80 }, (_, i) => volume(`h${String(i % 12).padStart(2, '0')}`, `v${i}`, ((i * 37) % 50) * GiB + GiB, i % 9 === 0 ? ['SRC', 'SRC2'] : [i % 2 ? 'SRC' : 'SRC2']));
    const limits: PlanLimits = { global: 7, perHost: 1, perSourceArray: 4, perTargetArray: 2, arrayBandwidthBytesPerS: { 'a-T2': 50 * MiB } };
    const result = plan(
      input({
        arrays: [array('SRC'), array('SRC2'), array('T1'), array('T2'), array('T3'), array('T4')],
        hosts,
        volumes,
        limits,
        constraints: { sourceArrayIds: ['a-SRC', 'a-SRC2'], order: 'by-host' },
      }),
    );
    expect(result.cannotMove).toEqual([]);
    const most = expectScheduleWithinLimits(result, limits);
    expect(most).toBeGreaterThan(1);
    const burndown = result.prediction.burndown;
    expect(burndown.length).toBeLessThanOrEqual(200);
    expect(burndown[0]).toEqual({ t: 0, leftBytes: result.totals.movableBytes });
    expect(burndown.at(-1)!.leftBytes).toBe(0);
    for (let i = 1; i < burndown.length; i++) {
      expect(burndown[i]!.t).toBeGreaterThanOrEqual(burndown[i - 1]!.t);
      expect(burndown[i]!.leftBytes).toBeLessThanOrEqual(burndown[i - 1]!.leftBytes);
    }
    for (const target of result.targets) expect(target.peakJobs).toBeLessThanOrEqual(limits.perTargetArray);
    expect(result.targets.find((target) => target.name === 'T2')!.peakBytesPerS).toBeLessThanOrEqual(50 * MiB);
  });
});

describe('determinism', () => {
  it('gives the same plan for the same inventory, in any order', () => {
    const arrays = [array('SRC'), array('T1'), array('T2'), array('T3', { allHosts: false, reachableHostIds: ['h-b'] })];
    const hosts = [host('a'), host('b'), host('c')];
    const volumes = Array.from({ length: 30 }, (_, i) => volume(['a', 'b', 'c'][i % 3]!, `v${i}`, (i % 4) * GiB + GiB, ['SRC'], { writeRateP95BytesPerS: (i % 5) * 30 * MiB }));
    const first = plan(input({ arrays, hosts, volumes }));
    expect(plan(input({ arrays, hosts, volumes }))).toEqual(first);
    expect(plan(input({ arrays: [...arrays].reverse(), hosts: [...hosts].reverse(), volumes: [...volumes].reverse() }))).toEqual(first);
  });
});

describe('properties over random inventories', () => {
  const inventory = fc
    .record({
      arrayCount: fc.integer({ min: 2, max: 6 }),
      sourceCount: fc.integer({ min: 1, max: 2 }),
      tiers: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 6, maxLength: 6 }),
      states: fc.array(fc.constantFrom('online', 'online', 'online', 'degraded', 'offline'), { minLength: 6, maxLength: 6 }),
      capacities: fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 6, maxLength: 6 }),
      used: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 6, maxLength: 6 }),
      zoning: fc.array(fc.option(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 5 })), { minLength: 6, maxLength: 6 }),
      hostStates: fc.array(fc.constantFrom('connected', 'connected', 'connected', 'disconnected'), { minLength: 5, maxLength: 5 }),
      volumes: fc.array(
        fc.record({
          host: fc.integer({ min: 0, max: 4 }),
          sizeGiB: fc.integer({ min: 0, max: 60 }),
          arrays: fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 2 }),
          writesMiB: fc.option(fc.integer({ min: 0, max: 300 })),
          migrating: fc.boolean(),
          excluded: fc.boolean(),
        }),
        { maxLength: 25 },
      ),
      allowLowerTier: fc.boolean(),
      placement: fc.constantFrom('balance', 'in-order'),
      chooseTargets: fc.boolean(),
      limits: fc.record({ global: fc.integer({ min: 1, max: 6 }), perHost: fc.integer({ min: 1, max: 3 }), perSourceArray: fc.integer({ min: 1, max: 4 }), perTargetArray: fc.integer({ min: 1, max: 4 }) }),
    })
    .map((spec): PlannerInput => {
      const names = Array.from({ length: spec.arrayCount }, (_, i) => `A${i}`);
      const hosts = spec.hostStates.map((state, i) => host(`h${i}`, { state }));
      const arrays = names.map((name, i) =>
        array(name, {
          tier: spec.tiers[i]!,
          state: spec.states[i]!,
          capacityBytes: spec.capacities[i]! * GiB,
          usedBytes: Math.min(spec.used[i]!, spec.capacities[i]!) * GiB,
          allHosts: spec.zoning[i] === null,
          reachableHostIds: (spec.zoning[i] ?? []).map((h) => `h-h${h}`),
        }),
      );
      const volumes = spec.volumes
        .map((v, i) =>
          volume(
            `h${v.host}`,
            `v${i}`,
            v.sizeGiB * GiB,
            v.arrays.filter((a) => a < spec.arrayCount).map((a) => names[a]!),
            { writeRateP95BytesPerS: v.writesMiB === null ? null : v.writesMiB * MiB, migrating: v.migrating ? { migrationId: `m${i}`, state: 'copying' } : null },
          ),
        )
        .filter((v) => v.plexes.length > 0);
      const sourceArrayIds = arrays.slice(0, Math.min(spec.sourceCount, spec.arrayCount - 1)).map((a) => a.id);
      return input({
        arrays,
        hosts,
        volumes,
        limits: spec.limits,
        constraints: {
          sourceArrayIds,
          allowLowerTier: spec.allowLowerTier,
          placement: spec.placement,
          targetArrayIds: spec.chooseTargets ? arrays.filter((_, i) => i % 2 === 1).map((a) => a.id) : null,
          excludedVolumeIds: spec.volumes.flatMap((v, i) => (v.excluded ? [`v-h${v.host}-v${i}`] : [])),
        },
      });
    });

  it('never over-commits or places on an ineligible array, keeps plexes apart, accounts for every plex once, and respects the limits', () => {
    fc.assert(
      fc.property(inventory, (planInput) => {
        const result = plan(planInput);
        const arrays = new Map(planInput.arrays.map((a) => [a.id, a]));
        const sources = new Set(planInput.constraints.sourceArrayIds);
        const chosen = planInput.constraints.targetArrayIds;
        const volumes = new Map(planInput.volumes.map((v) => [v.id, v]));

        const placedBytes = new Map<string, number>();
        for (const move of result.moves) {
          const target = arrays.get(move.targetArrayId)!;
          const source = arrays.get(move.sourceArrayId)!;
          placedBytes.set(target.id, (placedBytes.get(target.id) ?? 0) + move.sizeBytes);
          expect(target.state).toBe('online');
          expect(sources.has(target.id)).toBe(false);
          if (chosen) expect(chosen).toContain(target.id);
          if (!planInput.constraints.allowLowerTier) expect(target.tier).toBeLessThanOrEqual(source.tier);
          expect(target.allHosts || target.reachableHostIds.includes(move.hostId)).toBe(true);
        }
        for (const [id, bytes] of placedBytes) expect(bytes).toBeLessThanOrEqual(arrays.get(id)!.capacityBytes - arrays.get(id)!.usedBytes);

        for (const v of planInput.volumes) {
          const staying = v.plexes.filter((plex) => !sources.has(plex.arrayId)).map((plex) => plex.arrayId);
          const after = [...staying, ...targetOf(result, v.id)];
          expect(new Set(after).size).toBe(after.length);
        }

        const expected = planInput.volumes.flatMap((v) => v.plexes.filter((plex) => sources.has(plex.arrayId)).map((plex) => `${v.id}:${plex.lunId}`)).sort();
        const accounted = [...result.moves.map((move) => move.key), ...result.cannotMove.map((entry) => entry.key)].sort();
        expect(accounted).toEqual(expected);
        for (const entry of result.cannotMove) expect(volumes.has(entry.volumeId)).toBe(true);
        expect(result.blocked).toBe(result.cannotMove.some((entry) => entry.code !== 'excluded'));

        expectScheduleWithinLimits(result, planInput.limits);
        const { p10, p50, p90 } = result.prediction.seconds;
        expect(p10).toBeLessThanOrEqual(p50);
        expect(p50).toBeLessThanOrEqual(p90);
      }),
      { numRuns: 300 },
    );
  });
});
