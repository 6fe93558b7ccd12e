/**
 * Owns the evacuation planner's schedule simulation (docs/architecture.md, scheduler): a discrete-event run
 * of the moves as the scheduler would admit them, used for the predicted duration, the burndown,
 * each target's peak load and the bottleneck. Pure; time is seconds from the start.
 *
 * Invariants the simulation keeps, and the tests check on its output:
 * - Admission takes the pending moves in rank order and starts every one that fits under all the
 *   concurrency limits (global, per host, per source array, per target array); a move that does
 *   not fit is skipped, not waited for, so a later move may start first.
 * - Two moves of one volume never run at once (the engine allows one migration per volume).
 * - A running job copies at min(copy rate, its source's budget ÷ the source's running jobs, its
 *   target's budget ÷ the target's running jobs); rates change only when a job starts or ends on
 *   one of its arrays, so each event re-rates only the jobs sharing those arrays.
 * - A job's work is in bytes to copy (a pre-copy's passes included) and is fixed at planning; a
 *   change of rate changes how long the rest takes, not how much is left.
 */

export interface SimJob {
  host: number;
  source: number;
  target: number;
  volume: number;
  /** Bytes the job copies, passes included. */
  workBytes: number;
  /** Admission order: lower first. */
  rank: number;
}

export interface SimConfig {
  hosts: number;
  sources: number;
  targets: number;
  volumes: number;
  global: number;
  perHost: number;
  perSourceArray: number;
  perTargetArray: number;
  copyRateBytesPerS: number;
  /** Budget per source / target index in bytes/s; Infinity = unlimited. */
  sourceBudgetBytesPerS: number[];
  targetBudgetBytesPerS: number[];
}

/** What held the admission of waiting moves, or a running job's rate. */
export type Held =
  | { kind: 'copy-rate' }
  | { kind: 'source-budget' | 'target-budget' | 'source-jobs' | 'target-jobs'; index: number }
  | { kind: 'global' | 'host' | 'volume' };

export interface SimResult {
  startS: Float64Array;
  endS: Float64Array;
  makespanS: number;
  peakTargetJobs: Int32Array;
  peakTargetBytesPerS: Float64Array;
  /** Bytes copied while a job's rate was held by each cause (key from `heldKey`). */
  bytesHeldBy: Map<string, number>;
  /** Seconds during which moves waited, by what held the first waiting move of the busiest bucket. */
  waitHeldBy: Map<string, number>;
}

const WAIT_GLOBAL = 0;
const WAIT_HOST = 1;
const WAIT_VOLUME = 2;
const WAIT_SOURCE = 3;

export function heldKey(held: Held): string {
  return 'index' in held ? `${held.kind}:${held.index}` : held.kind;
}

/** A binary min-heap of (time, job, version) entries; stale versions are skipped on pop. */
class EventHeap {
  private times: number[] = [];
  private jobs: number[] = [];
  private versions: number[] = [];

  get size() {
    return this.times.length;
  }

  push(time: number, job: number, version: number) {
    let i = this.times.length;
    this.times.push(time);
    this.jobs.push(job);
    this.versions.push(version);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): { time: number; job: number; version: number } {
    const top = { time: this.times[0]!, job: this.jobs[0]!, version: this.versions[0]! };
    const last = this.times.length - 1;
    this.swap(0, last);
    this.times.pop();
    this.jobs.pop();
    this.versions.pop();
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < this.times.length && this.before(left, smallest)) smallest = left;
      if (right < this.times.length && this.before(right, smallest)) smallest = right;
      if (smallest === i) break;
      this.swap(i, smallest);
      i = smallest;
    }
    return top;
  }

  /** Earlier time first; equal times by job index, so runs are deterministic. */
  private before(a: number, b: number) {
    return this.times[a]! < this.times[b]! || (this.times[a] === this.times[b] && this.jobs[a]! < this.jobs[b]!);
  }

  private swap(a: number, b: number) {
    const time = this.times[a]!;
    this.times[a] = this.times[b]!;
    this.times[b] = time;
    const job = this.jobs[a]!;
    this.jobs[a] = this.jobs[b]!;
    this.jobs[b] = job;
    const version = this.versions[a]!;
    this.versions[a] = this.versions[b]!;
    this.versions[b] = version;
  }
}

/** Job indices by rank, ties by index; in linear time when the ranks are the positions 0…n−1, as the planner gives them. */
function rankOrder(jobs: readonly SimJob[]): number[] {
  const n = jobs.length;
  const order = new Array<number>(n).fill(-1);
  for (let j = 0; j < n; j++) {
    const rank = jobs[j]!.rank;
    if (!Number.isInteger(rank) || rank < 0 || rank >= n || order[rank] !== -1) {
      return Array.from({ length: n }, (_, i) => i).sort((a, b) => jobs[a]!.rank - jobs[b]!.rank || a - b);
    }
    order[rank] = j;
  }
  return order;
}

