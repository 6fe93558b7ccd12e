/**
 * A byte-level NBD client for the NBD server's tests: it sends exactly what a test writes, so
 * tests can speak the protocol correctly, wrongly, or stop half-way through a message.
 */
import net from 'node:net';

export const NBDMAGIC = Buffer.from('NBDMAGIC', 'latin1');
export const IHAVEOPT = Buffer.from('IHAVEOPT', 'latin1');
export const REP_MAGIC = Buffer.from('0003e889045565a9', 'hex');
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;

export const OPT = { EXPORT_NAME: 1, ABORT: 2, LIST: 3, STARTTLS: 5, INFO: 6, GO: 7, STRUCTURED_REPLY: 8, LIST_META_CONTEXT: 9, SET_META_CONTEXT: 10 } as const;
export const REP = { ACK: 1, SERVER: 2, INFO: 3, ERR_UNSUP: 0x80000001, ERR_POLICY: 0x80000002, ERR_INVALID: 0x80000003, ERR_UNKNOWN: 0x80000006 } as const;
export const INFO = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;
export const CMD = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4, CACHE: 5, WRITE_ZEROES: 6, BLOCK_STATUS: 7 } as const;
export const CMD_FLAG = { FUA: 1, NO_HOLE: 2, DF: 4, REQ_ONE: 8, FAST_ZERO: 16 } as const;
export const ERRNO = { EPERM: 1, EIO: 5, ENOMEM: 12, EINVAL: 22, ENOSPC: 28, EOVERFLOW: 75, ESHUTDOWN: 108 } as const;

export interface OptionReply {
  option: number;
  type: number;
  data: Buffer;
}

export interface SimpleReply {
  error: number;
  handle: bigint;
  data: Buffer;
}

export function optionBytes(option: number, data: Buffer = Buffer.alloc(0), claimedLength = data.length): Buffer {
  const header = Buffer.alloc(16);
  IHAVEOPT.copy(header, 0);
  header.writeUInt32BE(option >>> 0, 8);
  header.writeUInt32BE(claimedLength >>> 0, 12);
  return Buffer.concat([header, data]);
}

/** NBD_OPT_GO / NBD_OPT_INFO data: name length, name, info request count, requests. */
export function goData(name: string, infos: number[] = []): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const data = Buffer.alloc(4 + nameBytes.length + 2 + 2 * infos.length);
  data.writeUInt32BE(nameBytes.length, 0);
  nameBytes.copy(data, 4);
  data.writeUInt16BE(infos.length, 4 + nameBytes.length);
  infos.forEach((info, i) => data.writeUInt16BE(info, 6 + nameBytes.length + 2 * i));
  return data;
}

export function requestBytes(type: number, options: { flags?: number; handle?: bigint; offset?: bigint | number; length?: number; payload?: Buffer } = {}): Buffer {
  const header = Buffer.alloc(28);
  header.writeUInt32BE(REQUEST_MAGIC, 0);
  header.writeUInt16BE(options.flags ?? 0, 4);
  header.writeUInt16BE(type, 6);
  header.writeBigUInt64BE(options.handle ?? 1n, 8);
  header.writeBigUInt64BE(BigInt(options.offset ?? 0), 16);
  header.writeUInt32BE((options.length ?? options.payload?.length ?? 0) >>> 0, 24);
  return options.payload ? Buffer.concat([header, options.payload]) : header;
}

export class RawNbdClient {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private waiter: (() => void) | undefined;
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered.push(chunk);
      this.bufferedBytes += chunk.length;
      this.waiter?.();
    });
    socket.on('error', () => undefined); // a reset by the server is an outcome tests check, not a failure
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.waiter?.();
        resolve();
      }),
    );
  }

  static connect(target: { path: string } | { port: number; host?: string }): Promise<RawNbdClient> {
    return new Promise((resolve, reject) => {
      const socket = 'path' in target ? net.createConnection(target.path) : net.createConnection(target.port, target.host ?? '127.0.0.1');
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawNbdClient(socket));
      });
    });
  }

  /** Connects, checks the greeting, sends client flags (fixed newstyle + no zeroes by default). */
  static async handshake(target: { path: string } | { port: number }, clientFlags = 3): Promise<RawNbdClient> {
    const client = await RawNbdClient.connect(target);
    const greeting = await client.read(18);
    if (!greeting.subarray(0, 8).equals(NBDMAGIC) || !greeting.subarray(8, 16).equals(IHAVEOPT)) throw new Error('bad greeting');
    client.write(Buffer.from([0, 0, 0, clientFlags]));
    return client;
  }

  /** Handshake plus NBD_OPT_GO on `name`; leaves the client in transmission. */
  static async attach(target: { path: string } | { port: number }, name: string): Promise<{ client: RawNbdClient; sizeBytes: bigint; flags: number }> {
    const client = await RawNbdClient.handshake(target);
    client.write(optionBytes(OPT.GO, goData(name)));
    let sizeBytes = -1n;
    let flags = 0;
    for (;;) {
      const reply = await client.readOptionReply();
      if (reply.type === REP.ACK) break;
      if (reply.type !== REP.INFO) throw new Error(`NBD_OPT_GO failed: reply type 0x${reply.type.toString(16)} ${reply.data.toString()}`);
      if (reply.data.readUInt16BE(0) === INFO.EXPORT) {
        sizeBytes = reply.data.readBigUInt64BE(2);
        flags = reply.data.readUInt16BE(10);
      }
    }
    return { client, sizeBytes, flags };
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Reads exactly n bytes; rejects if the connection closes first or nothing arrives in time. */
  async read(n: number, timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.bufferedBytes < n) {
      if (this.ended) throw new Error(`connection closed with ${this.bufferedBytes} of ${n} bytes received`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} bytes (${this.bufferedBytes} received)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    const all = Buffer.concat(this.buffered);
    this.buffered = all.length > n ? [all.subarray(n)] : [];
    this.bufferedBytes = all.length - n;
    return all.subarray(0, n);
  }

  async readOptionReply(): Promise<OptionReply> {
    const header = await this.read(20);
    if (!header.subarray(0, 8).equals(REP_MAGIC)) throw new Error('option reply without the reply magic');
    const length = header.readUInt32BE(16);
    return { option: header.readUInt32BE(8), type: header.readUInt32BE(12), data: length ? await this.read(length) : Buffer.alloc(0) };
  }

  /** Reads a simple reply; `dataLength` bytes follow it when it reports success. */
  async readSimpleReply(dataLength = 0): Promise<SimpleReply> {
    const header = await this.read(16);
    if (header.readUInt32BE(0) !== SIMPLE_REPLY_MAGIC) throw new Error(`reply magic 0x${header.readUInt32BE(0).toString(16)}`);
    const error = header.readUInt32BE(4);
    const data = error === 0 && dataLength > 0 ? await this.read(dataLength) : Buffer.alloc(0);
    return { error, handle: header.readBigUInt64BE(8), data };
  }

  /** Sends a request and reads its (simple) reply. */
  async request(type: number, options: Parameters<typeof requestBytes>[1] = {}): Promise<SimpleReply> {
    this.write(requestBytes(type, options));
    return this.readSimpleReply(type === CMD.READ ? (options.length ?? 0) : 0);
  }

  /** True once the server has closed the connection (within the timeout). */
  async closedWithin(timeoutMs = 10_000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const result = await Promise.race([this.closed.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return result;
  }

  /** Half-closes the sending side, as a client that stops mid-message does. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
