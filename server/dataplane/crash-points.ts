/**
 * Named crash points: every place where the agent makes something durable (a job's state file,
 * its dirty-region and rollback logs, the volume configuration, the plex switch, commit, cancel,
 * rollback) calls `crashPoint(name)` once that step is on disk. Normally a crash point does
 * nothing. Armed, the N-th time its point is reached it crashes the agent there:
 *
 * - `TERN_CRASH_AT=name[:N]` in a real agent's environment: SIGKILL of the agent process itself.
 * - `armCrash(name, N)` in a test: an injected abort. From that moment every crash point and
 *   every I/O of the data plane (plex reads and writes, log and state-file writes, which call
 *   `haltedIo()`) waits for ever, as if the process had died with that I/O not yet issued. A
 *   test restarts the agent from its files with fresh module instances (server/agent/crash-points.test.ts).
 *
 * CRASH_POINTS lists every name, so a test can enumerate them and a new persist without a point
 * shows up in the count the test prints.
 */
export const CRASH_POINTS = [
  // a migration starts: the target plex is in the volume configuration as syncing, then the job's files exist
  'config.target-attached',
  'job.started',
  // pause, resume, throttle, a lease epoch: recorded in the state file
  'job.control-recorded',
  // the copy: checkpoints of a pass (DRL cleared and flushed, then the state file), the end of a pass
  'job.checkpoint-drl-flushed',
  'job.checkpoint-recorded',
  'job.pass-recorded',
  // a dirty-region log flush: pages written, then fdatasync done (before the marks are acknowledged)
  'drl.pages-written',
  'drl.synced',
  'rollback-log.pages-written',
  'rollback-log.synced',
  // the cutover
  'cutover.writes-held',
  'cutover.target-flushed',
  'cutover.switch-recorded',
  'config.switched',
  'verify.recorded',
  // commit, rollback, cancel, failure
  'commit.recorded',
  'job.logs-removed',
  'config.committed',
  'rollback.begun',
  'rollback.copied-back',
  'rollback.recorded',
  'config.rolled-back',
  'cancel.recorded',
  'config.cancelled',
  'fail.recorded',
  'config.failed',
] as const;

export type CrashPointName = (typeof CRASH_POINTS)[number];

interface Armed {
  name: CrashPointName;
  hit: number;
  mode: 'kill' | 'halt';
}

let armed: Armed | null = parseEnv(process.env.TERN_CRASH_AT);
let halted = false;
const hits = new Map<CrashPointName, number>();

/** Never settles: what every I/O and crash point awaits once the injected abort has happened. */
const HALT = new Promise<never>(() => undefined);

function parseEnv(value: string | undefined): Armed | null {
  if (!value) return null;
  const [name, hit] = value.split(':');
  if (!CRASH_POINTS.includes(name as CrashPointName)) throw new Error(`TERN_CRASH_AT names no crash point: ${value} (one of ${CRASH_POINTS.join(', ')})`);
  const count = hit === undefined ? 1 : Number(hit);
  if (!Number.isInteger(count) || count < 1) throw new Error(`TERN_CRASH_AT=${value}: the hit count must be a positive integer`);
  return { name: name as CrashPointName, hit: count, mode: 'kill' };
}

/** Reached a durable step. Armed for it, the agent dies here (see the top of this file). */
export function crashPoint(name: CrashPointName): Promise<void> | undefined {
  if (halted) return HALT;
  const count = (hits.get(name) ?? 0) + 1;
  hits.set(name, count);
  if (!armed || armed.name !== name || armed.hit !== count) return undefined;
  if (armed.mode === 'kill') process.kill(process.pid, 'SIGKILL');
  halted = true;
  return HALT;
}

/** Data-plane I/O calls this first: after an injected abort the I/O never happens and never returns. */
export function haltedIo(): Promise<never> | undefined {
  return halted ? HALT : undefined;
}

/** Tests: abort at the `hit`-th time `name` is reached (hit counts start now). */
export function armCrash(name: CrashPointName, hit = 1) {
  armed = { name, hit, mode: 'halt' };
  hits.clear();
}

/** Tests: whether the armed abort has happened. */
export function hasCrashed(): boolean {
  return halted;
}

/** Tests: how often each point was reached since arming. */
export function crashPointHits(): ReadonlyMap<CrashPointName, number> {
  return hits;
}
