/**
 * Regression tests for ways a migration could lose an acknowledged write or stall the
 * application, each named for its scenario: a rollback after a job failed past the switch, an
 * application write that fails, the job's own logs failing on the agent's disk, and a target that
 * stalls (answers after a long time) while the application writes or the cutover holds writes.
 * Real plexes on real files; faults come from the LUN's rules file (faulty-device.ts) or a wrapper
 * of the logs' I/O (dirty-region-log.ts).
 */
import { mkdtemp, open, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DrlFile } from './dirty-region-log';
import { faultRulesPath, type FaultRule } from './faulty-device';
import { MigrationJob, type JobOptions, type Strategy } from './migration-job';
import { Plex } from './plex';
import { Volume } from './volume';
import { verifyLedger, Workload } from './workload';

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZE = 4 * MiB;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tern-write-safety-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A LUN file; every LUN has a rules file from the start (empty), so a test can change its faults later. */
async function lun(name: string, fill?: number): Promise<string> {
  const file = path.join(dir, `${name}.lun`);
  await (await open(file, 'w')).close();
  await truncate(file, SIZE);
  if (fill !== undefined) await writeFile(file, Buffer.alloc(SIZE, fill));
  await setRules(file, []);
  return file;
}

async function setRules(lunPath: string, rules: FaultRule[]) {
  const temporary = `${faultRulesPath(lunPath)}.tmp`;
  await writeFile(temporary, JSON.stringify(rules));
  await rename(temporary, faultRulesPath(lunPath));
}

async function setup(strategy: Strategy, options: Partial<JobOptions> = {}) {
  const source = await lun('source', 0xaa);
  const target = await lun('target');
  const volume = new Volume('dg/vol', SIZE, 64 * KiB, await Plex.open({ name: 'vol-01', lunId: 'src', lunPath: source, state: 'active' }));
  const job = await MigrationJob.start(volume, { id: 'safety', strategy, target: { name: 'vol-02', lunId: 'tgt', lunPath: target }, stateDir: dir, cutover: 'manual', ...options });
  return { volume, job, source, target };
}

/** Waits for a condition (checked every 10 ms), failing after 20 s. */
async function waitFor(condition: () => boolean) {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 20_000) throw new Error('condition not met within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Settles to 'ok' or the error's message, so a test can assert on a write's outcome. */
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error: unknown) => (error as Error).message,
  );

describe('after a failure past the switch', () => {
  it('a rollback of a job that failed after the switch copies back the writes the target took since: offset 0 keeps the acknowledged 0xBB', async () => {
    const { volume, job, source } = await setup('precopy');
    void job.run();
    await job.until('ready');
    // Verification after the switch meets a source read error: the job fails, target authoritative.
    await setRules(source, [{ op: 'read', errno: 'EIO' }]);
    job.cutoverNow();
    expect(await job.until('failed', 'verified')).toBe('failed');
    expect(job.status.switched).toBe(true);
    await volume.write(0, Buffer.alloc(4 * KiB, 0xbb)); // acknowledged, on the target
    await setRules(source, []);
    await job.rollback();
    expect(job.phase).toBe('rolled-back');
    expect(volume.primary).toBe(job.source);
    expect((await volume.read(0, 4 * KiB)).equals(Buffer.alloc(4 * KiB, 0xbb))).toBe(true);
    expect((await volume.read(64 * KiB, 4 * KiB)).equals(Buffer.alloc(4 * KiB, 0xaa))).toBe(true);
  });

  it('a job that failed after the switch keeps its rollback log across a restart: a rollback after resume copies the writes back', async () => {
    const { volume, job, source } = await setup('mirror');
    void job.run();
    await job.until('ready');
    await setRules(source, [{ op: 'read', errno: 'EIO' }]);
    job.cutoverNow();
    expect(await job.until('failed', 'verified')).toBe('failed');
    await volume.write(128 * KiB, Buffer.alloc(4 * KiB, 0xbb));
    await job.close();
    await setRules(source, []);
    // The restart: the volume opens on the target (the job's record says it is authoritative).
    const reopened = new Volume('dg/vol', SIZE, 64 * KiB, await Plex.open({ ...job.target, state: 'active' }));
    const resumed = await MigrationJob.resume(reopened, dir, 'safety');
    expect(resumed.phase).toBe('failed');
    await reopened.write(192 * KiB, Buffer.alloc(4 * KiB, 0xcc));
    await resumed.rollback();
    expect(reopened.primary.lunPath).toBe(source);
    expect((await reopened.read(128 * KiB, 4 * KiB)).equals(Buffer.alloc(4 * KiB, 0xbb))).toBe(true);
    expect((await reopened.read(192 * KiB, 4 * KiB)).equals(Buffer.alloc(4 * KiB, 0xcc))).toBe(true);
  });
});

