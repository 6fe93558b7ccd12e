import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MigrationJob } from './migration-job';
import { Plex } from './plex';
import { Volume } from './volume';

const MiB = 1024 * 1024;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tern-controls-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function setup(strategy: 'mirror' | 'precopy', throttleBytesPerS: number, cutover: 'auto' | 'manual' = 'auto') {
  const files = [path.join(dir, 'source.lun'), path.join(dir, 'target.lun')];
  for (const file of files) {
    const handle = await open(file, 'w');
    await handle.truncate(8 * MiB);
    await handle.close();
  }
  const volume = new Volume('dg/vol', 8 * MiB, 64 * 1024, await Plex.open({ name: 'vol-01', lunId: 'src', lunPath: files[0]!, state: 'active' }));
  const job = await MigrationJob.start(volume, { id: 'controls', strategy, target: { name: 'vol-02', lunId: 'tgt', lunPath: files[1]! }, stateDir: dir, throttleBytesPerS, cutover });
  void job.run();
  return { volume, job };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('migration controls', () => {
  it('pause stops the copy and resume continues it where it was', async () => {
    const { job } = await setup('mirror', 4 * MiB);
    await sleep(400);
    job.pause();
    await sleep(300); // let a chunk in flight finish
    const pausedAt = job.status.bytesCopied;
    expect(pausedAt).toBeGreaterThan(0);
    await sleep(700);
    expect(job.status.bytesCopied).toBe(pausedAt);
    job.resume();
    await job.until('verified', 'failed');
    expect(job.status.bytesCopied).toBeLessThanOrEqual(8 * MiB * 1.2); // no restart from zero
    expect(job.phase).toBe('verified');
  });

  it('pause, resume and a throttle change resolve only once the job’s state file records them', async () => {
    const { job } = await setup('mirror', 4 * MiB);
    const stateFile = path.join(dir, 'job-controls.json');
    const recorded = async () => JSON.parse(await readFile(stateFile, 'utf8')) as { paused: boolean; throttleBytesPerS: number | null };
    await job.pause();
    expect(await recorded()).toMatchObject({ paused: true });
    await job.setThrottle(3 * MiB);
    expect(await recorded()).toMatchObject({ paused: true, throttleBytesPerS: 3 * MiB });
    await job.resume();
    expect(await recorded()).toMatchObject({ paused: false });
    await job.cancel();
  });

  it('a throttle change applies while the job runs', async () => {
    const { job } = await setup('precopy', 512 * 1024);
    await sleep(1000);
    const slow = job.status.bytesCopied;
    expect(slow).toBeLessThan(2 * MiB);
    job.setThrottle(null);
    await job.until('verified', 'failed');
    expect(job.phase).toBe('verified');
  });

  it('cut over now switches a manual job that is waiting, and actions that do not fit the phase are refused', async () => {
    const { job } = await setup('precopy', 64 * MiB, 'manual');
    await job.until('ready', 'failed');
    await expect(job.commit()).rejects.toThrow(/cannot commit: the job is ready/);
    job.cutoverNow();
    await job.until('verified', 'failed');
    expect(() => job.cutoverNow()).toThrow(/cannot cut over/);
    await expect(job.cancel()).rejects.toThrow(/cannot cancel after cutover/);
    await job.commit();
    await expect(job.rollback()).rejects.toThrow(/cannot roll back: the job is committed/);
  });

  it('cancel before the switch leaves the source authoritative and detaches the target', async () => {
    const { volume, job } = await setup('mirror', 2 * MiB);
    await sleep(300);
    await job.cancel();
    expect(job.phase).toBe('cancelled');
    expect(volume.primary.lunId).toBe('src');
    expect(volume.mirrors).toEqual([]);
    expect(volume.observer).toBeNull();
  });
});
