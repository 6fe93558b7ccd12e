/**
 * FUA and FLUSH reach the device as the two meanings of "acknowledged" need (docs/testing.md): a
 * FUA command calls the device with `fua: true`, and a FLUSH calls device.flush() only after
 * every earlier write on the connection has finished, whether or not it was answered yet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CMD, CMD_FLAG, RawNbdClient, requestBytes } from '../../../test/nbd-raw-client';
import { failOnUnhandledErrors, makeTempDir, makeWindowedBacking, MemoryDevice, removeDir, SpyDevice, startNbd, type RunningNbd, type WindowedBacking } from '../../../test/nbd-fixtures';

failOnUnhandledErrors();

let dir: string;
let nbd: RunningNbd;
let backing: WindowedBacking;
let fileSpy: SpyDevice;
let memory: MemoryDevice;
let memorySpy: SpyDevice;

beforeAll(async () => {
  dir = await makeTempDir();
  backing = await makeWindowedBacking(dir, 1024 * 1024);
  fileSpy = new SpyDevice(backing.device);
  memory = new MemoryDevice(1024 * 1024);
  memorySpy = new SpyDevice(memory);
  nbd = await startNbd(dir, { file: fileSpy, memory: memorySpy });
});

afterAll(async () => {
  await nbd?.close();
  await backing?.device.close();
  await removeDir(dir);
});

describe('FUA and FLUSH', () => {
  it('passes fua: true to the device exactly for FUA commands, and mayTrim: false for NO_HOLE', async () => {
    const { client } = await RawNbdClient.attach({ path: nbd.socketPath }, 'file');
    fileSpy.calls.length = 0;
    await client.request(CMD.WRITE, { offset: 0, payload: Buffer.alloc(4096, 1) });
    await client.request(CMD.WRITE, { flags: CMD_FLAG.FUA, offset: 4096, payload: Buffer.alloc(4096, 2) });
    await client.request(CMD.TRIM, { flags: CMD_FLAG.FUA, offset: 8192, length: 4096 });
    await client.request(CMD.TRIM, { offset: 8192, length: 4096 });
    await client.request(CMD.WRITE_ZEROES, { offset: 0, length: 512 });
    await client.request(CMD.WRITE_ZEROES, { flags: CMD_FLAG.FUA | CMD_FLAG.NO_HOLE, offset: 0, length: 512 });
    expect(fileSpy.calls).toEqual([
      { op: 'write', offset: 0, length: 4096, options: undefined },
      { op: 'write', offset: 4096, length: 4096, options: { fua: true } },
      { op: 'trim', offset: 8192, length: 4096, options: { fua: true } },
      { op: 'trim', offset: 8192, length: 4096, options: undefined },
      { op: 'writeZeroes', offset: 0, length: 512, options: { fua: false, mayTrim: true } },
      { op: 'writeZeroes', offset: 0, length: 512, options: { fua: true, mayTrim: false } },
    ]);
    // The FUA write is on the file when its reply arrives.
    expect((await backing.readWindow()).subarray(4096, 8192).equals(Buffer.alloc(4096, 2))).toBe(true);
    client.destroy();
  });

  it('calls flush() after the acknowledged writes that came before it, on this and other connections', async () => {
    const first = await RawNbdClient.attach({ path: nbd.socketPath }, 'file');
    const second = await RawNbdClient.attach({ path: nbd.socketPath }, 'file');
    fileSpy.calls.length = 0;
    fileSpy.events.length = 0;
    expect((await first.client.request(CMD.WRITE, { offset: 0, payload: Buffer.alloc(4096, 7) })).error).toBe(0);
    expect((await second.client.request(CMD.WRITE, { offset: 4096, payload: Buffer.alloc(4096, 8) })).error).toBe(0);
    expect((await second.client.request(CMD.FLUSH)).error).toBe(0);
    expect(fileSpy.events).toEqual(['start write #0', 'end write #0', 'start write #1', 'end write #1', 'start flush #2', 'end flush #2']);
    first.client.destroy();
    second.client.destroy();
  });

  it('holds a FLUSH until the writes sent before it on the connection have finished', async () => {
    const { client } = await RawNbdClient.attach({ path: nbd.socketPath }, 'memory');
    memorySpy.calls.length = 0;
    memorySpy.events.length = 0;
    const release = memory.hold('write');
    client.write(Buffer.concat([requestBytes(CMD.WRITE, { handle: 1n, offset: 0, payload: Buffer.alloc(512, 1) }), requestBytes(CMD.FLUSH, { handle: 2n })]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(memorySpy.events).toEqual(['start write #0']);
    release();
    const handles = [(await client.readSimpleReply()).handle, (await client.readSimpleReply()).handle];
    expect(handles).toEqual([1n, 2n]);
    expect(memorySpy.events).toEqual(['start write #0', 'end write #0', 'start flush #1', 'end flush #1']);
    client.destroy();
  });

  it('issues writes to the device in the order they arrived', async () => {
    const { client } = await RawNbdClient.attach({ path: nbd.socketPath }, 'memory');
    memorySpy.calls.length = 0;
    const requests = Array.from({ length: 32 }, (_, i) => requestBytes(CMD.WRITE, { handle: BigInt(i), offset: (i * 4096) % (1024 * 1024), payload: Buffer.alloc(4096, i) }));
    client.write(Buffer.concat(requests));
    for (let i = 0; i < requests.length; i++) expect((await client.readSimpleReply()).error).toBe(0);
    expect(memorySpy.calls.map((call) => (call.op === 'write' ? call.offset / 4096 : -1))).toEqual(Array.from({ length: 32 }, (_, i) => i));
    client.destroy();
  });
});
