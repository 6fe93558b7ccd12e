/**
 * The NBD server against a byte-level client: every option and its answers, every command and
 * its error answers, and the server's lifecycle. In process, on a Unix socket, memory devices.
 */
import { link, unlink } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockIoError } from '../block-device';
import { CMD, CMD_FLAG, ERRNO, goData, INFO, OPT, optionBytes, RawNbdClient, REP, requestBytes } from '../../../test/nbd-raw-client';
import { failOnUnhandledErrors, makeTempDir, MemoryDevice, removeDir, startNbd, type RunningNbd } from '../../../test/nbd-fixtures';
import { createNbdServer } from './server';

const MiB = 1024 * 1024;
const SIZE = 1 * MiB;
// HAS_FLAGS | SEND_FLUSH | SEND_FUA | SEND_TRIM | SEND_WRITE_ZEROES | CAN_MULTI_CONN
const EXPECTED_FLAGS = 1 | 4 | 8 | 32 | 64 | 256;

failOnUnhandledErrors();

let dir: string;
let nbd: RunningNbd;
let disk: MemoryDevice;
let failing: MemoryDevice;
let target: { path: string };

beforeAll(async () => {
  dir = await makeTempDir();
  disk = new MemoryDevice(SIZE);
  failing = new MemoryDevice(SIZE);
  nbd = await startNbd(dir, { disk, failing, '': new MemoryDevice(4096) });
  target = { path: nbd.socketPath };
});

afterAll(async () => {
  await nbd?.close();
  await removeDir(dir);
});