describe('a rollback after the switch', () => {
  it.each(['precopy', 'mirror'] as const)('%s: copies back while the application keeps writing, and holds writes only for the regions it wrote meanwhile', async (strategy) => {
    const { volume, job } = await setup(strategy);
    void job.run();
    await job.until('ready');
    job.cutoverNow();
    expect(await job.until('verified', 'failed')).toBe('verified');
    for (let offset = 0; offset < SIZE; offset += 64 * KiB) await volume.write(offset, Buffer.alloc(4 * KiB, 0x77)); // every region written since the switch
    const workload = new Workload(volume, { depth: 2, writeRateBytesPerS: 1 * MiB, seed: 9, range: { offset: 0, length: 128 * KiB } });
    workload.start();
    await job.rollback();
    await workload.stop();
    const held = Number(/the last (\d+) with writes held/.exec(job.status.result ?? '')?.[1]);
    expect(held, job.status.result ?? '').toBeLessThanOrEqual(2); // only the writer's two regions can have changed meanwhile
    expect(workload.stats.errors).toBe(0);
    expect((await verifyLedger(volume, workload.ledger())).lost).toEqual([]);
    expect((await volume.read(256 * KiB, 4 * KiB)).equals(Buffer.alloc(4 * KiB, 0x77))).toBe(true);
    expect(volume.primary).toBe(job.source);
  });
});

describe('a target LUN file removed under the job', () => {
  it('removed before the cutover: the job fails with the source intact, instead of switching to a file a restart would not find', async () => {
    const { volume, job, target } = await setup('mirror');
    void job.run();
    await job.until('ready');
    await rm(target);
    job.cutoverNow();
    expect(await job.until('failed', 'verified')).toBe('failed');
    expect(job.status.error).toMatch(/is gone \(ENOENT\); source intact/);
    expect(volume.primary).toBe(job.source);
  });

  it('removed after the switch: commit is refused, and a rollback copies every write back to the source', async () => {
    const { volume, job, target } = await setup('precopy');
    void job.run();
    await job.until('ready');
    job.cutoverNow();
    expect(await job.until('verified', 'failed')).toBe('verified');
    await volume.write(0, Buffer.alloc(4 * KiB, 0x99));
    await rm(target);
    expect(await outcome(job.commit())).toMatch(/cannot commit: the target is not safe to keep: the LUN .* is gone \(ENOENT\); roll back instead/);
    expect(job.phase).toBe('verified');
    await job.rollback();
    const onSource = await readFile(job.source.lunPath);
    expect(onSource.subarray(0, 4 * KiB).equals(Buffer.alloc(4 * KiB, 0x99))).toBe(true);
  });
});

describe('a failed application write', () => {
  it.each(['precopy', 'mirror'] as const)('%s: a source write that fails with EIO does not stall the cutover: the region is copied again once, and a write during the cutover is acknowledged', async (strategy) => {
    const { volume, job, source } = await setup(strategy);
    void job.run();
    await job.until('ready');
    await setRules(source, [{ op: 'write', offset: 256 * KiB, length: 4 * KiB, when: 'once', errno: 'EIO' }]);
    expect(await outcome(volume.write(256 * KiB, Buffer.alloc(4 * KiB, 0x11)))).toMatch(/EIO/);
    await volume.write(256 * KiB, Buffer.alloc(4 * KiB, 0x22)); // the retry succeeds
    job.cutoverNow();
    const during = volume.write(512 * KiB, Buffer.alloc(4 * KiB, 0x33));
    expect(await job.until('verified', 'failed')).toBe('verified');
    expect(await outcome(during)).toBe('ok');
    expect(job.status.verify?.ok).toBe(true);
    expect(job.status.bytesCopied).toBeLessThan(3 * SIZE);
    expect((await volume.read(256 * KiB, 4 * KiB)).equals(Buffer.alloc(4 * KiB, 0x22))).toBe(true);
    await job.commit();
  }, 30_000);
});

/** Wraps a log's file so that, once `failing.on` is set, its page writes or flushes fail with `errno`. */
function failingLogs(errno: 'EIO' | 'ENOSPC') {
  const failing = { on: false, failures: 0 };
  const written = { pages: 0 };
  const fail = () => {
    failing.failures++;
    return Promise.reject(Object.assign(new Error(`${errno}: injected log fault`), { code: errno }));
  };
  const io = (file: DrlFile): DrlFile => ({
    write: (buffer, offset, length, position) => {
      if (failing.on) return fail();
      written.pages++;
      return file.write(buffer, offset, length, position);
    },
    read: (buffer, offset, length, position) => file.read(buffer, offset, length, position),
    datasync: () => (failing.on ? fail() : file.datasync()),
    sync: () => (failing.on ? fail() : file.sync()),
    close: () => file.close(),
  });
  return { failing, io, written };
}

