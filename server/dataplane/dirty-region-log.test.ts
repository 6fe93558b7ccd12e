import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirtyRegionLog, type DrlFile } from './dirty-region-log';

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

/** The bitmap bytes as they are in the file right now (after the 4 KiB header), read with a handle of our own. */
async function rawBits(file: string, regions: number) {
  const bytes = Buffer.alloc(Math.ceil(regions / 8));
  const handle = await open(file, 'r');
  await handle.read(bytes, 0, bytes.length, 4096);
  await handle.close();
  return (region: number) => (bytes[region >> 3]! & (1 << (region & 7))) !== 0;
}

/** I/O faults for DirtyRegionLog.open's `io` seam: once armed, the call of `op` after `skip` good ones throws EIO, once. */
class Faults {
  private armed: { op: 'write' | 'datasync'; skip: number } | null = null;
  tripped = 0;

  arm(op: 'write' | 'datasync', skip = 0) {
    this.armed = { op, skip };
  }

  private trip(op: 'write' | 'datasync') {
    if (this.armed?.op !== op) return;
    if (this.armed.skip-- > 0) return;
    this.armed = null;
    this.tripped++;
    throw Object.assign(new Error(`EIO: injected ${op} failure`), { code: 'EIO' });
  }

  readonly io = (file: DrlFile): DrlFile => ({
    write: async (buffer, offset, length, position) => {
      this.trip('write');
      return file.write(buffer, offset, length, position);
    },
    read: (buffer, offset, length, position) => file.read(buffer, offset, length, position),
    datasync: async () => {
      this.trip('datasync');
      return file.datasync();
    },
    sync: () => file.sync(),
    close: () => file.close(),
  });
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

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

  it('a failed flush that wrote its clears: a later mark of a cleared region is flushed again before it resolves', async () => {
    const file = path.join(dir, 'f.drl');
    const faults = new Faults();
    const log = await DirtyRegionLog.open(file, 100, 65536, 'none', { io: faults.io });
    await log.mark(0, 9);
    expect((await rawBits(file, 100))(7)).toBe(true);
    log.clear([7]); // the copy of region 7 is durable on the target
    faults.arm('datasync'); // the page with region 7 clear is written, then the fdatasync fails
    await expect(log.flush()).rejects.toThrow(/EIO/);
    expect(faults.tripped).toBe(1);
    expect((await rawBits(file, 100))(7)).toBe(false); // the clear may well be on disk
    const before = log.flushes;
    await log.mark(7, 7); // an application write to region 7: not acknowledged until its bit is on disk again
    expect((await rawBits(file, 100))(7)).toBe(true);
    expect(log.flushes).toBe(before + 1);
    expect(await onDisk(file, 100)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await log.close();
  });

  it('a failed flush that wrote only its first page: marks and clears on both pages are right after the retry', async () => {
    const file = path.join(dir, 'g.drl');
    const regions = 40000; // 5000 bytes of bitmap: two pages
    const faults = new Faults();
    const log = await DirtyRegionLog.open(file, regions, 65536, 'all', { io: faults.io });
    log.clear([3, 33000]); // one clear on each page
    faults.arm('write', 1); // the first page is written, the second page's write fails
    await expect(log.flush()).rejects.toThrow(/EIO/);
    const torn = await rawBits(file, regions);
    expect([torn(3), torn(33000)]).toEqual([false, true]);
    await log.mark(3, 3);
    await log.mark(33000, 33000);
    const after = await rawBits(file, regions);
    expect([after(3), after(33000)]).toEqual([true, true]);
    log.clear([4, 33001]);
    await log.flush();
    const cleared = await rawBits(file, regions);
    expect([cleared(3), cleared(4), cleared(33000), cleared(33001)]).toEqual([true, false, true, false]);
    await log.close();
  });

  it('a failed flush whose pages did not land is retried: its marks, later marks and its clears become durable', async () => {
    const file = path.join(dir, 'h.drl');
    const faults = new Faults();
    const log = await DirtyRegionLog.open(file, 100, 65536, 'none', { io: faults.io });
    faults.arm('write'); // the first page write fails: nothing of this flush reaches the file
    await expect(log.mark(5, 5)).rejects.toThrow(/EIO/);
    expect((await rawBits(file, 100))(5)).toBe(false);
    await log.mark(5, 5); // the write is retried, so its mark is flushed again
    await log.mark(60, 61);
    expect(await onDisk(file, 100)).toEqual([5, 60, 61]);
    log.clear([60]);
    faults.arm('write'); // the clear does not land either
    await expect(log.flush()).rejects.toThrow(/EIO/);
    expect(await onDisk(file, 100)).toEqual([5, 60, 61]);
    await log.flush(); // nothing changed since, but the page the failed flush meant to write is written
    expect(await onDisk(file, 100)).toEqual([5, 61]);
    await log.close();
  });

  it('a mark issued during a failing flush is not acknowledged by that flush', async () => {
    const file = path.join(dir, 'i.drl');
    const faults = new Faults();
    const log = await DirtyRegionLog.open(file, 100, 65536, 'none', { io: faults.io });
    await log.mark(2, 2);
    log.clear([2]);
    faults.arm('datasync');
    const failing = log.mark(1, 1);
    await turn(); // the failing flush has taken its image (1 set, 2 clear)
    let acknowledged = false;
    const during = Promise.all([log.mark(2, 2), log.mark(3, 3)]).then(() => {
      acknowledged = true;
    });
    const before = log.flushes;
    await expect(failing).rejects.toThrow(/EIO/);
    expect(acknowledged).toBe(false);
    await during;
    expect(log.flushes).toBe(before + 1);
    expect(await onDisk(file, 100)).toEqual([1, 2, 3]);
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
