import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirtyRegionLog } from './dirty-region-log';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tern-drl-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What the file on disk says, read the way recovery reads it. */
async function onDisk(file: string, regions: number) {
  const log = await DirtyRegionLog.open(file, regions, 65536);
  const bits = [...log.snapshot()];
  await log.close();
  return bits;
}

describe('dirty-region log', () => {
  it('a mark is on disk when its promise resolves', async () => {
    const file = path.join(dir, 'a.drl');
    const log = await DirtyRegionLog.open(file, 100, 65536);
    await log.mark(3, 5);
    await log.mark(70, 70);
    expect(await onDisk(file, 100)).toEqual([3, 4, 5, 70]);
    await log.close();
  });

  it('batches the marks of one turn of the event loop into one flush', async () => {
    const log = await DirtyRegionLog.open(path.join(dir, 'b.drl'), 1000, 65536);
    const before = log.flushes;
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.mark(i * 10, i * 10)));
    expect(log.flushes - before).toBe(1);
    await log.close();
  });

  it('a mark of a region already durable costs no flush', async () => {
    const log = await DirtyRegionLog.open(path.join(dir, 'c.drl'), 10, 65536);
    await log.mark(1, 1);
    const before = log.flushes;
    await log.mark(1, 1);
    expect(log.flushes).toBe(before);
    await log.close();
  });

  it('clears reach the disk only with a flush, and a mark during a clearing flush is not lost', async () => {
    const file = path.join(dir, 'd.drl');
    const log = await DirtyRegionLog.open(file, 16, 65536, 'all');
    log.clear([0, 1, 2, 3]);
    expect(await onDisk(file, 16)).toHaveLength(16); // not yet flushed
    const flushing = log.flush();
    await new Promise((resolve) => setImmediate(resolve)); // the flush has taken its image
    const marked = log.mark(2, 2); // races the flush that writes region 2 as clear
    await Promise.all([flushing, marked]);
    const bits = await onDisk(file, 16);
    expect(bits).toContain(2);
    expect(bits).not.toContain(0);
    expect(bits).toHaveLength(13);
    await log.close();
  });

  it('refuses a file that is not a DRL, or one for another geometry', async () => {
    const file = path.join(dir, 'e.drl');
    await (await DirtyRegionLog.open(file, 10, 65536)).close();
    await expect(DirtyRegionLog.open(file, 11, 65536)).rejects.toThrow(/describes 10 regions of 65536 B/);
    const other = path.join(dir, 'plain');
    await writeFile(other, Buffer.alloc(8192));
    await expect(DirtyRegionLog.open(other, 10, 65536)).rejects.toThrow(/not a Tern dirty-region log/);
    expect((await readFile(file)).length).toBeGreaterThan(4096);
  });
});
