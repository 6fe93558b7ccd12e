/**
 * A small NBD client (fixed newstyle, NBD_OPT_GO, simple replies) for Tern's own workload
 * generator and benchmarks: it lets a process that must outlive the agent (a crash test's
 * writer) do its I/O through the agent's NBD export, as an application would.
 */
import net from 'node:net';
import { ByteQueue } from './byte-queue';

const NBDMAGIC = 0x4e42444d41474943n;
const IHAVEOPT = 0x49484156454f5054n;
const OPT_GO = 7;
const REP_MAGIC = 0x3e889045565a9n;
const REP_ACK = 1;
const REP_INFO = 3;
const INFO_EXPORT = 0;
const REQUEST_MAGIC = 0x25609513;
const SIMPLE_REPLY_MAGIC = 0x67446698;
const CMD = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3 } as const;
const FLAG_FUA = 1;

interface Pending {
  resolve: (data: Buffer) => void;
  reject: (error: Error) => void;
  readLength: number;
}

export class NbdClientError extends Error {
  constructor(
    message: string,
    readonly errno?: number,
  ) {
    super(message);
    this.name = 'NbdClientError';
  }
}

export class NbdClient {
  private readonly pending = new Map<bigint, Pending>();
  private nextHandle = 1n;
  private readonly queue = new ByteQueue();
  private failed: Error | null = null;
  private reading: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  private constructor(
    private readonly socket: net.Socket,
    readonly sizeBytes: number,
  ) {}

  /** Connects to `{ path }` (Unix socket) or `{ host, port }` and opens the export. */
  static async connect(address: { path: string } | { host: string; port: number }, exportName: string): Promise<NbdClient> {
    const socket = 'path' in address ? net.createConnection(address.path) : net.createConnection(address.port, address.host);
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const queue = new ByteQueue();
    let wake: (() => void) | null = null;
    let closed: Error | null = null;
    const onData = (chunk: Buffer) => {
      queue.push(chunk);
      wake?.();
    };
    const onClose = () => {
      closed = new NbdClientError('the NBD server closed the connection during the handshake');
      wake?.();
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', () => undefined);
    const take = async (length: number): Promise<Buffer> => {
      while (queue.length < length) {
        if (closed) throw closed;
        await new Promise<void>((resolve) => (wake = resolve));
      }
      return queue.take(length);
    };
    const greeting = await take(18);
    if (greeting.readBigUInt64BE(0) !== NBDMAGIC || greeting.readBigUInt64BE(8) !== IHAVEOPT) throw new NbdClientError('not an NBD fixed-newstyle server');
    const serverFlags = greeting.readUInt16BE(16);
    const noZeroes = (serverFlags & 2) !== 0;
    const clientFlags = Buffer.alloc(4);
    clientFlags.writeUInt32BE(1 | (noZeroes ? 2 : 0));
    const name = Buffer.from(exportName, 'utf8');
    const option = Buffer.alloc(16 + 4 + name.length + 2);
    option.writeBigUInt64BE(IHAVEOPT, 0);
    option.writeUInt32BE(OPT_GO, 8);
    option.writeUInt32BE(4 + name.length + 2, 12);
    option.writeUInt32BE(name.length, 16);
    name.copy(option, 20);
    option.writeUInt16BE(0, 20 + name.length);
    socket.write(Buffer.concat([clientFlags, option]));
    let sizeBytes = -1;
    for (;;) {
      const header = await take(20);
      if (header.readBigUInt64BE(0) !== REP_MAGIC) throw new NbdClientError('bad option reply magic');
      const type = header.readUInt32BE(12);
      const data = await take(header.readUInt32BE(16));
      if (type === REP_INFO && data.readUInt16BE(0) === INFO_EXPORT) sizeBytes = Number(data.readBigUInt64BE(2));
      else if (type === REP_ACK) break;
      else if (type >= 0x80000000) throw new NbdClientError(`the server refused export "${exportName}": ${data.toString('utf8') || `error ${type.toString(16)}`}`);
    }
    if (sizeBytes < 0) throw new NbdClientError('the server did not report the export size');
    socket.off('data', onData);
    socket.off('close', onClose);
    const client = new NbdClient(socket, sizeBytes);
    const rest = queue.take(queue.length);
    if (rest.length) client.queue.push(rest);
    client.start();
    return client;
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.request(CMD.READ, 0, offset, length, undefined);
  }

  async write(offset: number, data: Buffer, options: { fua?: boolean } = {}): Promise<void> {
    await this.request(CMD.WRITE, options.fua ? FLAG_FUA : 0, offset, data.length, data);
  }

  async flush(): Promise<void> {
    await this.request(CMD.FLUSH, 0, 0, 0, undefined);
  }

  async close(): Promise<void> {
    if (!this.failed) {
      const header = this.header(CMD.DISC, 0, this.nextHandle++, 0, 0);
      this.socket.end(header);
    }
    this.socket.destroy();
    await this.reading?.catch(() => undefined);
  }

  private header(type: number, flags: number, handle: bigint, offset: number, length: number): Buffer {
    const header = Buffer.allocUnsafe(28);
    header.writeUInt32BE(REQUEST_MAGIC, 0);
    header.writeUInt16BE(flags, 4);
    header.writeUInt16BE(type, 6);
    header.writeBigUInt64BE(handle, 8);
    header.writeBigUInt64BE(BigInt(offset), 16);
    header.writeUInt32BE(length, 24);
    return header;
  }

  private request(type: number, flags: number, offset: number, length: number, payload: Buffer | undefined): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed);
    const handle = this.nextHandle++;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(handle, { resolve, reject, readLength: type === CMD.READ ? length : 0 });
      this.socket.write(this.header(type, flags, handle, offset, length));
      if (payload) this.socket.write(payload);
    });
  }

  private start() {
    this.socket.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      this.wake?.();
    });
    this.socket.on('close', () => this.fail(new NbdClientError('the NBD connection closed')));
    this.socket.on('error', (error) => this.fail(new NbdClientError(`NBD connection error: ${error.message}`)));
    this.reading = this.readReplies();
  }

  private fail(error: Error) {
    this.failed ??= error;
    for (const pending of this.pending.values()) pending.reject(this.failed);
    this.pending.clear();
    this.wake?.();
  }

  private async take(length: number): Promise<Buffer | null> {
    while (this.queue.length < length) {
      if (this.failed) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.queue.take(length);
  }

  private async readReplies() {
    for (;;) {
      const header = await this.take(16);
      if (!header) return;
      if (header.readUInt32BE(0) !== SIMPLE_REPLY_MAGIC) return this.fail(new NbdClientError('bad reply magic'));
      const errno = header.readUInt32BE(4);
      const handle = header.readBigUInt64BE(8);
      const pending = this.pending.get(handle);
      if (!pending) return this.fail(new NbdClientError(`reply for unknown handle ${handle}`));
      this.pending.delete(handle);
      if (errno !== 0) {
        pending.reject(new NbdClientError(`the NBD server answered errno ${errno}`, errno));
        continue;
      }
      const data = pending.readLength ? await this.take(pending.readLength) : Buffer.alloc(0);
      if (!data) return;
      pending.resolve(Buffer.from(data));
    }
  }
}