describe('handshake', () => {
  it('greets with NBDMAGIC, IHAVEOPT and the FIXED_NEWSTYLE | NO_ZEROES flags', async () => {
    const client = await RawNbdClient.connect(target);
    const greeting = await client.read(18);
    expect(greeting.subarray(0, 16).toString('latin1')).toBe('NBDMAGICIHAVEOPT');
    expect(greeting.readUInt16BE(16)).toBe(3);
    client.destroy();
  });

  it('drops a client that sets an unknown client flag', async () => {
    const client = await RawNbdClient.handshake(target, 0x4);
    expect(await client.closedWithin()).toBe(true);
  });

  it('lists every export with its description, then ACK; LIST with data is ERR_INVALID', async () => {
    const client = await RawNbdClient.handshake(target);
    client.write(optionBytes(OPT.LIST));
    const servers: string[] = [];
    for (;;) {
      const reply = await client.readOptionReply();
      expect(reply.option).toBe(OPT.LIST);
      if (reply.type === REP.ACK) break;
      expect(reply.type).toBe(REP.SERVER);
      const nameBytes = reply.data.readUInt32BE(0);
      servers.push(`${reply.data.toString('utf8', 4, 4 + nameBytes)}|${reply.data.toString('utf8', 4 + nameBytes)}`);
    }
    expect(servers).toEqual(['disk|test export disk', 'failing|test export failing', '|test export ']);
    client.write(optionBytes(OPT.LIST, Buffer.from('x')));
    expect((await client.readOptionReply()).type).toBe(REP.ERR_INVALID);
    client.write(optionBytes(OPT.ABORT));
    expect((await client.readOptionReply()).type).toBe(REP.ACK);
    expect(await client.closedWithin()).toBe(true);
  });

  it('answers unknown options, STARTTLS and STRUCTURED_REPLY with ERR_UNSUP and keeps haggling', async () => {
    const client = await RawNbdClient.handshake(target);
    for (const [option, data] of [
      [99, Buffer.from('some option data')],
      [0x7fffffff, Buffer.alloc(0)],
      [OPT.STARTTLS, Buffer.alloc(0)],
      [OPT.STRUCTURED_REPLY, Buffer.alloc(0)],
      [OPT.SET_META_CONTEXT, Buffer.alloc(12)],
    ] as const) {
      client.write(optionBytes(option, data));
      const reply = await client.readOptionReply();
      expect(reply).toMatchObject({ option, type: REP.ERR_UNSUP });
    }
    client.write(optionBytes(OPT.GO, goData('disk')));
    let reply = await client.readOptionReply();
    while (reply.type === REP.INFO) reply = await client.readOptionReply();
    expect(reply.type).toBe(REP.ACK);
    expect((await client.request(CMD.READ, { length: 512 })).error).toBe(0);
    client.destroy();
  });

  it('answers INFO with the export size and flags and block sizes, and name and description only on request', async () => {
    const client = await RawNbdClient.handshake(target);
    const infos = async () => {
      const seen = new Map<number, Buffer>();
      for (;;) {
        const reply = await client.readOptionReply();
        expect(reply.option).toBe(OPT.INFO);
        if (reply.type === REP.ACK) return seen;
        expect(reply.type).toBe(REP.INFO);
        seen.set(reply.data.readUInt16BE(0), reply.data.subarray(2));
      }
    };
    client.write(optionBytes(OPT.INFO, goData('disk')));
    let seen = await infos();
    expect([...seen.keys()].sort()).toEqual([INFO.EXPORT, INFO.BLOCK_SIZE]);
    expect(seen.get(INFO.EXPORT)!.readBigUInt64BE(0)).toBe(BigInt(SIZE));
    expect(seen.get(INFO.EXPORT)!.readUInt16BE(8)).toBe(EXPECTED_FLAGS);
    const blocks = seen.get(INFO.BLOCK_SIZE)!;
    expect([blocks.readUInt32BE(0), blocks.readUInt32BE(4), blocks.readUInt32BE(8)]).toEqual([1, 4096, 32 * MiB]);

    client.write(optionBytes(OPT.INFO, goData('disk', [INFO.NAME, INFO.DESCRIPTION, 77])));
    seen = await infos();
    expect(seen.get(INFO.NAME)!.toString()).toBe('disk');
    expect(seen.get(INFO.DESCRIPTION)!.toString()).toBe('test export disk');

    // INFO leaves the client haggling: the next option is answered.
    client.write(optionBytes(OPT.INFO, goData('no-such-export')));
    const unknown = await client.readOptionReply();
    expect(unknown.type).toBe(REP.ERR_UNKNOWN);
    expect(unknown.data.toString()).toContain('no-such-export');
    client.destroy();
  });

  it('answers malformed INFO and GO with ERR_INVALID and keeps haggling', async () => {
    const client = await RawNbdClient.handshake(target);
    const wrongCount = goData('disk', [INFO.NAME]);
    wrongCount.writeUInt16BE(5, 4 + 4);
    const nameTooLong = goData('disk');
    nameTooLong.writeUInt32BE(1000, 0);
    for (const data of [Buffer.alloc(0), Buffer.alloc(5), wrongCount, nameTooLong, Buffer.concat([goData('disk'), Buffer.alloc(1)])]) {
      for (const option of [OPT.INFO, OPT.GO]) {
        client.write(optionBytes(option, data));
        expect(await client.readOptionReply()).toMatchObject({ option, type: REP.ERR_INVALID });
      }
    }
    client.write(optionBytes(OPT.GO, goData('no-such-export')));
    expect((await client.readOptionReply()).type).toBe(REP.ERR_UNKNOWN);
    client.destroy();
  });

  it('enters transmission on EXPORT_NAME, with 124 zero bytes unless NO_ZEROES was negotiated', async () => {
    for (const [clientFlags, replyBytes] of [
      [3, 10],
      [1, 134],
      [0, 134], // a client that forgot FIXED_NEWSTYLE is still served
    ] as const) {
      const client = await RawNbdClient.handshake(target, clientFlags);
      client.write(optionBytes(OPT.EXPORT_NAME, Buffer.from('disk')));
      const reply = await client.read(replyBytes);
      expect(reply.readBigUInt64BE(0)).toBe(BigInt(SIZE));
      expect(reply.readUInt16BE(8)).toBe(EXPECTED_FLAGS);
      expect(reply.subarray(10).equals(Buffer.alloc(replyBytes - 10))).toBe(true);
      expect((await client.request(CMD.READ, { length: 16 })).error).toBe(0);
      client.destroy();
    }
  });

  it('serves the default export on an empty name', async () => {
    const { client, sizeBytes } = await RawNbdClient.attach(target, '');
    expect(sizeBytes).toBe(4096n);
    client.destroy();
  });

  it('ends the session on EXPORT_NAME for an unknown export, a bad option magic and oversized option data', async () => {
    const unknown = await RawNbdClient.handshake(target);
    unknown.write(optionBytes(OPT.EXPORT_NAME, Buffer.from('no-such-export')));
    expect(await unknown.closedWithin()).toBe(true);

    const badMagic = await RawNbdClient.handshake(target);
    const bytes = optionBytes(OPT.LIST);
    bytes.write('IHAVEOPX', 0, 'latin1');
    badMagic.write(bytes);
    expect(await badMagic.closedWithin()).toBe(true);

    for (const claimed of [16 * 1024 + 1, 0xffffffff]) {
      const oversized = await RawNbdClient.handshake(target);
      oversized.write(optionBytes(99, Buffer.alloc(0), claimed));
      expect(await oversized.closedWithin()).toBe(true);
    }
  });

  it('closes a client that does not finish the handshake in time', async () => {
    const slowDir = await makeTempDir();
    const slow = await startNbd(slowDir, { disk }, { handshakeTimeoutMs: 200 });
    const client = await RawNbdClient.handshake({ path: slow.socketPath });
    expect(await client.closedWithin()).toBe(true);
    await slow.close();
    await removeDir(slowDir);
  });
});

