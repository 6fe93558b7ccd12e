/**
 * Real NBD clients against the server: qemu-img (info, convert, compare), nbdinfo (export and
 * --list), nbdcopy in both directions, and fio's nbd engine writing and then re-reading with
 * crc32c verification. Every byte is checked against the backing file, whose canaries around
 * the export must survive. A client whose binary is missing is skipped with the reason in the
 * test name; CI installs them all (.ci/run: qemu-utils libnbd-bin fio).
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failOnUnhandledErrors, makeTempDir, makeWindowedBacking, removeDir, startNbd, type RunningNbd, type WindowedBacking } from '../../../test/nbd-fixtures';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const SIZE = 16 * MiB;

function installed(binary: string): boolean {
  try {
    // Synchronous on purpose: at import time, before any server shares this event loop.
    execFileSync('which', [binary], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const has = Object.fromEntries(['qemu-img', 'nbdinfo', 'nbdcopy', 'fio'].map((binary) => [binary, installed(binary)]));
function title(binary: string, name: string, apt: string): string {
  return has[binary] ? name : `${name} — SKIPPED: ${binary} is not installed (apt-get install ${apt})`;
}

failOnUnhandledErrors();

let dir: string;
let nbd: RunningNbd;
let volume: WindowedBacking;
let scratch: WindowedBacking;
let tcpPort: number;
let image: Buffer;
let imagePath: string;
const unixUri = (name: string) => `nbd+unix:///${name}?socket=${nbd.socketPath}`;

beforeAll(async () => {
  dir = await makeTempDir();
  volume = await makeWindowedBacking(dir, SIZE, 64 * 1024, 'volume.img');
  scratch = await makeWindowedBacking(dir, 8 * MiB, 64 * 1024, 'scratch.img');
  nbd = await startNbd(dir, { volume: volume.device, scratch: scratch.device });
  tcpPort = (await nbd.server.listenTcp()).port;
  // Random data with a hole of zeroes in the middle, so zero detection paths run too.
  image = randomBytes(SIZE);
  image.fill(0, 4 * MiB, 6 * MiB);
  imagePath = path.join(dir, 'image.raw');
  await writeFile(imagePath, image);
});

afterAll(async () => {
  await nbd?.close();
  await volume?.device.close();
  await scratch?.device.close();
  await removeDir(dir);
});

describe.skipIf(!has['qemu-img'])(title('qemu-img', 'qemu-img', 'qemu-utils'), () => {
  it('info reports the size over Unix and TCP', async () => {
    for (const uri of [unixUri('volume'), `nbd://127.0.0.1:${tcpPort}/volume`]) {
      const { stdout } = await run('qemu-img', ['info', '--output=json', uri]);
      expect(JSON.parse(stdout)['virtual-size']).toBe(SIZE);
    }
  });

  it('convert writes an image into the export byte for byte, and compare agrees over Unix and TCP', async () => {
    await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', imagePath, unixUri('volume')]);
    expect((await volume.readWindow()).equals(image)).toBe(true);
    await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', imagePath, unixUri('volume')]);
    await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', imagePath, `nbd://127.0.0.1:${tcpPort}/volume`]);
    await volume.checkCanaries();
  });

  it('convert reads the export back out, and compare sees a one-byte difference', async () => {
    const out = path.join(dir, 'qemu-out.raw');
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', unixUri('volume'), out]);
    expect((await readFile(out)).equals(await volume.readWindow())).toBe(true);
    const changed = Buffer.from(await volume.readWindow());
    changed.writeUInt8(changed.readUInt8(SIZE - 1) ^ 0xff, SIZE - 1);
    await writeFile(out, changed);
    await expect(run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', out, unixUri('volume')])).rejects.toMatchObject({ code: 1 });
  });
});

describe.skipIf(!has['nbdinfo'])(title('nbdinfo', 'nbdinfo', 'libnbd-bin'), () => {
  it('describes the export: size, flags, block sizes', async () => {
    const { stdout } = await run('nbdinfo', ['--json', unixUri('volume')]);
    const info = JSON.parse(stdout);
    const exported = info.exports[0];
    expect(exported['export-size']).toBe(SIZE);
    expect(exported).toMatchObject({ can_flush: true, can_fua: true, can_trim: true, can_zero: true, can_multi_conn: true, is_read_only: false });
    expect([exported.block_size_minimum, exported.block_size_preferred, exported.block_size_maximum]).toEqual([1, 4096, 32 * MiB]);
  });

  it('--list names every export with its description', async () => {
    const { stdout } = await run('nbdinfo', ['--list', '--json', `nbd+unix:///?socket=${nbd.socketPath}`]);
    const exports = JSON.parse(stdout).exports.map((entry: { 'export-name': string; description?: string; 'export-size': number }) => [entry['export-name'], entry.description, entry['export-size']]);
    expect(exports).toEqual([
      ['volume', 'test export volume', SIZE],
      ['scratch', 'test export scratch', 8 * MiB],
    ]);
  });
});

describe.skipIf(!has['nbdcopy'])(title('nbdcopy', 'nbdcopy', 'libnbd-bin'), () => {
  it('copies a file into the export and back out, byte for byte, over several connections', async () => {
    const source = Buffer.from(image);
    source.write('nbdcopy was here', 5 * MiB + 3);
    const sourcePath = path.join(dir, 'nbdcopy-in.raw');
    await writeFile(sourcePath, source);
    await run('nbdcopy', ['--connections=4', '--requests=32', sourcePath, unixUri('volume')]);
    expect((await volume.readWindow()).equals(source)).toBe(true);
    const out = path.join(dir, 'nbdcopy-out.raw');
    await run('nbdcopy', ['--connections=4', unixUri('volume'), out]);
    expect((await readFile(out)).equals(source)).toBe(true);
    await volume.checkCanaries();
  });
});

/** fio's nbd engine prints "fio: connected to NBD server" ahead of the JSON report. */
function fioReport(stdout: string) {
  return JSON.parse(stdout.slice(stdout.indexOf('{'))).jobs[0];
}

