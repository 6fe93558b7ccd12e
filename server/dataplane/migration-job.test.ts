import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MigrationJob, type JobOptions, type Strategy } from './migration-job';
import { Plex } from './plex';
import { Volume } from './volume';

const KiB = 1024;
const MiB = 1024 * KiB;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tern-job-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function makeVolume(sizeBytes: number, regionSizeBytes = 64 * KiB) {
  const source = path.join(dir, 'source.lun');
  const target = path.join(dir, 'target.lun');
  await (await open(source, 'w')).close();
  await (await open(target, 'w')).close();
  await truncate(source, sizeBytes);
  await truncate(target, sizeBytes);
  // Some existing data on the source.
  const handle = await open(source, 'r+');
  await handle.write(randomBytes(sizeBytes / 2), 0, sizeBytes / 2, 0);
  await handle.close();
  const primary = await Plex.open({ name: 'vol-01', lunId: 'src', lunPath: source, state: 'active' });
  return { volume: new Volume('vol', sizeBytes, regionSizeBytes, primary), source, target };
}

/** Writes random 4 KiB blocks until stopped; remembers the content of every acknowledged write. */
function startWriter(volume: Volume, options: { delayMs?: number } = {}) {
  const acknowledged = new Map<number, Buffer>();
  let stopped = false;
  let writes = 0;
  const loop = (async () => {
    let sequence = 0;
    while (!stopped) {
      const offset = Math.floor(Math.random() * (volume.sizeBytes / (4 * KiB))) * 4 * KiB;
      const block = Buffer.alloc(4 * KiB);
      block.writeDoubleLE(offset, 0);
      block.writeDoubleLE(++sequence, 8);
      randomBytes(64).copy(block, 16);
      await volume.write(offset, block);
      acknowledged.set(offset, block);
      writes++;
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      else await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    acknowledged,
    get writes() {
      return writes;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

async function waitForWrites(writer: { writes: number }, count: number) {
  while (writer.writes < count) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function expectAcknowledgedOn(file: string, acknowledged: Map<number, Buffer>) {
  const content = await readFile(file);
  let checked = 0;
  for (const [offset, block] of acknowledged) {
    expect(content.subarray(offset, offset + block.length).equals(block), `acknowledged write at ${offset}`).toBe(true);
    checked++;
  }
  return checked;
}

const options = (strategy: Strategy, target: string, extra: Partial<JobOptions> = {}): JobOptions => ({
  id: `job-${strategy}`,
  strategy,
  target: { name: 'vol-02', lunId: 'tgt', lunPath: target },
  stateDir: dir,
  ...extra,
});

describe.each(['mirror', 'precopy'] as const)('%s migration with the application writing', (strategy) => {
  it('switches to the target with every acknowledged write present, verifies and commits', async () => {
    const { volume, source, target } = await makeVolume(8 * MiB);
    const before = await readFile(source);
    const writer = startWriter(volume, { delayMs: 1 });
    const job = await MigrationJob.start(volume, options(strategy, target, { throttleBytesPerS: 16 * MiB }));
    void job.run();
    await job.until('verified', 'failed');
    const writesAtSwitch = writer.writes;
    await waitForWrites(writer, writesAtSwitch + 10); // writes after the switch land on the target
    await writer.stop();
    expect(writer.writes).toBeGreaterThan(writesAtSwitch);
    expect(job.status.error).toBeNull();
    expect(job.phase).toBe('verified');
    expect(job.status.verify, `verify after: ${job.status.result ?? 'no policy applied'}, passes ${job.status.pass}`).toMatchObject({ ok: true, mismatchedRegions: [] });
    expect(volume.primary.lunPath).toBe(target);
    const model = writer.acknowledged;
    expect(await expectAcknowledgedOn(target, model)).toBeGreaterThan(10);
    // Untouched data came across too.
    const content = await readFile(target);
    const untouched = [...Array(128).keys()].map((i) => i * 64 * KiB).filter((offset) => ![...model.keys()].some((o) => o >= offset && o < offset + 64 * KiB));
    for (const offset of untouched) expect(content.subarray(offset, offset + 64 * KiB).equals(before.subarray(offset, offset + 64 * KiB)), `untouched region at ${offset}`).toBe(true);
    await job.commit();
    expect(job.phase).toBe('committed');
  });

  it('rolls back after cutover: the source gets every write made since the switch', async () => {
    const { volume, source, target } = await makeVolume(4 * MiB);
    const job = await MigrationJob.start(volume, options(strategy, target, { id: `rb-${strategy}` }));
    void job.run();
    await job.until('verified', 'failed');
    const writer = startWriter(volume);
    await waitForWrites(writer, 20);
    await job.rollback();
    await writer.stop();
    expect(job.phase).toBe('rolled-back');
    expect(volume.primary.lunPath).toBe(source);
    expect(await expectAcknowledgedOn(source, writer.acknowledged)).toBeGreaterThan(5);
  });
});

describe('pre-copy that cannot converge', () => {
  it('detects it and stops with the source intact when the policy says stop', async () => {
    const { volume, target } = await makeVolume(1 * MiB);
    const writer = startWriter(volume);
    const job = await MigrationJob.start(volume, options('precopy', target, { id: 'stall', throttleBytesPerS: 1 * MiB, nonConvergencePolicy: 'stop', stallPasses: 2, pauseBudgetMs: 1 }));
    void job.run();
    await job.until('failed', 'verified');
    await writer.stop();
    expect(job.phase).toBe('failed');
    expect(job.status.result).toMatch(/not converging/);
    expect(volume.primary.lunPath).not.toBe(target);
  });

  it('switches to mirror and completes when the policy says so', async () => {
    const { volume, target } = await makeVolume(1 * MiB);
    const writer = startWriter(volume);
    const job = await MigrationJob.start(volume, options('precopy', target, { id: 'to-mirror', throttleBytesPerS: 1 * MiB, nonConvergencePolicy: 'switch-to-mirror', stallPasses: 2, pauseBudgetMs: 1 }));
    void job.run();
    await job.until('verified', 'failed');
    await writer.stop();
    expect(job.status.result).toMatch(/switched to mirror/);
    expect(job.phase).toBe('verified');
    expect(await expectAcknowledgedOn(target, writer.acknowledged)).toBeGreaterThan(10);
  });
});
