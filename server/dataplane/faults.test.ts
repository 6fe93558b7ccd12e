/**
 * Fault injection in the data plane: each rule kind of a LUN's rules file does what it says
 * through a real plex on a real file, and migration jobs meet target and source faults the way
 * invariant 6 of migration-job.ts says (application writes never fail for the target, the source
 * stays authoritative, transient faults are retried, persistent ones fail with the reason).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlockIoError } from './block-device';
import { faultRulesPath, type FaultRule } from './faulty-device';
import { MigrationJob, type JobOptions } from './migration-job';
import { Plex } from './plex';
import { Volume } from './volume';

const KiB = 1024;
const MiB = 1024 * KiB;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tern-faults-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function lun(name: string, sizeBytes: number, rules?: FaultRule[]): Promise<string> {
  const file = path.join(dir, `${name}.lun`);
  await (await open(file, 'w')).close();
  await truncate(file, sizeBytes);
  if (rules) await setRules(file, rules);
  return file;
}

/** Replaces the rules file whole, as the fault array does. */
async function setRules(lunPath: string, rules: FaultRule[]) {
  const temporary = `${faultRulesPath(lunPath)}.tmp`;
  await writeFile(temporary, JSON.stringify(rules));
  await rename(temporary, faultRulesPath(lunPath));
}

async function failure(promise: Promise<unknown>): Promise<BlockIoError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BlockIoError);
  return error as BlockIoError;
}

const block = (byte: number, size = 64 * KiB) => Buffer.alloc(size, byte);

