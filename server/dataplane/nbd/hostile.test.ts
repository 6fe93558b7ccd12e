/**
 * Hostile input, as qemu-iotests 083 and nbdkit's fuzzing do it: a session cut at every byte,
 * and fast-check sessions of valid and mutated options and requests with lengths 0, 32 MiB,
 * 32 MiB + 1 and 2^32 − 1. The export is a window between canary bytes in its backing file.
 * After every session the server must have closed the connection (no hang), still serve a
 * new client, have asked the device for nothing outside the export, and left the canaries
 * alone; nothing may reject unhandled.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CMD, CMD_FLAG, goData, INFO, OPT, optionBytes, RawNbdClient, requestBytes } from '../../../test/nbd-raw-client';
import { failOnUnhandledErrors, makeTempDir, makeWindowedBacking, removeDir, SpyDevice, startNbd, type RunningNbd, type WindowedBacking } from '../../../test/nbd-fixtures';

const SIZE = 256 * 1024;
const MiB = 1024 * 1024;

failOnUnhandledErrors();

let dir: string;
let nbd: RunningNbd;
let backing: WindowedBacking;
let spy: SpyDevice;

beforeAll(async () => {
  dir = await makeTempDir();
  backing = await makeWindowedBacking(dir, SIZE);
  spy = new SpyDevice(backing.device);
  nbd = await startNbd(dir, { disk: spy });
});

afterAll(async () => {
  await nbd?.close();
  await backing?.device.close();
  await removeDir(dir);
});

/** Sends `bytes`, then half-closes (or resets) and expects the server to close its end. */
async function session(bytes: Buffer, finish: 'end' | 'destroy' = 'end'): Promise<void> {
  const client = await RawNbdClient.connect({ path: nbd.socketPath });
  client.write(bytes);
  if (finish === 'destroy') {
    await new Promise((resolve) => setImmediate(resolve));
    client.destroy();
    return;
  }
  client.end();
  expect(await client.closedWithin(10_000), 'server closed the connection').toBe(true);
}

async function expectServerHealthy(): Promise<void> {
  const { client } = await RawNbdClient.attach({ path: nbd.socketPath }, 'disk');
  expect((await client.request(CMD.READ, { offset: 0, length: 512 })).error).toBe(0);
  client.write(requestBytes(CMD.DISC));
  expect(await client.closedWithin()).toBe(true);
}

function expectEveryDeviceCallInside(): void {
  for (const call of spy.calls) {
    if (call.op === 'flush') continue;
    expect(call.offset >= 0 && call.length >= 0 && call.offset + call.length <= SIZE, JSON.stringify(call)).toBe(true);
  }
}

describe('a session cut at every byte', () => {
  const payload = Buffer.alloc(64, 0xee);
  const handshake = Buffer.concat([
    Buffer.from([0, 0, 0, 3]),
    optionBytes(OPT.LIST),
    optionBytes(OPT.INFO, goData('disk', [INFO.NAME, INFO.DESCRIPTION])),
    optionBytes(0x1234, Buffer.from('unknown')),
    optionBytes(OPT.GO, goData('disk', [INFO.BLOCK_SIZE])),
  ]);
  const transmission = Buffer.concat([
    requestBytes(CMD.WRITE, { handle: 1n, flags: CMD_FLAG.FUA, offset: 8192, payload }),
    requestBytes(CMD.READ, { handle: 2n, offset: 8192, length: 64 }),
    requestBytes(CMD.FLUSH, { handle: 3n }),
    requestBytes(CMD.DISC, { handle: 4n }),
  ]);
  const whole = Buffer.concat([handshake, transmission]);
  const writeEnds = handshake.length + 28 + payload.length;

  it(`closes cleanly after each of the ${whole.length} cuts, and never writes a partial payload`, async () => {
    for (let cut = 0; cut < whole.length; cut++) {
      spy.calls.length = 0;
      await session(whole.subarray(0, cut), cut % 3 === 2 ? 'destroy' : 'end');
      const writes = spy.calls.filter((call) => call.op === 'write');
      if (cut < writeEnds) expect(writes, `cut at ${cut}`).toEqual([]);
      if (cut % 50 === 0) await expectServerHealthy();
    }
    await expectServerHealthy();
    expectEveryDeviceCallInside();
    await backing.checkCanaries();
  });

  it('serves the whole session when nothing is cut', async () => {
    const client = await RawNbdClient.connect({ path: nbd.socketPath });
    client.write(whole);
    expect(await client.closedWithin()).toBe(true);
    expect((await backing.readWindow()).subarray(8192, 8192 + 64).equals(payload)).toBe(true);
  });
});

// --- structure-aware fuzzing -------------------------------------------------------------

const interestingLength = fc.constantFrom(0, 1, 511, 512, 4096, SIZE, 32 * MiB, 32 * MiB + 1, 0xffffffff);
const interestingOffset = fc.oneof(
  fc.constantFrom(0n, 512n, BigInt(SIZE - 1), BigInt(SIZE), BigInt(SIZE + 1), 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n),
  fc.bigInt({ min: 0n, max: BigInt(SIZE) }),
);
const name = fc.oneof(fc.constant('disk'), fc.constant(''), fc.string({ maxLength: 20 }));

