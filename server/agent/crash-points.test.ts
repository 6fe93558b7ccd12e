/**
 * Named crash points (server/dataplane/crash-points.ts), enumerated: for every point × both
 * strategies × each operator action (commit, rollback, cancel and rollback before the switch,
 * rollback after a failed job), the agent's volume runtime moves a volume while a writer keeps a
 * ledger of what was acknowledged; the run aborts exactly at the point (an injected abort: from
 * then on no I/O of that incarnation happens), a new incarnation starts from the data folder with
 * fresh module instances, as a restarted agent would, and the check is:
 *
 * - every acknowledged write reads back from the restarted volume (writes in flight at the crash
 *   may hold old or new content);
 * - the volume is served from the plex the job's record says is authoritative, and the
 *   configuration lists it as active;
 * - the job then finishes (or fails, with a reason) when driven on, and the ledger still holds.
 *
 * The regression cases for a crash between a job's record and the volume configuration, and for
 * a job or a plex that cannot be opened at start, are here too, each named for its scenario.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CrashPointName } from '../dataplane/crash-points';
import { CRASH_POINTS } from '../dataplane/crash-points';
import { faultRulesPath } from '../dataplane/faulty-device';
import { blockContent, verifyLedger, type BlockTarget, type WriteLedger } from '../dataplane/workload';
import type { MigrationStatus } from '../protocol/agent-api';

const KiB = 1024;
const SIZE = 1024 * KiB;
const REGION = 64 * KiB;
const BLOCK = 4 * KiB;
const roots: string[] = [];

afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

type Strategy = 'mirror' | 'precopy';
type Scenario = 'commit' | 'rollback' | 'cancel' | 'rollback-before-switch' | 'rollback-after-failure';
const SCENARIOS: Scenario[] = ['commit', 'rollback', 'cancel', 'rollback-before-switch', 'rollback-after-failure'];
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** One agent incarnation on the data folder: fresh module instances, so an aborted one keeps its halt to itself. */
async function incarnation(dataDir: string) {
  vi.resetModules();
  const crash = await import('../dataplane/crash-points');
  const { DataDir } = await import('./store');
  const { VolumeManager } = await import('./volume-manager');
  const { VolumeRuntime } = await import('./volume-runtime');
  const manager = await VolumeManager.open(new DataDir(dataDir));
  const runtime = new VolumeRuntime(manager, dataDir, quiet, { checkpointIntervalMs: 0 });
  return { crash, manager, runtime };
}
type Incarnation = Awaited<ReturnType<typeof incarnation>>;

interface Host {
  dataDir: string;
  source: { lunId: string; path: string };
  target: { lunId: string; path: string };
}

async function host(): Promise<Host> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tern-crash-points-'));
  roots.push(root);
  const dataDir = path.join(root, 'agent');
  const lun = async (name: string) => {
    const file = path.join(root, `${name}.lun`);
    const handle = await open(file, 'w');
    await handle.truncate(2 * SIZE);
    await handle.close();
    await writeFile(faultRulesPath(file), '[]'); // so a scenario can add faults later
    return { lunId: randomUUID(), path: file };
  };
  const source = await lun('source');
  const target = await lun('target');
  const { DataDir } = await import('./store');
  const dir = new DataDir(dataDir);
  await dir.ensure();
  const arrayId = randomUUID();
  await dir.writeState({
    luns: [
      { lunId: source.lunId, wwn: 'wwn-source', arrayId, arrayName: 'OLD', path: source.path, sizeBytes: 2 * SIZE },
      { lunId: target.lunId, wwn: 'wwn-target', arrayId, arrayName: 'NEW', path: target.path, sizeBytes: 2 * SIZE },
    ],
    diskGroups: [{ name: 'dg', volumes: [{ name: 'vol', sizeBytes: SIZE, regionSizeBytes: REGION, nbdExport: 'dg/vol', plexes: [{ name: 'vol-01', lunId: source.lunId, lunPath: source.path, state: 'active' }] }] }],
  });
  return { dataDir, source, target };
}

async function setRules(lunPath: string, rules: unknown[]) {
  await writeFile(`${faultRulesPath(lunPath)}.tmp`, JSON.stringify(rules));
  await rename(`${faultRulesPath(lunPath)}.tmp`, faultRulesPath(lunPath));
}

/**
 * A writer whose ledger outlives the incarnation it writes to: one 4 KiB write at a time, each
 * block's content derived from its offset and a sequence number (workload.ts). A write that never
 * returns (its incarnation aborted) stays in flight: indeterminate.
 */
