import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArrayError } from './driver';
import { DirectoryArray } from './directory-array';

const MiB = 1024 ** 2;
let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'tern-array-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function refusal(promise: Promise<unknown>): Promise<ArrayError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ArrayError);
  return error as ArrayError;
}

describe('directory array', () => {
  it('creates sparse LUN files and accounts capacity by provisioned size', async () => {
    const array = await DirectoryArray.initialize({ path: path.join(root, 'a1'), capacityBytes: 256 * MiB });
    await array.createLun({ name: 'lun-1', sizeBytes: 64 * MiB });
    await array.createLun({ name: 'lun-2', sizeBytes: 128 * MiB });
    const info = await stat(array.lunPath('lun-1'));
    expect(info.size).toBe(64 * MiB);
    expect(info.blocks * 512).toBeLessThan(MiB); // sparse: nothing written
    expect(await array.capacity()).toMatchObject({ capacityBytes: 256 * MiB, provisionedBytes: 192 * MiB, freeBytes: 64 * MiB });
    expect((await array.listLuns()).map((lun) => lun.name).sort()).toEqual(['lun-1', 'lun-2']);
  });

  it('refuses a folder that cannot be written, saying which and why', async () => {
    const file = path.join(root, 'not-a-folder');
    await writeFile(file, 'x');
    const error = await refusal(DirectoryArray.initialize({ path: path.join(file, 'array'), capacityBytes: 64 * MiB }));
    expect(error.code).toBe('not-writable');
    expect(error.message).toContain(path.join(file, 'array'));
    expect(error.message).toMatch(/ENOTDIR|EEXIST/);
  });

  it('refuses a LUN larger than the free capacity and changes nothing', async () => {
    const array = await DirectoryArray.initialize({ path: path.join(root, 'a2'), capacityBytes: 100 * MiB });
    await array.createLun({ name: 'first', sizeBytes: 64 * MiB });
    const manifestBefore = await readFile(path.join(root, 'a2', 'tern-array.json'), 'utf8');
    const error = await refusal(array.createLun({ name: 'second', sizeBytes: 64 * MiB }));
    expect(error.code).toBe('no-capacity');
    expect(error.message).toBe('LUN second needs 64 MiB but the array has 36 MiB free of 100 MiB');
    expect(await readFile(path.join(root, 'a2', 'tern-array.json'), 'utf8')).toBe(manifestBefore);
    expect((await readdir(path.join(root, 'a2'))).sort()).toEqual(['first.lun', 'tern-array.json']);
  });

  it('refuses a duplicate LUN name and keeps the existing LUN intact', async () => {
    const array = await DirectoryArray.initialize({ path: path.join(root, 'a3'), capacityBytes: 256 * MiB });
    await array.createLun({ name: 'dup', sizeBytes: 64 * MiB });
    await writeFile(array.lunPath('dup'), Buffer.from('data'), { flag: 'r+' });
    const error = await refusal(array.createLun({ name: 'dup', sizeBytes: 32 * MiB }));
    expect(error.code).toBe('already-exists');
    expect(error.message).toContain('LUN dup already exists');
    expect((await stat(array.lunPath('dup'))).size).toBe(64 * MiB);
    expect((await readFile(array.lunPath('dup'))).subarray(0, 4).toString()).toBe('data');
  });

  it('two concurrent creates cannot both take the last free bytes', async () => {
    const array = await DirectoryArray.initialize({ path: path.join(root, 'a4'), capacityBytes: 96 * MiB });
    const results = await Promise.allSettled([array.createLun({ name: 'x', sizeBytes: 64 * MiB }), array.createLun({ name: 'y', sizeBytes: 64 * MiB })]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    expect((await array.capacity()).provisionedBytes).toBe(64 * MiB);
  });

  it('two driver objects on one folder do not lose each other\'s LUNs', async () => {
    const folder = path.join(root, 'a7');
    await DirectoryArray.initialize({ path: folder, capacityBytes: 512 * MiB });
    const one = new DirectoryArray({ path: folder, capacityBytes: 512 * MiB });
    const two = new DirectoryArray({ path: folder, capacityBytes: 512 * MiB });
    await Promise.all([
      ...['a', 'b', 'c'].map((name) => one.createLun({ name, sizeBytes: 16 * MiB })),
      ...['d', 'e', 'f'].map((name) => two.createLun({ name, sizeBytes: 16 * MiB })),
    ]);
    expect((await one.listLuns()).map((lun) => lun.name).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('maps, unmaps, resizes and deletes; a mapped LUN cannot be deleted', async () => {
    const array = await DirectoryArray.initialize({ path: path.join(root, 'a5'), capacityBytes: 256 * MiB });
    await array.createLun({ name: 'm', sizeBytes: 64 * MiB });
    const { hostPath } = await array.mapLun('m', 'host-1');
    expect(hostPath).toBe(array.lunPath('m'));
    expect((await refusal(array.deleteLun('m'))).code).toBe('in-use');
    await array.unmapLun('m', 'host-1');
    await array.resizeLun('m', 128 * MiB);
    expect((await stat(array.lunPath('m'))).size).toBe(128 * MiB);
    expect((await refusal(array.resizeLun('m', 64 * MiB))).code).toBe('invalid');
    await array.deleteLun('m');
    expect(await array.listLuns()).toEqual([]);
    expect((await readdir(path.join(root, 'a5'))).sort()).toEqual(['tern-array.json']);
  });

  it('reopening an existing folder keeps its LUNs', async () => {
    const folder = path.join(root, 'a6');
    const first = await DirectoryArray.initialize({ path: folder, capacityBytes: 256 * MiB });
    await first.createLun({ name: 'kept', sizeBytes: 64 * MiB });
    const again = await DirectoryArray.initialize({ path: folder, capacityBytes: 256 * MiB });
    expect((await again.listLuns()).map((lun) => lun.name)).toEqual(['kept']);
  });
});