describe('fault rules on a plex', () => {
  it('a LUN without a rules file does plain I/O', async () => {
    const plex = await Plex.open({ name: 'p', lunId: 'l', lunPath: await lun('plain', MiB), state: 'active' });
    await plex.write(0, block(1));
    expect((await plex.read(0, 64 * KiB)).equals(block(1))).toBe(true);
    await plex.close();
  });

  it('EIO on a write at an offset, once: that write fails once, then succeeds; writes elsewhere never fail', async () => {
    const file = await lun('once', MiB, [{ op: 'write', offset: 128 * KiB, length: 4 * KiB, when: 'once', errno: 'EIO' }]);
    const plex = await Plex.open({ name: 'p', lunId: 'l', lunPath: file, state: 'active' });
    await plex.write(0, block(1));
    const error = await failure(plex.write(128 * KiB, block(2)));
    expect(error.errno).toBe('EIO');
    expect(error.io).toEqual({ op: 'write', offset: 128 * KiB });
    expect((await readFile(file)).subarray(128 * KiB, 192 * KiB).equals(block(0))).toBe(true); // nothing landed
    await plex.write(128 * KiB, block(2));
    await plex.write(192 * KiB, block(3));
    const content = await readFile(file);
    expect(content.subarray(128 * KiB, 192 * KiB).equals(block(2))).toBe(true);
    expect(content.subarray(0, 64 * KiB).equals(block(1))).toBe(true);
    await plex.close();
  });

  it('EIO always on an offset range fails every write that overlaps it, and only those', async () => {
    const file = await lun('always', MiB, [{ op: 'write', offset: 64 * KiB, length: 64 * KiB, errno: 'EIO' }]);
    const plex = await Plex.open({ name: 'p', lunId: 'l', lunPath: file, state: 'active' });
    for (let attempt = 0; attempt < 3; attempt++) expect((await failure(plex.write(100 * KiB, block(1, 4 * KiB)))).errno).toBe('EIO');
    expect((await failure(plex.write(60 * KiB, block(1, 8 * KiB)))).errno).toBe('EIO'); // overlaps the start
    await plex.write(60 * KiB, block(1, 4 * KiB)); // ends where the range begins
    await plex.write(128 * KiB, block(1, 4 * KiB)); // begins where it ends
    await plex.close();
  });

  it('ENOSPC after N bytes: writes succeed until N bytes are written, the one that would pass N fails', async () => {
    const file = await lun('enospc', MiB, [{ op: 'write', afterBytes: 128 * KiB, errno: 'ENOSPC' }]);
    const plex = await Plex.open({ name: 'p', lunId: 'l', lunPath: file, state: 'active' });
    await plex.write(0, block(1));
    await plex.write(64 * KiB, block(2));
    const error = await failure(plex.write(128 * KiB, block(3)));
    expect(error.errno).toBe('ENOSPC');
    expect((await failure(plex.write(512 * KiB, block(4, 512)))).errno).toBe('ENOSPC'); // still full
    const content = await readFile(file);
    expect(content.subarray(0, 128 * KiB).equals(Buffer.concat([block(1), block(2)]))).toBe(true);
    expect(content.subarray(128 * KiB, 192 * KiB).equals(block(0))).toBe(true);
    await plex.close();
  });

  it('a read error fails reads overlapping the range; reads elsewhere and writes there work', async () => {
    const file = await lun('read', MiB, [{ op: 'read', offset: 256 * KiB, length: 64 * KiB, errno: 'EIO' }]);
    const plex = await Plex.open({ name: 'p', lunId: 'l', lunPath: file, state: 'active' });
    await plex.write(256 * KiB, block(7));
    const error = await failure(plex.read(300 * KiB, 4 * KiB));
    expect(error.errno).toBe('EIO');
    expect(error.io).toEqual({ op: 'read', offset: 300 * KiB });
    expect(error.message).toContain(`read 4096 B at ${300 * KiB} from plex p`);
    expect((await plex.read(0, 256 * KiB)).equals(block(0, 256 * KiB))).toBe(true);
    expect((await readFile(file)).subarray(256 * KiB, 320 * KiB).equals(block(7))).toBe(true);
    await plex.close();
  });

  it('a flush error fails the flush', async () => {
    const plex = await Plex.open({ name: 'p', lunId: 'l', lunPath: await lun('flush', MiB, [{ op: 'flush', errno: 'EIO', when: 'once' }]), state: 'active' });
    await plex.write(0, block(1));
    const error = await failure(plex.sync());
    expect(error.io).toEqual({ op: 'flush', offset: null });
    await plex.sync();
    await plex.close();
  });

  it('added latency: the I/O completes, and not sooner than the latency', async () => {
    const plex = await Plex.open({ name: 'p', lunId: 'l', lunPath: await lun('slow', MiB, [{ op: 'write', latencyMs: 60 }]), state: 'active' });
    const started = performance.now();
    await plex.write(0, block(5));
    // Timers may fire up to a millisecond early; the bound is only "at least the latency".
    expect(performance.now() - started).toBeGreaterThanOrEqual(59);
    expect((await plex.read(0, 64 * KiB)).equals(block(5))).toBe(true);
    await plex.close();
  });

  it('silent faults: a dropped write and a flipped bit report success and land wrong', async () => {
    const file = await lun('silent', MiB, [
      { op: 'write', offset: 0, length: 64 * KiB, silent: 'drop' },
      { op: 'write', offset: 64 * KiB, length: 64 * KiB, silent: 'flip' },
    ]);
    const plex = await Plex.open({ name: 'p', lunId: 'l', lunPath: file, state: 'active' });
    await plex.write(0, block(9));
    await plex.write(64 * KiB, block(8));
    const content = await readFile(file);
    expect(content.subarray(0, 64 * KiB).equals(block(0))).toBe(true);
    expect(content[64 * KiB]).toBe(8 ^ 1);
    expect(content.subarray(64 * KiB + 1, 128 * KiB).equals(block(8, 64 * KiB - 1))).toBe(true);
    await plex.close();
  });

  it('rules replaced while the LUN is open apply from the next I/O; a removed rules file stops them', async () => {
    const file = await lun('live', MiB, []);
    const plex = await Plex.open({ name: 'p', lunId: 'l', lunPath: file, state: 'active' });
    await plex.write(0, block(1));
    await setRules(file, [{ op: 'write', errno: 'EIO' }]);
    expect((await failure(plex.write(0, block(2)))).errno).toBe('EIO');
    await rm(faultRulesPath(file));
    await plex.write(0, block(3));
    expect((await readFile(file)).subarray(0, 64 * KiB).equals(block(3))).toBe(true);
    await plex.close();
  });

  it('refuses a rules file that is not valid, naming the file and the problem', async () => {
    const file = await lun('bad', MiB);
    await writeFile(faultRulesPath(file), JSON.stringify([{ op: 'write', offset: 0 }]));
    await expect(Plex.open({ name: 'p', lunId: 'l', lunPath: file, state: 'active' })).rejects.toThrow(
      `fault rules file ${faultRulesPath(file)} is not valid: rule 1: a fault rule needs errno, latencyMs or silent: otherwise it does nothing`,
    );
    await writeFile(faultRulesPath(file), '[{"op": "scribble", "errno": "EIO"}]');
    await expect(Plex.open({ name: 'p', lunId: 'l', lunPath: file, state: 'active' })).rejects.toThrow(/is not valid: rule 1 op: Invalid option/);
  });
});