class LedgerWriter {
  private readonly acknowledged = new Map<number, number>();
  private readonly inFlight: [number, number][] = [];
  private sequence = 0;
  private running = false;
  writes = 0;

  start(volume: BlockTarget) {
    this.running = true;
    void this.loop(volume);
  }

  stop() {
    this.running = false;
  }

  private async loop(volume: BlockTarget) {
    while (this.running) {
      const offset = Math.floor(Math.random() * (SIZE / BLOCK)) * BLOCK;
      const sequence = ++this.sequence;
      const entry: [number, number] = [offset, sequence];
      this.inFlight.push(entry);
      try {
        await volume.write(offset, blockContent(offset, sequence, BLOCK));
        this.acknowledged.set(offset, sequence);
        this.inFlight.splice(this.inFlight.indexOf(entry), 1);
        this.writes++;
      } catch {
        // A refused write may or may not have landed: it stays in flight.
      }
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
  }

  ledger(): WriteLedger {
    return { blockSizeBytes: BLOCK, acknowledged: [...this.acknowledged], inFlight: [...this.inFlight] };
  }
}

/** Waits until the job is in one of the phases; stops early (returns null) when the incarnation aborted. */
async function until(agent: Incarnation, id: string, phases: MigrationStatus['phase'][]): Promise<MigrationStatus | null> {
  for (let waited = 0; waited < 30_000; waited += 5) {
    if (agent.crash.hasCrashed()) return null;
    const status = agent.runtime.get(id);
    if (phases.includes(status.phase)) return status;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`migration ${id} did not reach ${phases.join(' or ')} within 30 s: ${JSON.stringify(agent.runtime.get(id))}`);
}

/** Runs an action unless the incarnation aborts first (an aborted action never returns). */
async function act(agent: Incarnation, id: string, action: 'pause' | 'resume' | 'cutover' | 'commit' | 'rollback' | 'cancel'): Promise<boolean> {
  const done = agent.runtime.act(id, action).then(
    () => true,
    () => true,
  );
  for (let waited = 0; ; waited += 5) {
    if (agent.crash.hasCrashed()) return false;
    if (await Promise.race([done, new Promise<false>((resolve) => setTimeout(() => resolve(false), 5))])) return !agent.crash.hasCrashed();
    if (waited > 30_000) throw new Error(`${action} of migration ${id} did not return within 30 s: ${JSON.stringify(agent.runtime.get(id))}`);
  }
}

/** The scenario up to its end; returns early when the incarnation aborts. */
async function drive(agent: Incarnation, h: Host, id: string, strategy: Strategy, scenario: Scenario) {
  const runtime = agent.runtime;
  const start = runtime.startMigration({ id, volume: 'dg/vol', targetLunId: h.target.lunId, strategy, cutover: 'manual' }).catch(() => undefined);
  await Promise.race([start, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  if (agent.crash.hasCrashed()) return;
  if (!(await until(agent, id, ['ready']))) return;
  if (scenario === 'cancel') return void (await act(agent, id, 'cancel'));
  if (scenario === 'rollback-before-switch') return void (await act(agent, id, 'rollback'));
  if (scenario === 'commit') {
    // The operator pauses and resumes on the way: the controls are durable steps too.
    if (!(await act(agent, id, 'pause')) || !(await act(agent, id, 'resume'))) return;
  }
  if (scenario === 'rollback-after-failure') await setRules(h.source.path, [{ op: 'read', errno: 'EIO' }]);
  if (!(await act(agent, id, 'cutover'))) return;
  if (!(await until(agent, id, ['verified', 'failed']))) return;
  if (scenario === 'rollback-after-failure') {
    await new Promise((resolve) => setTimeout(resolve, 20)); // writes land on the target after the failure
    await setRules(h.source.path, []);
  }
  await act(agent, id, scenario === 'commit' ? 'commit' : 'rollback');
}

/** After the restart: drives the job on to an end, as an operator would. */
async function finish(agent: Incarnation, h: Host, id: string, scenario: Scenario): Promise<MigrationStatus> {
  await setRules(h.source.path, []);
  let status = agent.runtime.get(id);
  for (let step = 0; step < 10 && !['committed', 'rolled-back', 'cancelled'].includes(status.phase); step++) {
    if (status.phase === 'failed' && !status.switched) break;
    if (status.paused && !['failed', 'verified'].includes(status.phase)) await act(agent, id, 'resume'); // paused before the crash
    if (status.phase === 'failed' || (status.switched && scenario !== 'commit')) await act(agent, id, 'rollback');
    else if (status.switched) {
      status = (await until(agent, id, ['verified', 'failed']))!;
      if (status.phase === 'verified') await act(agent, id, status.verify?.ok === false ? 'rollback' : 'commit');
    } else if (scenario === 'cancel') await act(agent, id, 'cancel');
    else if (scenario === 'rollback-before-switch') await act(agent, id, 'rollback');
    else {
      await until(agent, id, ['ready']);
      await act(agent, id, 'cutover');
      await until(agent, id, ['verified', 'failed']);
    }
    status = agent.runtime.get(id);
  }
  return status;
}

/** What the restarted agent serves must be what the job's record and the configuration say. */
async function checkServed(agent: Incarnation, h: Host, id: string) {
  const record = JSON.parse(await readFile(path.join(h.dataDir, 'jobs', `job-${id}.json`), 'utf8').catch(() => 'null')) as { switched: boolean; phase: string } | null;
  const authoritative = record?.switched || record?.phase === 'committed' ? h.target.path : h.source.path;
  const volume = agent.runtime.openDevice('dg/vol');
  expect(volume, 'the volume is served').toBeDefined();
  expect(volume!.primary.lunPath, `served from the authoritative plex (record: ${JSON.stringify(record)})`).toBe(authoritative);
  const active = agent.manager.findVolume('dg/vol')!.plexes.filter((plex) => plex.state === 'active');
  expect(active.map((plex) => plex.lunPath)).toEqual([authoritative]);
  return volume!;
}

interface RunResult {
  crashed: boolean;
  final: MigrationStatus['phase'] | 'never started';
}

async function run(strategy: Strategy, scenario: Scenario, point: CrashPointName | null, hit = 1): Promise<RunResult> {
  const trace = (what: string) => process.env.TERN_CRASH_POINTS_TRACE && process.stderr.write(`crash run: ${strategy} ${scenario} ${point ?? 'none'}:${hit}: ${what}\n`);
  trace('start');
  const h = await host();
  const id = `cp-${randomUUID()}`;
  const writer = new LedgerWriter();
  const first = await incarnation(h.dataDir);
  if (point) first.crash.armCrash(point, hit);
  await first.runtime.open();
  writer.start(first.runtime.openDevice('dg/vol')!);
  await drive(first, h, id, strategy, scenario);
  trace('driven');
  writer.stop();
  // A clean stop flushes the logs, which can reach the armed point too: then it crashed there.
  if (!first.crash.hasCrashed()) {
    const closed = first.runtime.close().then(() => true);
    while (!(await Promise.race([closed, new Promise<false>((resolve) => setTimeout(() => resolve(false), 5))])) && !first.crash.hasCrashed());
  }
  const crashed = first.crash.hasCrashed();

  await setRules(h.source.path, []); // the source's read errors of rollback-after-failure are over
  trace('restarting');
  const second = await incarnation(h.dataDir);
  await second.runtime.open();
  trace('restarted');
  const where = `${strategy} ${scenario} crash at ${point ?? 'none'}`;
  const volume = await checkServed(second, h, id);
  expect((await verifyLedger(volume, writer.ledger())).lost, `${where}: acknowledged writes after the restart`).toEqual([]);
  if (!second.runtime.list().some((job) => job.id === id)) {
    // Crashed before the job's state file existed: the migration never started, the source serves.
    expect(second.manager.plexOnLun(h.target.lunId), `${where}: the target LUN holds no plex`).toBeUndefined();
    await second.runtime.close();
    return { crashed, final: 'never started' };
  }
  trace('finishing');
  const status = await finish(second, h, id, scenario);
  trace(`finished ${status.phase}`);
  expect(['committed', 'rolled-back', 'cancelled', 'failed'], `${where}: the job ends (${JSON.stringify(status)})`).toContain(status.phase);
  if (status.phase === 'failed') expect(status.error, `${where}: a failure says why`).toBeTruthy();
  const served = await checkServed(second, h, id);
  expect((await verifyLedger(served, writer.ledger())).lost, `${where}: acknowledged writes at the end`).toEqual([]);
  // The LUN the volume left holds no plex any more, so the console can release it (no 'lun-in-use').
  const released = status.phase === 'committed' ? h.source : status.switched ? null : h.target;
  if (released) expect(second.manager.plexOnLun(released.lunId), `${where}: the released LUN holds no plex`).toBeUndefined();
  await second.runtime.close();
  return { crashed, final: status.phase };
}

describe('a crash between a job and the volume configuration', () => {
  it('a crash just after a rollback is recorded (configuration still on the target) reopens the volume on the source with every write', async () => {
    const result = await run('precopy', 'rollback', 'rollback.recorded');
    expect(result.crashed).toBe(true);
    expect(result.final).toBe('rolled-back');
  }, 60_000);

  it('a crash just after a commit is recorded reopens the volume on the target only, so the source LUN can be released', async () => {
    const result = await run('mirror', 'commit', 'commit.recorded');
    expect(result.crashed).toBe(true);
    expect(result.final).toBe('committed');
  }, 60_000);

  it('a crash just after a cancel is recorded reopens the volume on the source only', async () => {
    const result = await run('precopy', 'cancel', 'cancel.recorded');
    expect(result.crashed).toBe(true);
    expect(result.final).toBe('cancelled');
  }, 60_000);
});

describe('a job that ended just before a restart', () => {
  it('a commit asked again after a crash just after it was recorded is answered as done, and the job has no samples rather than no job', async () => {
    const h = await host();
    const id = 'committed-then-crash';
    const first = await incarnation(h.dataDir);
    first.crash.armCrash('commit.recorded');
    await first.runtime.open();
    await first.runtime.startMigration({ id, volume: 'dg/vol', targetLunId: h.target.lunId, strategy: 'mirror', cutover: 'auto' });
    await until(first, id, ['verified']);
    await act(first, id, 'commit');
    expect(first.crash.hasCrashed()).toBe(true);
    const second = await incarnation(h.dataDir);
    await second.runtime.open();
    expect(await second.runtime.act(id, 'commit')).toMatchObject({ id, phase: 'committed' });
    await expect(second.runtime.act(id, 'rollback')).rejects.toThrow(/cannot rollback: the job is committed/);
    expect(second.runtime.samples(id)).toEqual([]);
    await second.runtime.close();
  }, 60_000);

  it('a job whose record cannot be read is reported failed with the reason, and the volume keeps the plexes its configuration names', async () => {
    const h = await host();
    const id = 'torn-record';
    const first = await incarnation(h.dataDir);
    first.crash.armCrash('job.pass-recorded');
    await first.runtime.open();
    await first.runtime.startMigration({ id, volume: 'dg/vol', targetLunId: h.target.lunId, strategy: 'precopy', cutover: 'manual' });
    await until(first, id, ['ready']);
    const file = path.join(h.dataDir, 'jobs', `job-${id}.json`);
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.slice(0, Math.floor(text.length / 2))); // a torn record
    const second = await incarnation(h.dataDir);
    await second.runtime.open();
    expect(second.runtime.get(id)).toMatchObject({ phase: 'failed' });
    expect(second.runtime.get(id).error).toMatch(/cannot be read/);
    expect(second.runtime.openDevice('dg/vol')!.primary.lunPath).toBe(h.source.path);
    expect(second.manager.plexOnLun(h.target.lunId)).toMatchObject({ volume: 'dg/vol' }); // not proven an orphan
    await second.runtime.close();
  }, 60_000);
});

describe('what cannot be opened at start', () => {
  let h: Host;
  beforeEach(async () => {
    h = await host();
  });

  it('a job whose resume fails after its switch (configuration not yet updated) is served from the target, not the stale source', async () => {
    const id = 'switched-then-broken';
    const first = await incarnation(h.dataDir);
    first.crash.armCrash('cutover.switch-recorded');
    await first.runtime.open();
    await first.runtime.startMigration({ id, volume: 'dg/vol', targetLunId: h.target.lunId, strategy: 'mirror', cutover: 'auto' });
    await until(first, id, ['verified']);
    expect(first.crash.hasCrashed()).toBe(true);
    await writeFile(path.join(h.dataDir, 'jobs', `job-${id}.drl`), 'not a dirty-region log'); // resume will fail
    const second = await incarnation(h.dataDir);
    await second.runtime.open();
    await checkServed(second, h, id);
    expect(second.runtime.get(id).error).toMatch(/could not resume/);
    await second.runtime.close();
  }, 60_000);

  it('a job whose resume fails before its switch is recorded as failed: the source serves every write and the target LUN is released', async () => {
    const id = 'copying-then-broken';
    const writer = new LedgerWriter();
    const first = await incarnation(h.dataDir);
    first.crash.armCrash('job.pass-recorded');
    await first.runtime.open();
    writer.start(first.runtime.openDevice('dg/vol')!);
    await first.runtime.startMigration({ id, volume: 'dg/vol', targetLunId: h.target.lunId, strategy: 'precopy', cutover: 'manual' });
    await until(first, id, ['ready']);
    writer.stop();
    expect(first.crash.hasCrashed()).toBe(true);
    await writeFile(path.join(h.dataDir, 'jobs', `job-${id}.drl`), 'not a dirty-region log'); // resume will fail
    const second = await incarnation(h.dataDir);
    await second.runtime.open();
    const volume = await checkServed(second, h, id);
    expect(second.runtime.get(id)).toMatchObject({ phase: 'failed', switched: false });
    expect(second.runtime.get(id).error).toMatch(/could not resume/);
    expect(second.manager.plexOnLun(h.target.lunId)).toBeUndefined();
    expect((await verifyLedger(volume, writer.ledger())).lost).toEqual([]);
    await second.runtime.close();
  }, 60_000);

  it('one plex that cannot be opened leaves that volume offline with the reason, and the other volumes are served', async () => {
    const { DataDir } = await import('./store');
    const dir = new DataDir(h.dataDir);
    const state = await dir.readState();
    const missing = path.join(path.dirname(h.source.path), 'missing.lun');
    state.luns.push({ lunId: randomUUID(), wwn: 'wwn-missing', arrayId: state.luns[0]!.arrayId, arrayName: 'OLD', path: missing, sizeBytes: SIZE });
    state.diskGroups[0]!.volumes.push({ name: 'gone', sizeBytes: SIZE, regionSizeBytes: REGION, nbdExport: 'dg/gone', plexes: [{ name: 'gone-01', lunId: state.luns.at(-1)!.lunId, lunPath: missing, state: 'active' }] });
    await dir.writeState(state);
    const agent = await incarnation(h.dataDir);
    await agent.runtime.open();
    expect(agent.runtime.openDevice('dg/vol')).toBeDefined();
    expect(agent.runtime.openDevice('dg/gone')).toBeUndefined();
    expect(agent.runtime.offline.get('dg/gone')).toMatch(/ENOENT/);
    await agent.runtime.close();
  });
});

/**
 * `TERN_CRASH_POINTS_FULL=1`: every reached point × strategy × action (147 crash runs, about 4 min
 * on a quiet 2-core machine). By default (CI): every point × both strategies, each crashed under
 * one of the actions that reach it, taken in turn so every action is used (about a third of that).
 */
const FULL = process.env.TERN_CRASH_POINTS_FULL === '1';

describe('every named crash point × strategy × operator action', () => {
  it(`loses no acknowledged write, serves the authoritative plex and ends every job (${FULL ? 'every action' : 'one action per point and strategy'})`, async () => {
    const table: string[] = [];
    const reachedAnywhere = new Set<CrashPointName>();
    let crashes = 0;
    for (const strategy of ['mirror', 'precopy'] as const) {
      const reaching = new Map<CrashPointName, Scenario[]>();
      for (const scenario of SCENARIOS) {
        for (const point of await reachedPoints(strategy, scenario)) {
          reachedAnywhere.add(point);
          reaching.set(point, [...(reaching.get(point) ?? []), scenario]);
        }
      }
      let turn = 0;
      for (const [point, scenarios] of reaching) {
        for (const scenario of FULL ? scenarios : [scenarios[turn++ % scenarios.length]!]) {
          const result = await run(strategy, scenario, point);
          if (result.crashed) crashes++;
          table.push(`${strategy} ${scenario} ${point}: ${result.crashed ? 'crashed' : 'not reached'} → ${result.final}`);
        }
      }
    }
    console.log(`named crash points: ${CRASH_POINTS.length} defined; ${crashes} crash runs (${FULL ? 'point × strategy × every action reaching it' : 'point × strategy, actions in turn'}), 0 acknowledged writes lost\n${table.join('\n')}`);
    // Every point is reached by some scenario: a durable step no scenario crashes at fails here.
    expect(CRASH_POINTS.filter((point) => !reachedAnywhere.has(point))).toEqual([]);
    expect(crashes).toBeGreaterThanOrEqual(CRASH_POINTS.length);
  }, FULL ? 1_800_000 : 900_000);
});

/** The crash points a scenario passes through, from one run without a crash. */
async function reachedPoints(strategy: Strategy, scenario: Scenario): Promise<CrashPointName[]> {
  const h = await host();
  const agent = await incarnation(h.dataDir);
  agent.crash.armCrash('config.failed', Number.MAX_SAFE_INTEGER); // counts hits, never fires
  await agent.runtime.open();
  const writer = new LedgerWriter();
  writer.start(agent.runtime.openDevice('dg/vol')!);
  await drive(agent, h, `probe-${randomUUID()}`, strategy, scenario);
  writer.stop();
  await agent.runtime.close();
  return [...agent.crash.crashPointHits().keys()];
}