interface Bucket {
  source: number;
  target: number;
  /** Job indices in rank order. */
  jobs: number[];
  /** Every job before this index has been admitted. */
  next: number;
}

export function simulateSchedule(jobs: readonly SimJob[], config: SimConfig): SimResult {
  const n = jobs.length;
  const startS = new Float64Array(n).fill(Number.NaN);
  const endS = new Float64Array(n).fill(Number.NaN);
  const admitted = new Uint8Array(n);
  const remaining = new Float64Array(n);
  const rate = new Float64Array(n);
  const since = new Float64Array(n);
  const version = new Int32Array(n);
  /** What holds each job's rate: -1 the copy rate, s a source's budget, sources + t a target's. */
  const heldBy = new Int32Array(n);
  const hostRunning = new Int32Array(config.hosts);
  const volumeRunning = new Uint8Array(config.volumes);
  const sourceJobs: Set<number>[] = Array.from({ length: config.sources }, () => new Set());
  const targetJobs: Set<number>[] = Array.from({ length: config.targets }, () => new Set());
  const peakTargetJobs = new Int32Array(config.targets);
  const peakTargetBytesPerS = new Float64Array(config.targets);
  // Bytes by what held the rate: [0] the copy rate, [1 + s] a source budget, [1 + sources + t] a target budget.
  const bytesHeld = new Float64Array(1 + config.sources + config.targets);
  // Seconds moves waited by what held them: [0] global, [1] host, [2] volume, [3 + s] source jobs, [3 + sources + t] target jobs.
  const waitHeld = new Float64Array(3 + config.sources + config.targets);
  const heap = new EventHeap();
  let running = 0;
  let pending = n;
  let now = 0;

  // One bucket per (source, target) pair, each in rank order: admission looks at each bucket's
  // first admissible job instead of scanning every pending move.
  const byPair = new Map<number, Bucket>();
  const order = rankOrder(jobs);
  for (const j of order) {
    const job = jobs[j]!;
    const pair = job.source * config.targets + job.target;
    let bucket = byPair.get(pair);
    if (!bucket) byPair.set(pair, (bucket = { source: job.source, target: job.target, jobs: [], next: 0 }));
    bucket.jobs.push(j);
  }
  let buckets = [...byPair.values()].sort((a, b) => a.source - b.source || a.target - b.target);

  /** Brings a job's progress up to `now` at its current rate, counting the bytes against what held it. */
  const settle = (j: number) => {
    const copied = Math.min(remaining[j]!, rate[j]! * (now - since[j]!));
    if (copied > 0) bytesHeld[1 + heldBy[j]!] = bytesHeld[1 + heldBy[j]!]! + copied;
    remaining[j] = Math.max(0, remaining[j]! - copied);
    since[j] = now;
  };

  const rerate = (j: number) => {
    const job = jobs[j]!;
    const sourceShare = config.sourceBudgetBytesPerS[job.source]! / sourceJobs[job.source]!.size;
    const targetShare = config.targetBudgetBytesPerS[job.target]! / targetJobs[job.target]!.size;
    let next = config.copyRateBytesPerS;
    let held = -1;
    if (sourceShare < next) {
      next = sourceShare;
      held = job.source;
    }
    if (targetShare < next) {
      next = targetShare;
      held = config.sources + job.target;
    }
    next = Math.max(next, 1);
    if (next === rate[j] && version[j]! > 0) return;
    settle(j);
    rate[j] = next;
    heldBy[j] = held;
    version[j] = version[j]! + 1;
    loadChanged.add(job.target);
    heap.push(now + remaining[j]! / next, j, version[j]!);
  };

  const touched = { sources: new Set<number>(), targets: new Set<number>() };
  /** Targets whose jobs or rates changed in this event: their peaks are checked after it. */
  const loadChanged = new Set<number>();
  const touch = (job: SimJob) => {
    touched.sources.add(job.source);
    touched.targets.add(job.target);
  };

  const start = (j: number) => {
    const job = jobs[j]!;
    admitted[j] = 1;
    pending -= 1;
    running += 1;
    hostRunning[job.host] = hostRunning[job.host]! + 1;
    volumeRunning[job.volume] = 1;
    sourceJobs[job.source]!.add(j);
    targetJobs[job.target]!.add(j);
    startS[j] = now;
    since[j] = now;
    remaining[j] = job.workBytes;
    rate[j] = 0;
    version[j] = 0;
    touch(job);
  };

  const finish = (j: number) => {
    const job = jobs[j]!;
    settle(j);
    endS[j] = now;
    running -= 1;
    hostRunning[job.host] = hostRunning[job.host]! - 1;
    volumeRunning[job.volume] = 0;
    sourceJobs[job.source]!.delete(j);
    targetJobs[job.target]!.delete(j);
    touch(job);
  };

  /** Starts every pending move that fits, best rank first; returns what held the rest (an index of `waitHeld`), or -1. */
  const admit = (): number => {
    for (;;) {
      if (pending === 0) return -1;
      if (running >= config.global) return WAIT_GLOBAL;
      let best = -1;
      let held = -1;
      for (const bucket of buckets) {
        while (bucket.next < bucket.jobs.length && admitted[bucket.jobs[bucket.next]!]) bucket.next += 1;
        if (bucket.next >= bucket.jobs.length) continue;
        if (sourceJobs[bucket.source]!.size >= config.perSourceArray) {
          if (held < 0) held = WAIT_SOURCE + bucket.source;
          continue;
        }
        if (targetJobs[bucket.target]!.size >= config.perTargetArray) {
          if (held < 0) held = WAIT_SOURCE + config.sources + bucket.target;
          continue;
        }
        for (let i = bucket.next; i < bucket.jobs.length; i++) {
          const j = bucket.jobs[i]!;
          if (admitted[j]) continue;
          const job = jobs[j]!;
          if (best >= 0 && job.rank > jobs[best]!.rank) break;
          if (hostRunning[job.host]! >= config.perHost) {
            if (held < 0) held = WAIT_HOST;
            continue;
          }
          if (volumeRunning[job.volume]) {
            if (held < 0) held = WAIT_VOLUME;
            continue;
          }
          if (best < 0 || job.rank < jobs[best]!.rank || (job.rank === jobs[best]!.rank && j < best)) best = j;
          break;
        }
      }
      if (best < 0) return held;
      start(best);
    }
  };

  const afterEvents = () => {
    for (const source of touched.sources) for (const j of sourceJobs[source]!) rerate(j);
    for (const target of touched.targets) for (const j of targetJobs[target]!) rerate(j);
    for (const target of touched.targets) loadChanged.add(target);
    for (const target of loadChanged) {
      const jobsNow = targetJobs[target]!;
      let bytesPerS = 0;
      for (const j of jobsNow) bytesPerS += rate[j]!;
      if (jobsNow.size > peakTargetJobs[target]!) peakTargetJobs[target] = jobsNow.size;
      if (bytesPerS > peakTargetBytesPerS[target]!) peakTargetBytesPerS[target] = bytesPerS;
    }
    touched.sources.clear();
    touched.targets.clear();
    loadChanged.clear();
    if (buckets.some((bucket) => bucket.next >= bucket.jobs.length)) buckets = buckets.filter((bucket) => bucket.next < bucket.jobs.length);
  };

  let waiting = admit();
  afterEvents();
  while (heap.size > 0) {
    const event = heap.pop();
    if (event.version !== version[event.job] || !Number.isNaN(endS[event.job]!)) continue;
    if (waiting >= 0 && event.time > now) waitHeld[waiting] = waitHeld[waiting]! + event.time - now;
    now = event.time;
    finish(event.job);
    // Finish every job that ends at this same instant before admitting, so ties admit together.
    while (heap.size > 0) {
      const peek = heap.pop();
      if (peek.version !== version[peek.job] || !Number.isNaN(endS[peek.job]!)) continue;
      if (peek.time > now) {
        heap.push(peek.time, peek.job, peek.version);
        break;
      }
      finish(peek.job);
    }
    waiting = admit();
    afterEvents();
  }
  const bytesHeldBy = new Map<string, number>([[heldKey({ kind: 'copy-rate' }), bytesHeld[0]!]]);
  const waitHeldBy = new Map<string, number>([
    [heldKey({ kind: 'global' }), waitHeld[WAIT_GLOBAL]!],
    [heldKey({ kind: 'host' }), waitHeld[WAIT_HOST]!],
    [heldKey({ kind: 'volume' }), waitHeld[WAIT_VOLUME]!],
  ]);
  for (let s = 0; s < config.sources; s++) {
    bytesHeldBy.set(heldKey({ kind: 'source-budget', index: s }), bytesHeld[1 + s]!);
    waitHeldBy.set(heldKey({ kind: 'source-jobs', index: s }), waitHeld[WAIT_SOURCE + s]!);
  }
  for (let t = 0; t < config.targets; t++) {
    bytesHeldBy.set(heldKey({ kind: 'target-budget', index: t }), bytesHeld[1 + config.sources + t]!);
    waitHeldBy.set(heldKey({ kind: 'target-jobs', index: t }), waitHeld[WAIT_SOURCE + config.sources + t]!);
  }
  return { startS, endS, makespanS: now, peakTargetJobs, peakTargetBytesPerS, bytesHeldBy, waitHeldBy };
}