/** An option as bytes: a valid one, or one whose claimed length lies. */
const option = fc
  .tuple(
    fc.oneof(
      { arbitrary: fc.record({ option: fc.constant(OPT.LIST), data: fc.constant(Buffer.alloc(0)) }), weight: 2 },
      { arbitrary: fc.record({ option: fc.constantFrom(OPT.INFO, OPT.GO), data: fc.tuple(name, fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 })).map(([n, infos]) => goData(n, infos)) }), weight: 3 },
      { arbitrary: fc.record({ option: fc.constant(OPT.EXPORT_NAME), data: name.map((n) => Buffer.from(n)) }), weight: 1 },
      { arbitrary: fc.record({ option: fc.constant(OPT.ABORT), data: fc.constant(Buffer.alloc(0)) }), weight: 1 },
      { arbitrary: fc.record({ option: fc.integer({ min: 0, max: 0xffffffff }), data: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) }), weight: 3 },
    ),
    // Mostly the true length; sometimes a lie.
    fc.oneof({ arbitrary: fc.constant(null), weight: 5 }, { arbitrary: interestingLength, weight: 1 }),
  )
  .map(([{ option: type, data }, claimed]) => optionBytes(type, data, claimed ?? data.length));

/** A request as bytes; a WRITE carries at most 64 KiB of the payload it claims. */
const request = fc
  .record({
    type: fc.oneof({ arbitrary: fc.constantFrom(CMD.READ, CMD.WRITE, CMD.FLUSH, CMD.TRIM, CMD.WRITE_ZEROES, CMD.CACHE, CMD.BLOCK_STATUS), weight: 4 }, { arbitrary: fc.integer({ min: 0, max: 0xffff }), weight: 1 }),
    flags: fc.oneof({ arbitrary: fc.constantFrom(0, CMD_FLAG.FUA, CMD_FLAG.NO_HOLE, CMD_FLAG.FUA | CMD_FLAG.NO_HOLE, CMD_FLAG.DF), weight: 4 }, { arbitrary: fc.integer({ min: 0, max: 0xffff }), weight: 1 }),
    handle: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    offset: fc.oneof({ arbitrary: interestingOffset, weight: 1 }, { arbitrary: fc.bigInt({ min: 0n, max: BigInt(SIZE - 4096) }), weight: 2 }),
    length: fc.oneof({ arbitrary: interestingLength, weight: 1 }, { arbitrary: fc.integer({ min: 0, max: 70_000 }), weight: 2 }),
    fill: fc.integer({ min: 0, max: 255 }),
  })
  .map(({ type, flags, handle, offset, length, fill }) => {
    const header = requestBytes(type === CMD.DISC ? CMD.READ : type, { flags, handle, offset, length });
    return type === CMD.WRITE ? Buffer.concat([header, Buffer.alloc(Math.min(length, 64 * 1024), fill)]) : header;
  });

/** A whole client stream: flags, options, usually a GO into the export, requests; then mutated. */
const clientStream = fc
  .record({
    clientFlags: fc.oneof({ arbitrary: fc.constantFrom(0, 1, 3), weight: 8 }, { arbitrary: fc.integer({ min: 0, max: 0xffffffff }), weight: 1 }),
    options: fc.array(option, { maxLength: 3 }),
    attach: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 }),
    requests: fc.array(request, { maxLength: 8 }),
    disconnect: fc.boolean(),
    flips: fc.oneof({ arbitrary: fc.constant([]), weight: 2 }, { arbitrary: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), weight: 1 }),
    truncateTo: fc.oneof({ arbitrary: fc.constant(null), weight: 4 }, { arbitrary: fc.nat(), weight: 1 }),
  })
  .map(({ clientFlags, options, attach, requests, disconnect, flips, truncateTo }) => {
    const flags = Buffer.alloc(4);
    flags.writeUInt32BE(clientFlags >>> 0);
    const bytes = Buffer.concat([flags, ...options, attach ? optionBytes(OPT.GO, goData('disk')) : Buffer.alloc(0), ...requests, disconnect ? requestBytes(CMD.DISC) : Buffer.alloc(0)]);
    for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
    return truncateTo === null ? bytes : bytes.subarray(0, truncateTo % (bytes.length + 1));
  });

describe('fuzzed sessions', () => {
  it('never hang, crash, or touch anything outside the export', async () => {
    spy.calls.length = 0;
    let runs = 0;
    let servedRequests = 0;
    await fc.assert(
      fc.asyncProperty(clientStream, async (bytes) => {
        runs += 1;
        const callsBefore = spy.calls.length;
        await session(bytes);
        expectEveryDeviceCallInside();
        if (spy.calls.length > callsBefore) servedRequests += 1;
        if (runs % 40 === 0) await expectServerHealthy();
      }),
      { numRuns: 400, seed: Number(process.env.TERN_FUZZ_SEED ?? Date.now() % 2 ** 31), endOnFailure: true },
    );
    // Proof the fuzzing reached the device, not only the handshake.
    expect(servedRequests).toBeGreaterThan(15);
    await expectServerHealthy();
    await backing.checkCanaries();
    await expect.poll(() => nbd.server.connectionCounts().open).toBe(0);
  });
});
