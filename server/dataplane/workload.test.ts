import { describe, expect, it } from 'vitest';
import { blockContent, sequenceOf, verifyLedger, Workload, type BlockTarget } from './workload';

/** An in-memory device, so this test is about the workload's bookkeeping alone. */
function memoryDevice(sizeBytes: number): BlockTarget & { bytes: Buffer } {
  const bytes = Buffer.alloc(sizeBytes);
  return {
    bytes,
    sizeBytes,
    read: async (offset, length) => Buffer.from(bytes.subarray(offset, offset + length)),
    write: async (offset, data) => {
      await new Promise((resolve) => setImmediate(resolve));
      data.copy(bytes, offset);
    },
  };
}

describe('workload', () => {
  it('derives each block from its offset and sequence, and reads the sequence back', () => {
    const block = blockContent(8192, 42, 4096);
    expect(sequenceOf(block, 8192)).toBe(42);
    expect(sequenceOf(block, 4096)).toBeNull(); // the wrong place
    block[100] = (block[100] ?? 0) ^ 1;
    expect(sequenceOf(block, 8192)).toBeNull(); // a flipped bit
  });

  it('verifies every acknowledged write, and catches a lost one', async () => {
    const device = memoryDevice(1024 * 1024);
    const workload = new Workload(device, { depth: 4, seed: 7 });
    workload.start();
    while (workload.stats.writes < 500) await new Promise((resolve) => setTimeout(resolve, 5));
    await workload.stop();
    const ledger = workload.ledger();
    const report = await verifyLedger(device, ledger);
    expect(report.lost).toEqual([]);
    expect(report.checked).toBe(ledger.acknowledged.length);

    const [offset, sequence] = ledger.acknowledged[0]!;
    blockContent(offset, sequence - 1, 4096).copy(device.bytes, offset); // an older write reappears
    const broken = await verifyLedger(device, ledger);
    expect(broken.lost).toEqual([{ offset, expected: sequence, found: sequence - 1 }]);
  });

  it('accepts the in-flight write of a block as indeterminate', async () => {
    const device = memoryDevice(64 * 1024);
    blockContent(0, 2, 4096).copy(device.bytes, 0);
    const report = await verifyLedger(device, { blockSizeBytes: 4096, acknowledged: [[0, 1]], inFlight: [[0, 2]] });
    expect(report).toMatchObject({ checked: 1, indeterminate: 1, lost: [] });
  });

  it('never has two writes to one block in flight at once, so the last acknowledged is the last written', async () => {
    // Found by the fault soak: workers that waited for the rate limiter together both wrote one
    // block; the acknowledgements could then come back in the other order, and the ledger named
    // an older write than the block held.
    const device = memoryDevice(4096);
    let inFlight = 0;
    let most = 0;
    const write = device.write;
    device.write = async (offset, data) => {
      most = Math.max(most, ++inFlight);
      try {
        await write(offset, data);
      } finally {
        inFlight--;
      }
    };
    const workload = new Workload(device, { depth: 4, seed: 3, writeRateBytesPerS: 4096 * 1000 });
    workload.start();
    while (workload.stats.writes < 50) await new Promise((resolve) => setTimeout(resolve, 5));
    await workload.stop();
    expect(most).toBe(1);
    expect((await verifyLedger(device, workload.ledger())).lost).toEqual([]);
  });
});
