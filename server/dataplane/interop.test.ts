/**
 * Real NBD clients against a volume while it migrates (docs/testing.md §6, during a migration):
 * an in-process Volume over LUN files, served by the NBD server on a Unix socket, a throttled
 * migration lasting a few seconds, and meanwhile fio writing with crc32c verification across the
 * cutover, nbdcopy copying the volume out, and qemu-img comparing the export with the target LUN
 * after commit. A client whose binary is missing is skipped with the reason in the test name; CI
 * installs them all (.ci/run: qemu-utils libnbd-bin fio).
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failOnUnhandledErrors, makeTempDir, removeDir, startNbd, type RunningNbd } from '../../test/nbd-fixtures';
import { MigrationJob, type Strategy } from './migration-job';
import { Plex } from './plex';
import { Volume } from './volume';
import { verifyLedger, Workload } from './workload';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const SIZE = 8 * MiB;
const REGION_BYTES = 64 * 1024;

function installed(binary: string): boolean {
  try {
    // Synchronous on purpose: at import time, before any server shares this event loop.
    execFileSync('which', [binary], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const has = Object.fromEntries(['qemu-img', 'nbdcopy', 'fio'].map((binary) => [binary, installed(binary)]));
function title(binaries: [string, string][], name: string): string {
  const missing = binaries.filter(([binary]) => !has[binary]);
  return missing.length === 0 ? name : `${name} — SKIPPED: ${missing.map(([binary, apt]) => `${binary} is not installed (apt-get install ${apt})`).join('; ')}`;
}

failOnUnhandledErrors();

let dir: string;
let nbd: RunningNbd | undefined;
let volume: Volume;
let plexes: Plex[] = [];
let sourcePath: string;
let targetPath: string;
const uri = () => `nbd+unix:///vol?socket=${nbd?.socketPath}`;

async function lun(name: string, content?: Buffer) {
  const file = path.join(dir, name);
  const handle = await open(file, 'w');
  await handle.truncate(SIZE);
  if (content) await handle.write(content, 0, content.length, 0);
  await handle.close();
  return file;
}

beforeEach(async () => {
  dir = await makeTempDir('tern-interop-');
  sourcePath = await lun('source.lun', randomBytes(SIZE / 2));
  targetPath = await lun('target.lun');
  const source = await Plex.open({ name: 'vol-01', lunId: 'src', lunPath: sourcePath, state: 'active' });
  plexes = [source];
  volume = new Volume('vol', SIZE, REGION_BYTES, source);
  nbd = await startNbd(dir, { vol: volume });
});

afterEach(async () => {
  await nbd?.close();
  nbd = undefined;
  for (const plex of plexes) await plex.close();
  await removeDir(dir);
});

async function startMigration(strategy: Strategy, throttleBytesPerS: number) {
  const job = await MigrationJob.start(volume, {
    id: `interop-${strategy}`,
    strategy,
    target: { name: 'vol-02', lunId: 'tgt', lunPath: targetPath },
    throttleBytesPerS,
    stateDir: dir,
  });
  plexes.push(job.target);
  void job.run();
  return job;
}

/** fio's nbd engine prints "fio: connected to NBD server" ahead of the JSON report. */
function fioReport(stdout: string) {
  return JSON.parse(stdout.slice(stdout.indexOf('{'))).jobs[0];
}

// No verify-state file: fio would leave one in its working folder (here the temporary folder).
const fioJob = () => ['--name=interop', '--ioengine=nbd', `--uri=${uri()}`, '--rw=randwrite', '--bs=4k', '--iodepth=8', `--size=${SIZE / MiB}M`, '--verify=crc32c', '--verify_state_save=0', '--randseed=7', '--output-format=json'];

describe.skipIf(!has.fio || !has['qemu-img'])(title([['fio', 'fio'], ['qemu-img', 'qemu-utils']], 'fio and qemu-img across a mirror cutover'), () => {
  it('fio writes during the migration and verifies after the cutover; after commit qemu-img finds the export and the target identical', async () => {
    const job = await startMigration('mirror', 4 * MiB); // about 2 s of copying
    // Rate-limited so the writes span the cutover.
    const writing = run('fio', [...fioJob(), '--rate=2m', '--do_verify=0'], { cwd: dir });
    const phase = await job.until('verified', 'failed');
    const written = fioReport((await writing).stdout);
    expect(written.error).toBe(0);
    expect(written.write.io_bytes).toBe(SIZE);
    expect(phase, job.status.error ?? '').toBe('verified');
    expect(job.status.verify).toMatchObject({ ok: true, mismatchedRegions: [] });
    expect(volume.primary.lunPath).toBe(targetPath);

    const verified = fioReport((await run('fio', [...fioJob(), '--verify_only=1'], { cwd: dir })).stdout);
    expect(verified.error).toBe(0);
    expect(verified.read.io_bytes).toBeGreaterThan(0);

    await job.commit();
    await volume.flush();
    await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', uri(), targetPath]);
    expect((await readdir(dir)).filter((name) => name.endsWith('verify.state'))).toEqual([]);
  }, 60_000);
});

describe.skipIf(!has.nbdcopy)(title([['nbdcopy', 'libnbd-bin']], 'nbdcopy while a pre-copy runs'), () => {
  it('copies a consistent image out while the workload is paused, and the workload loses nothing across the cutover', async () => {
    const workload = new Workload(volume, { depth: 2, writeRateBytesPerS: 1 * MiB, seed: 11 });
    workload.start();
    const job = await startMigration('precopy', 4 * MiB);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(['copying', 'converging']).toContain(job.phase);

    await workload.stop(); // quiesce the application; the migration keeps copying
    const expected = await volume.read(0, SIZE);
    const image = path.join(dir, 'copy.raw');
    await run('nbdcopy', ['--connections=2', uri(), image]);
    expect((await readFile(image)).equals(expected), 'the image nbdcopy read equals the volume').toBe(true);
    expect(job.status.switched, 'the copy ran while the migration was still copying').toBe(false);

    // Random 4 KiB writes dirty whole 64 KiB regions faster than a throttled pre-copy converges:
    // lift the throttle and cut over now, with the workload writing.
    workload.start();
    job.setThrottle(null);
    job.cutoverNow();
    expect(await job.until('verified', 'failed'), job.status.error ?? '').toBe('verified');
    await new Promise((resolve) => setTimeout(resolve, 200)); // writes after the switch land on the target
    await workload.stop();
    expect(workload.stats.writes).toBeGreaterThan(0);
    expect((await verifyLedger(volume, workload.ledger())).lost).toEqual([]);
    expect(job.status.verify?.ok).toBe(true);
    await job.commit();
  }, 60_000);
});