// ---- migration jobs meeting faults ------------------------------------------------------------

const VOLUME_BYTES = 4 * MiB;
const REGION_BYTES = 64 * KiB;
/** The writer stays below this offset, so source read faults above it touch only the copy. */
const WRITER_BYTES = 2 * MiB;

async function makeVolume(targetRules: FaultRule[], sourceRules: FaultRule[] = []) {
  const source = await lun('source', VOLUME_BYTES, sourceRules);
  const target = await lun('target', VOLUME_BYTES, targetRules);
  // Data over the whole source, so every region is copied and compared.
  await writeFile(source, randomBytes(VOLUME_BYTES), { flag: 'r+' });
  const primary = await Plex.open({ name: 'vol-01', lunId: 'src', lunPath: source, state: 'active' });
  return { volume: new Volume('vol', VOLUME_BYTES, REGION_BYTES, primary), source, target };
}

/** Random 4 KiB writes below WRITER_BYTES until stopped; remembers every acknowledged write and counts failures. */
function startWriter(volume: Volume) {
  const acknowledged = new Map<number, Buffer>();
  let stopped = false;
  let writes = 0;
  let errors = 0;
  const loop = (async () => {
    while (!stopped) {
      const offset = Math.floor(Math.random() * (WRITER_BYTES / (4 * KiB))) * 4 * KiB;
      const data = randomBytes(4 * KiB);
      try {
        await volume.write(offset, data);
        acknowledged.set(offset, data);
        writes++;
      } catch {
        errors++;
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
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
      return { writes, errors };
    },
  };
}

async function waitForWrites(writer: { writes: number }, count: number) {
  while (writer.writes < count) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function lostOn(file: string, acknowledged: Map<number, Buffer>): Promise<number> {
  const content = await readFile(file);
  let lost = 0;
  for (const [offset, data] of acknowledged) if (!content.subarray(offset, offset + data.length).equals(data)) lost++;
  return lost;
}

function jobOptions(target: string, over: Partial<JobOptions> = {}): JobOptions {
  return { id: 'job-1', strategy: 'precopy', target: { name: 'vol-02', lunId: 'tgt', lunPath: target }, stateDir: dir, cutover: 'auto', ...over };
}

describe('a migration meeting faults', () => {
  for (const strategy of ['mirror', 'precopy'] as const) {
    it(`${strategy}: a target that fails every write stops the job with the reason; no application write fails, none is lost`, async () => {
      const { volume, source, target } = await makeVolume([{ op: 'write', errno: 'EIO' }]);
      const writer = startWriter(volume);
      await waitForWrites(writer, 20);
      const job = await MigrationJob.start(volume, jobOptions(target, { strategy }));
      void job.run();
      expect(await job.until('failed', 'verified', 'committed')).toBe('failed');
      await waitForWrites(writer, writer.writes + 20); // the application goes on writing, on the source alone
      const { writes, errors } = await writer.stop();
      expect(errors).toBe(0);
      expect(writes).toBeGreaterThan(40);
      expect(job.status.error).toMatch(/^target LUN write error at offset \d+ \(EIO\) on plex vol-02 .*; gave up after 4 attempts; source intact$/);
      expect(job.status.switched).toBe(false);
      expect(volume.primary.lunPath).toBe(source);
      expect(volume.mirrors).toEqual([]);
      expect(volume.observer).toBeNull();
      expect(await lostOn(source, writer.acknowledged)).toBe(0);
      // The failure is recorded: the state file says so after the job object is gone.
      expect((await MigrationJob.recordedStatus(dir, 'job-1')).phase).toBe('failed');
    });

    it(`${strategy}: a target write error once is retried and the migration completes, verified`, async () => {
      const { volume, target } = await makeVolume([{ op: 'write', offset: 1 * MiB, length: 4 * KiB, when: 'once', errno: 'EIO' }]);
      const writer = startWriter(volume);
      await waitForWrites(writer, 20);
      const job = await MigrationJob.start(volume, jobOptions(target, { strategy }));
      void job.run();
      expect(await job.until('failed', 'verified')).toBe('verified');
      expect(job.status.faultsRetried).toBe(1);
      expect(job.status.lastFault).toMatch(/^target LUN write error at offset \d+ \(EIO\)/);
      expect(job.status.verify?.ok).toBe(true);
      await job.commit();
      const { errors } = await writer.stop();
      expect(errors).toBe(0);
      expect(volume.primary.lunPath).toBe(target);
      expect(await lostOn(target, writer.acknowledged)).toBe(0);
    });
  }

  it('ENOSPC on the target after N bytes fails at once with the reason; nothing lost', async () => {
    const { volume, source, target } = await makeVolume([{ op: 'write', afterBytes: 1 * MiB, errno: 'ENOSPC' }]);
    const writer = startWriter(volume);
    await waitForWrites(writer, 20);
    const job = await MigrationJob.start(volume, jobOptions(target, { strategy: 'mirror' }));
    void job.run();
    expect(await job.until('failed', 'verified')).toBe('failed');
    const { errors } = await writer.stop();
    expect(errors).toBe(0);
    expect(job.status.error).toMatch(/^target LUN write error at offset \d+ \(ENOSPC\) on plex vol-02 .*; source intact$/);
    expect(volume.primary.lunPath).toBe(source);
    expect(await lostOn(source, writer.acknowledged)).toBe(0);
  });

  it('a source read error stops the job and says so; the application keeps writing, nothing lost', async () => {
    const { volume, source, target } = await makeVolume([], [{ op: 'read', offset: 3 * MiB, length: REGION_BYTES, errno: 'EIO' }]);
    const writer = startWriter(volume);
    await waitForWrites(writer, 20);
    const job = await MigrationJob.start(volume, jobOptions(target));
    void job.run();
    expect(await job.until('failed', 'verified')).toBe('failed');
    const { errors } = await writer.stop();
    expect(errors).toBe(0);
    expect(job.status.error).toMatch(/^source LUN read error at offset \d+ \(EIO\) on plex vol-01 .*; gave up after 4 attempts; source intact$/);
    expect(volume.primary.lunPath).toBe(source);
    expect(await lostOn(source, writer.acknowledged)).toBe(0);
  });

  it('a target flush error fails the job at once: after a failed fsync the target cannot be trusted', async () => {
    const { volume, source, target } = await makeVolume([{ op: 'flush', errno: 'EIO' }]);
    const job = await MigrationJob.start(volume, jobOptions(target));
    void job.run();
    expect(await job.until('failed', 'verified')).toBe('failed');
    expect(job.status.error).toMatch(/^target LUN flush error \(EIO\) on plex vol-02 .*; source intact$/);
    expect(volume.primary.lunPath).toBe(source);
  });

  it('a target that drops a write silently is caught by verification, and the migration cannot commit', async () => {
    const { volume, source, target } = await makeVolume([{ op: 'write', offset: 0, length: REGION_BYTES, when: 'once', silent: 'drop' }]);
    const job = await MigrationJob.start(volume, jobOptions(target));
    void job.run();
    expect(await job.until('failed', 'verified')).toBe('verified');
    // The dropped write was the copy of the chunk at offset 0: its regions differ.
    expect(job.status.verify?.ok).toBe(false);
    expect(job.status.verify?.mismatchedRegions).toContain(0);
    await expect(job.commit()).rejects.toThrow('verification found mismatched regions; roll back instead');
    await job.rollback();
    expect(volume.primary.lunPath).toBe(source);
  });
});