describe("the job's logs on the agent's disk", () => {
  it.each(['EIO', 'ENOSPC'] as const)('a dirty-region log that cannot be written (%s) fails the job with the source intact; the application write is acknowledged and kept', async (errno) => {
    const { failing, io, written } = failingLogs(errno);
    const { volume, job } = await setup('precopy', { logIo: io, throttleBytesPerS: 2 * MiB, checkpointIntervalMs: 0 });
    void job.run();
    // Once the log has flushed clears, later marks of those regions need a flush of their own.
    await waitFor(() => written.pages > 0);
    failing.on = true;
    const workload = new Workload(volume, { depth: 2, writeRateBytesPerS: 512 * KiB, seed: 3 });
    workload.start();
    expect(await job.until('failed', 'ready', 'verified')).toBe('failed');
    expect(job.status.error).toMatch(/dirty-region log/);
    const after = workload.stats.writes;
    await waitFor(() => workload.stats.writes > after + 10); // the writer goes on without the job
    await workload.stop();
    expect(workload.stats.errors).toBe(0);
    expect(failing.failures).toBeGreaterThan(0);
    expect((await verifyLedger(volume, workload.ledger())).lost).toEqual([]);
    expect(volume.primary).toBe(job.source);
    expect(volume.observer).toBeNull();
  });

  it('a rollback log that cannot be written after the switch: writes go on, and a rollback copies every region back, losing none', async () => {
    const { failing, io } = failingLogs('ENOSPC');
    const { volume, job } = await setup('mirror', { logIo: io });
    void job.run();
    await job.until('ready');
    job.cutoverNow();
    expect(await job.until('verified', 'failed')).toBe('verified');
    failing.on = true;
    const workload = new Workload(volume, { depth: 2, writeRateBytesPerS: 2 * MiB, seed: 5 });
    workload.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await workload.stop();
    expect(workload.stats.errors).toBe(0);
    expect(workload.stats.writes).toBeGreaterThan(0);
    expect(job.status.rollbackLogLost).toBe(true);
    failing.on = false;
    await job.rollback();
    expect(job.status.result).toMatch(/every region/);
    expect((await verifyLedger(volume, workload.ledger())).lost).toEqual([]);
    const onSource = await readFile(job.source.lunPath);
    const direct = { sizeBytes: SIZE, read: async (offset: number, length: number) => onSource.subarray(offset, offset + length), write: async () => undefined };
    expect((await verifyLedger(direct, workload.ledger())).lost).toEqual([]);
  });
});

describe('a stalled target', () => {
  it('mirror: a target that answers writes only after 30 s never holds up the application; the late writes land before the region is copied again', async () => {
    const { volume, job, target } = await setup('mirror', { throttleBytesPerS: 8 * MiB });
    volume.mirrorTimeoutMs = 300;
    void job.run();
    await job.until('ready');
    await setRules(target, [{ op: 'write', offset: 0, length: 64 * KiB, when: 'once', latencyMs: 30_000 }]);
    let stalledWriteAnswered = false;
    const write = volume.write(0, Buffer.alloc(4 * KiB, 0x44)).then(() => {
      stalledWriteAnswered = true;
    });
    await write; // acknowledged once the source has it, the stalled mirror dropped
    expect(stalledWriteAnswered).toBe(true);
    expect(volume.mirrors).not.toContain(job.target);
    expect(job.status.lastFault).toMatch(/did not answer/);
    await job.cancel();
  });

  it.each(['precopy', 'mirror'] as const)('%s: a cutover whose flush of the target stalls gives up within its budget, resumes writes on the source and says why', async (strategy) => {
    const { volume, job, target } = await setup(strategy, { pauseBudgetMs: 50 });
    void job.run();
    await job.until('ready');
    // The cutover flushes the target twice: before it holds writes (passes), and with writes held (stalls 30 s).
    await setRules(target, [
      { op: 'flush', when: 'once', latencyMs: 0 },
      { op: 'flush', when: 'once', latencyMs: 30_000 },
    ]);
    job.cutoverNow();
    await job.until('cutting-over');
    // A write sent while the cutover holds writes is answered while the target still stalls.
    expect(await outcome(volume.write(128 * KiB, Buffer.alloc(4 * KiB, 0x66)))).toBe('ok');
    expect(job.status.switched).toBe(false);
    expect(volume.primary).toBe(job.source);
    await waitFor(() => /cutover gave up/.test(job.status.result ?? ''));
    expect(job.status.result).toMatch(/cutover gave up after holding writes \d+ ms \(pause budget 50 ms\) while flushing the target/);
    expect((await volume.read(128 * KiB, 4 * KiB)).equals(Buffer.alloc(4 * KiB, 0x66))).toBe(true);
    await job.cancel();
    expect(job.phase).toBe('cancelled');
  });
});