describe.skipIf(!has['fio'])(title('fio', 'fio --ioengine=nbd', 'fio'), () => {
  // Run in the temporary folder: fio leaves a verify-state file in its working directory.
  const job = (uri: string) => ['--name=nbd-verify', '--ioengine=nbd', `--uri=${uri}`, '--rw=randwrite', '--bs=4k', '--iodepth=16', '--size=8M', '--verify=crc32c', '--randseed=42', '--output-format=json'];

  it('random 4 KiB writes at iodepth 16 verify with crc32c, and a second, read-only pass verifies them again', async () => {
    const written = await run('fio', [...job(unixUri('scratch')), '--do_verify=1'], { cwd: dir });
    const first = fioReport(written.stdout);
    expect(first.error).toBe(0);
    expect(first.write.io_bytes).toBe(8 * MiB);
    const verified = await run('fio', [...job(`nbd://127.0.0.1:${tcpPort}/scratch`), '--verify_only=1'], { cwd: dir });
    const second = fioReport(verified.stdout);
    expect(second.error).toBe(0);
    expect(second.read.io_bytes).toBeGreaterThan(0);
    await scratch.checkCanaries();

    // The verification is real: one flipped byte in the backing file makes the pass fail.
    const file = await open(scratch.path, 'r+');
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, scratch.offsetBytes + 5 * MiB + 100);
    byte.writeUInt8(byte.readUInt8(0) ^ 0x01, 0);
    await file.write(byte, 0, 1, scratch.offsetBytes + 5 * MiB + 100);
    await file.close();
    await expect(run('fio', [...job(unixUri('scratch')), '--verify_only=1'], { cwd: dir })).rejects.toMatchObject({ code: expect.any(Number) });
  });
});