describe('transmission', () => {
  it('writes, reads back, flushes, trims and zeroes', async () => {
    const { client, sizeBytes, flags } = await RawNbdClient.attach(target, 'disk');
    expect(sizeBytes).toBe(BigInt(SIZE));
    expect(flags).toBe(EXPECTED_FLAGS);
    const payload = Buffer.alloc(8192, 0xab);
    expect((await client.request(CMD.WRITE, { handle: 7n, offset: 4096, payload })).handle).toBe(7n);
    expect((await client.request(CMD.READ, { handle: 8n, offset: 4096, length: 8192 })).data.equals(payload)).toBe(true);
    expect((await client.request(CMD.FLUSH)).error).toBe(0);
    expect((await client.request(CMD.TRIM, { offset: 0, length: 4096 })).error).toBe(0);
    expect((await client.request(CMD.WRITE_ZEROES, { offset: 4096, length: 100, flags: CMD_FLAG.NO_HOLE })).error).toBe(0);
    const after = await client.request(CMD.READ, { offset: 4096, length: 8192 });
    expect(after.data.subarray(0, 100).equals(Buffer.alloc(100))).toBe(true);
    expect(after.data.subarray(100).equals(payload.subarray(100))).toBe(true);
    // The last byte of the export, and zero-length requests.
    expect((await client.request(CMD.WRITE, { offset: SIZE - 1, payload: Buffer.from([0x5a]) })).error).toBe(0);
    expect((await client.request(CMD.READ, { offset: SIZE - 1, length: 1 })).data[0]).toBe(0x5a);
    expect((await client.request(CMD.READ, { offset: SIZE, length: 0 })).error).toBe(0);
    expect((await client.request(CMD.WRITE, { offset: SIZE, payload: Buffer.alloc(0) })).error).toBe(0);
    client.destroy();
  });

  it('answers requests past the end with EINVAL (READ, TRIM) or ENOSPC (WRITE, WRITE_ZEROES), and goes on serving', async () => {
    const { client } = await RawNbdClient.attach(target, 'disk');
    const cases: [number, number | bigint, number, number][] = [
      [CMD.READ, SIZE, 1, ERRNO.EINVAL],
      [CMD.READ, SIZE - 1, 2, ERRNO.EINVAL],
      [CMD.READ, 0xffffffffffffffffn, 1, ERRNO.EINVAL],
      [CMD.READ, 2n ** 53n, 0, ERRNO.EINVAL],
      [CMD.TRIM, SIZE - 4096, 8192, ERRNO.EINVAL],
      [CMD.TRIM, 0xfffffffffffff000n, 4096, ERRNO.EINVAL],
      [CMD.WRITE_ZEROES, SIZE - 1, 2, ERRNO.ENOSPC],
      [CMD.WRITE_ZEROES, 0xffffffffffffffffn, 0xffffffff, ERRNO.ENOSPC],
    ];
    for (const [type, offset, length, errno] of cases) {
      expect((await client.request(type, { offset, length })).error, `command ${type} at ${offset}+${length}`).toBe(errno);
    }
    // A WRITE past the end: its payload is read and dropped, and the stream stays in step.
    const write = await client.request(CMD.WRITE, { offset: SIZE - 10, payload: Buffer.alloc(20, 1) });
    expect(write.error).toBe(ERRNO.ENOSPC);
    expect((await client.request(CMD.WRITE, { offset: 0xfffffffffffffff0n, payload: Buffer.alloc(64 * 1024, 1) })).error).toBe(ERRNO.ENOSPC);
    expect((await client.request(CMD.READ, { offset: 0, length: 4 })).error).toBe(0);
    expect(disk.bytes.subarray(SIZE - 10).includes(1)).toBe(false);
    client.destroy();
  });

  it('answers unknown commands and flags with EINVAL, consuming a WRITE payload first', async () => {
    const { client } = await RawNbdClient.attach(target, 'disk');
    for (const type of [CMD.CACHE, CMD.BLOCK_STATUS, 8, 0xffff]) {
      expect((await client.request(type, { offset: 0, length: 512 })).error, `command ${type}`).toBe(ERRNO.EINVAL);
    }
    const flagged: [number, number][] = [
      [CMD.READ, CMD_FLAG.DF],
      [CMD.READ, CMD_FLAG.NO_HOLE],
      [CMD.READ, 0x8000],
      [CMD.TRIM, CMD_FLAG.NO_HOLE],
      [CMD.FLUSH, CMD_FLAG.REQ_ONE],
      [CMD.WRITE_ZEROES, CMD_FLAG.FAST_ZERO],
    ];
    for (const [type, flags] of flagged) {
      expect((await client.request(type, { flags, offset: 0, length: type === CMD.FLUSH ? 0 : 512 })).error, `command ${type} flags ${flags}`).toBe(ERRNO.EINVAL);
    }
    const before = Buffer.from(disk.bytes.subarray(0, 512));
    expect((await client.request(CMD.WRITE, { flags: CMD_FLAG.NO_HOLE, offset: 0, payload: Buffer.alloc(512, 9) })).error).toBe(ERRNO.EINVAL);
    expect(disk.bytes.subarray(0, 512).equals(before)).toBe(true);
    // FUA is valid on every command, even those that write nothing.
    expect((await client.request(CMD.READ, { flags: CMD_FLAG.FUA, length: 8 })).error).toBe(0);
    expect((await client.request(CMD.FLUSH, { flags: CMD_FLAG.FUA })).error).toBe(0);
    // FLUSH must carry offset and length 0.
    expect((await client.request(CMD.FLUSH, { offset: 512 })).error).toBe(ERRNO.EINVAL);
    expect((await client.request(CMD.FLUSH, { length: 512 })).error).toBe(ERRNO.EINVAL);
    client.destroy();
  });

  it('refuses a READ over 32 MiB with EINVAL and disconnects on a WRITE over 32 MiB', async () => {
    const { client } = await RawNbdClient.attach(target, 'disk');
    expect((await client.request(CMD.READ, { length: 32 * MiB + 1 })).error).toBe(ERRNO.EINVAL);
    expect((await client.request(CMD.READ, { length: 0xffffffff })).error).toBe(ERRNO.EINVAL);
    client.write(requestBytes(CMD.WRITE, { length: 32 * MiB + 1 }));
    expect(await client.closedWithin()).toBe(true);
  });

  it("answers a device's BlockIoError with its errno and any other failure with EIO", async () => {
    const { client } = await RawNbdClient.attach(target, 'failing');
    for (const [error, errno] of [
      [new BlockIoError('ENOSPC', 'target full'), ERRNO.ENOSPC],
      [new BlockIoError('EPERM', 'fenced'), ERRNO.EPERM],
      [new BlockIoError('ESHUTDOWN', 'volume closing'), ERRNO.ESHUTDOWN],
      [new Error('bug'), ERRNO.EIO],
    ] as const) {
      failing.failWith = error;
      expect((await client.request(CMD.READ, { length: 512 })).error).toBe(errno);
      expect((await client.request(CMD.WRITE, { payload: Buffer.alloc(512) })).error).toBe(errno);
      expect((await client.request(CMD.FLUSH)).error).toBe(errno);
    }
    failing.failWith = undefined;
    expect((await client.request(CMD.READ, { length: 512 })).error).toBe(0);
    client.destroy();
  });

  it('answers each request when it finishes, in any order', async () => {
    const { client } = await RawNbdClient.attach(target, 'disk');
    const release = disk.hold('write');
    client.write(Buffer.concat([requestBytes(CMD.WRITE, { handle: 1n, offset: 0, payload: Buffer.alloc(4096, 3) }), requestBytes(CMD.READ, { handle: 2n, offset: 8192, length: 4096 })]));
    expect((await client.readSimpleReply(4096)).handle).toBe(2n);
    release();
    expect((await client.readSimpleReply()).handle).toBe(1n);
    client.destroy();
  });

  it('on DISC answers the requests in flight, then closes', async () => {
    const { client } = await RawNbdClient.attach(target, 'disk');
    const release = disk.hold('write');
    client.write(Buffer.concat([requestBytes(CMD.WRITE, { handle: 5n, offset: 0, payload: Buffer.alloc(512, 4) }), requestBytes(CMD.DISC), requestBytes(CMD.READ, { handle: 6n, length: 8 })]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    expect(await client.readSimpleReply()).toMatchObject({ handle: 5n, error: 0 });
    expect(await client.closedWithin()).toBe(true);
    expect(disk.bytes[0]).toBe(4);
  });
});

describe('server lifecycle', () => {
  it('listens on loopback TCP, reports the bound port, and counts connections', async () => {
    const server = createNbdServer({ exports: (name) => (name === 'disk' ? disk : undefined), list: () => [] });
    const { host, port } = await server.listenTcp();
    expect(host).toBe('127.0.0.1');
    expect(port).toBeGreaterThan(0);
    const haggling = await RawNbdClient.handshake({ port });
    const { client } = await RawNbdClient.attach({ port }, 'disk');
    expect((await client.request(CMD.READ, { length: 8 })).error).toBe(0);
    expect(server.connectionCounts()).toEqual({ open: 2, handshaking: 1, transmitting: 1, accepted: 2 });
    haggling.destroy();
    client.destroy();
    await Promise.all([haggling.closed, client.closed]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.connectionCounts()).toMatchObject({ open: 0, accepted: 2 });
    await server.close();
  });

  it('replaces a stale socket file but refuses a path a live server answers on', async () => {
    const other = createNbdServer({ exports: () => undefined, list: () => [] });
    await expect(other.listenUnix(nbd.socketPath)).rejects.toThrow(/another server is listening/);
    const staleDir = await makeTempDir();
    const stalePath = `${staleDir}/stale.sock`;
    const first = createNbdServer({ exports: () => disk, list: () => [] });
    await first.listenUnix(stalePath);
    // Leave the socket file behind, as a killed agent would: keep a hard link to it across close().
    await link(stalePath, `${stalePath}.keep`);
    await first.close();
    await link(`${stalePath}.keep`, stalePath).catch(() => undefined);
    await unlink(`${stalePath}.keep`);
    await other.listenUnix(stalePath);
    const { client } = await RawNbdClient.attach({ path: stalePath }, 'anything').catch(() => ({ client: undefined }));
    expect(client).toBeUndefined(); // the new server answers (and has no such export)
    expect(other.connectionCounts().accepted).toBe(1);
    await other.close();
    await removeDir(staleDir);
  });

  it('on close stops accepting, answers requests in flight, then closes every connection', async () => {
    const closeDir = await makeTempDir();
    const device = new MemoryDevice(SIZE);
    const running = await startNbd(closeDir, { device });
    const { client } = await RawNbdClient.attach({ path: running.socketPath }, 'device');
    const haggling = await RawNbdClient.handshake({ path: running.socketPath });
    const release = device.hold('read');
    client.write(requestBytes(CMD.READ, { handle: 9n, offset: 0, length: 4096 }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const closing = running.close();
    expect(await haggling.closedWithin()).toBe(true);
    await expect(RawNbdClient.connect({ path: running.socketPath })).rejects.toThrow();
    release();
    expect(await client.readSimpleReply(4096)).toMatchObject({ handle: 9n, error: 0 });
    expect(await client.closedWithin()).toBe(true);
    await closing;
    expect(running.server.connectionCounts().open).toBe(0);
    await removeDir(closeDir);
  });
});
