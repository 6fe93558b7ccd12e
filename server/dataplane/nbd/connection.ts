/**
 * One client connection: the handshake, then the transmission phase, on one socket.
 *
 * Invariants a reader can rely on:
 * - Requests are parsed in arrival order and handed to the device in that order, the moment
 *   they are complete; they run concurrently and are answered as each finishes (any order).
 * - A FLUSH waits for the writes this connection issued before it, then calls device.flush(),
 *   so it covers every write the client sent before it, answered or not.
 * - Nothing is allocated from what a client merely claims: a WRITE's payload is taken from
 *   bytes that have arrived (a WRITE over MAX_PAYLOAD_BYTES disconnects before any is kept),
 *   READs over MAX_PAYLOAD_BYTES are refused, and option data over MAX_OPTION_BYTES disconnects.
 * - No request reaches the device unless requestError() passed it: no I/O outside the export.
 * - Backpressure: past MAX_REQUESTS_IN_FLIGHT requests, MAX_BYTES_IN_FLIGHT bytes in flight or
 *   MAX_UNSENT_BYTES of replies the client has not read, the socket stops being read.
 * - Replies written in one turn of the event loop go out together: the socket is corked on the
 *   first and uncorked by setImmediate.
 * - Every device promise is observed; a throwing device or a broken client ends this connection
 *   only, never the process.
 */
import type { Socket } from 'node:net';
import type { BlockDevice } from '../block-device';
import { ByteQueue } from './byte-queue';
import {
  IHAVEOPT,
  IHAVEOPT_HIGH,
  IHAVEOPT_LOW,
  MAX_OPTION_BYTES,
  MAX_PAYLOAD_BYTES,
  NBD_CMD_DISC,
  NBD_CMD_FLAG_FUA,
  NBD_CMD_FLAG_NO_HOLE,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_TRIM,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_ERRNO,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_NO_ZEROES,
  NBD_MAGIC,
  NBD_REQUEST_MAGIC,
  OPTION_HEADER_BYTES,
  REQUEST_HEADER_BYTES,
} from './constants';
import { answerOption, type ExportCatalogue } from './handshake';
import { deviceErrno, readOffset, requestError, simpleReply } from './transmission';

export const MAX_REQUESTS_IN_FLIGHT = 256;
export const MAX_BYTES_IN_FLIGHT = 128 * 1024 * 1024;
export const MAX_UNSENT_BYTES = 64 * 1024 * 1024;
/** After the server ends its side, how long the client gets to close before the socket is destroyed. */
const LINGER_MS = 5_000;

export type LogFields = Record<string, unknown>;
export interface NbdLogger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
}

export interface ConnectionContext {
  catalogue: ExportCatalogue;
  logger: NbdLogger;
  handshakeTimeoutMs: number;
  peer: string;
}

type Stage = 'client-flags' | 'option-header' | 'option-data' | 'request-header' | 'write-payload' | 'stopped';

interface PendingWrite {
  flags: number;
  handleHigh: number;
  handleLow: number;
  offset: number;
  length: number;
}

const EMPTY = Buffer.alloc(0);
const DONE: Promise<unknown> = Promise.resolve(EMPTY);

function greeting(): Buffer {
  const bytes = Buffer.allocUnsafe(18);
  NBD_MAGIC.copy(bytes, 0);
  IHAVEOPT.copy(bytes, 8);
  bytes.writeUInt16BE(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES, 16);
  return bytes;
}

/** Calls the device, turning a synchronous throw into a rejection. */
function attempt<T>(call: () => Promise<T>): Promise<T> {
  try {
    return call();
  } catch (error) {
    return Promise.reject(error);
  }
}

export class NbdConnection {
  phase: 'handshake' | 'transmission' | 'closed' = 'handshake';
  exportName: string | undefined;
  /** Resolves once the socket has closed. */
  readonly closed: Promise<void>;

  private stage: Stage = 'client-flags';
  private readonly queue = new ByteQueue();
  private clientFlags = 0;
  private optionType = 0;
  private optionLength = 0;
  private device: BlockDevice | undefined;
  private sizeBytes = 0;
  private pendingWrite: PendingWrite | undefined;
  private inFlight = 0;
  private inFlightBytes = 0;
  private readonly writesInFlight = new Set<Promise<unknown>>();
  private paused = false;
  private corked = false;
  private inputEnded = false;
  /** No more requests are read; the socket ends once the requests in flight are answered. */
  private ending = false;
  private handshakeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly context: ConnectionContext,
  ) {
    let markClosed!: () => void;
    this.closed = new Promise((resolve) => (markClosed = resolve));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.maybeResume());
    socket.on('error', (error) => {
      context.logger.debug('nbd socket error', { peer: context.peer, error: error.message });
      socket.destroy();
    });
    socket.on('close', () => {
      this.phase = 'closed';
      this.stage = 'stopped';
      this.queue.clear();
      if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
      markClosed();
    });
    if (context.handshakeTimeoutMs > 0) {
      this.handshakeTimer = setTimeout(() => this.hardDisconnect('handshake took too long'), context.handshakeTimeoutMs);
      this.handshakeTimer.unref();
    }
    this.send(greeting());
  }

  /** Server shutdown: answer what is in flight, then close; a connection still haggling closes now. */
  shutdown(): Promise<void> {
    if (this.phase === 'handshake') this.socket.destroy();
    else this.stopReading('server shutting down');
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    if (this.ending || this.stage === 'stopped') return; // discarded: nothing more will be parsed
    this.queue.push(chunk);
    this.pump();
  }

  private onEnd(): void {
    this.inputEnded = true;
    // Complete requests still queued are served; pump() stops reading once they are parsed.
    this.pump();
  }

  /** Parses and acts on every complete message queued, until input runs short or flow control stops it. */
  private pump(): void {
    try {
      while (!this.ending && !this.socket.destroyed) {
        if (this.atCapacity()) {
          this.paused = true;
          this.socket.pause();
          return;
        }
        if (!this.step()) break;
      }
      if (this.inputEnded && !this.ending) {
        const between = this.queue.length === 0 && (this.stage === 'option-header' || this.stage === 'request-header');
        this.stopReading(between ? 'client closed its side' : 'client closed its side mid-message');
      }
    } catch (error) {
      this.context.logger.warn('nbd connection failed', { peer: this.context.peer, error: (error as Error).message });
      this.socket.destroy();
    }
  }

  /** Handles one message if all of it has arrived; false when more bytes are needed. */
  private step(): boolean {
    const queue = this.queue;
    switch (this.stage) {
      case 'client-flags': {
        if (queue.length < 4) return false;
        const flags = queue.take(4).readUInt32BE(0);
        if (flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
          this.hardDisconnect(`unknown client flags 0x${flags.toString(16)}`);
          return false;
        }
        this.clientFlags = flags;
        this.stage = 'option-header';
        return true;
      }
      case 'option-header': {
        if (queue.length < OPTION_HEADER_BYTES) return false;
        const header = queue.take(OPTION_HEADER_BYTES);
        if (header.readUInt32BE(0) !== IHAVEOPT_HIGH || header.readUInt32BE(4) !== IHAVEOPT_LOW) {
          this.hardDisconnect('option without the IHAVEOPT magic');
          return false;
        }
        this.optionType = header.readUInt32BE(8);
        this.optionLength = header.readUInt32BE(12);
        if (this.optionLength > MAX_OPTION_BYTES) {
          this.hardDisconnect(`option ${this.optionType} carries ${this.optionLength} bytes, over the ${MAX_OPTION_BYTES} limit`);
          return false;
        }
        this.stage = 'option-data';
        return true;
      }
      case 'option-data': {
        if (queue.length < this.optionLength) return false;
        const outcome = answerOption(this.optionType, queue.take(this.optionLength), this.clientFlags, this.context.catalogue);
        for (const reply of outcome.reply) this.send(reply);
        if (outcome.next === 'options') {
          this.stage = 'option-header';
          return true;
        }
        if (outcome.next === 'close') {
          if (outcome.reply.length > 0) this.stopReading(outcome.reason);
          else this.hardDisconnect(outcome.reason);
          return false;
        }
        this.enterTransmission(outcome.exportName, outcome.device);
        return true;
      }
      case 'request-header': {
        if (queue.length < REQUEST_HEADER_BYTES) return false;
        const header = queue.take(REQUEST_HEADER_BYTES);
        if (header.readUInt32BE(0) !== NBD_REQUEST_MAGIC) {
          this.hardDisconnect('request without the request magic');
          return false;
        }
        const flags = header.readUInt16BE(4);
        const type = header.readUInt16BE(6);
        const handleHigh = header.readUInt32BE(8);
        const handleLow = header.readUInt32BE(12);
        const offset = readOffset(header, 16);
        const length = header.readUInt32BE(24);
        if (type === NBD_CMD_DISC) {
          this.stopReading('client sent NBD_CMD_DISC');
          return false;
        }
        if (type === NBD_CMD_WRITE) {
          if (length > MAX_PAYLOAD_BYTES) {
            this.hardDisconnect(`WRITE of ${length} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit`);
            return false;
          }
          this.pendingWrite = { flags, handleHigh, handleLow, offset, length };
          this.stage = 'write-payload';
          return true;
        }
        this.handleRequest(type, flags, handleHigh, handleLow, offset, length, EMPTY);
        return true;
      }
      case 'write-payload': {
        const write = this.pendingWrite!;
        if (queue.length < write.length) return false;
        const payload = queue.take(write.length);
        this.pendingWrite = undefined;
        this.stage = 'request-header';
        this.handleRequest(NBD_CMD_WRITE, write.flags, write.handleHigh, write.handleLow, write.offset, write.length, payload);
        return true;
      }
      case 'stopped':
        return false;
    }
  }

  private enterTransmission(exportName: string, device: BlockDevice): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.device = device;
    this.sizeBytes = device.sizeBytes;
    this.exportName = exportName;
    this.phase = 'transmission';
    this.stage = 'request-header';
    this.context.logger.debug('nbd client attached', { peer: this.context.peer, export: exportName });
  }

  private handleRequest(type: number, flags: number, handleHigh: number, handleLow: number, offset: number, length: number, payload: Buffer): void {
    const refusal = requestError(type, flags, offset, length, this.sizeBytes);
    if (refusal !== 0) {
      this.send(simpleReply(refusal, handleHigh, handleLow));
      return;
    }
    const device = this.device!;
    const fua = (flags & NBD_CMD_FLAG_FUA) !== 0;
    let operation: Promise<unknown>;
    let isWrite = true;
    switch (type) {
      case NBD_CMD_READ:
        isWrite = false;
        operation = length === 0 ? DONE : attempt(() => device.read(offset, length));
        break;
      case NBD_CMD_WRITE:
        operation = length === 0 ? DONE : attempt(() => device.write(offset, payload, fua ? { fua: true } : undefined));
        break;
      case NBD_CMD_TRIM:
        operation = length === 0 ? DONE : attempt(() => device.trim(offset, length, fua ? { fua: true } : undefined));
        break;
      case NBD_CMD_WRITE_ZEROES:
        operation = length === 0 ? DONE : attempt(() => device.writeZeroes(offset, length, { fua, mayTrim: (flags & NBD_CMD_FLAG_NO_HOLE) === 0 }));
        break;
      case NBD_CMD_FLUSH: {
        isWrite = false;
        const earlier = this.writesInFlight.size === 0 ? DONE : Promise.allSettled([...this.writesInFlight]);
        operation = earlier.then(() => device.flush());
        break;
      }
      default:
        throw new Error(`unreachable: command ${type} passed validation`);
    }
    const bytes = type === NBD_CMD_READ || type === NBD_CMD_WRITE ? length : 0;
    this.inFlight += 1;
    this.inFlightBytes += bytes;
    if (isWrite && operation !== DONE) this.writesInFlight.add(operation);
    operation.then(
      (result) => {
        if (isWrite) this.writesInFlight.delete(operation);
        this.complete(type, handleHigh, handleLow, length, bytes, result, 0);
      },
      (error: unknown) => {
        if (isWrite) this.writesInFlight.delete(operation);
        this.logDeviceError(type, offset, length, error);
        this.complete(type, handleHigh, handleLow, length, bytes, undefined, deviceErrno(error));
      },
    );
  }

  private complete(type: number, handleHigh: number, handleLow: number, length: number, bytes: number, result: unknown, error: number): void {
    this.inFlight -= 1;
    this.inFlightBytes -= bytes;
    if (error !== 0) {
      this.send(simpleReply(error, handleHigh, handleLow));
    } else if (type === NBD_CMD_READ) {
      const data = result as Buffer;
      if (!Buffer.isBuffer(data) || data.length !== length) {
        this.context.logger.warn('nbd device returned the wrong number of bytes for a read', { peer: this.context.peer, expected: length });
        this.send(simpleReply(NBD_ERRNO.EIO, handleHigh, handleLow));
      } else {
        this.send(simpleReply(0, handleHigh, handleLow));
        if (length > 0) this.send(data);
      }
    } else {
      this.send(simpleReply(0, handleHigh, handleLow));
    }
    if (this.ending) this.maybeFinish();
    else this.maybeResume();
  }

  private logDeviceError(type: number, offset: number, length: number, error: unknown): void {
    const fields = { peer: this.context.peer, export: this.exportName, command: type, offset, length, error: (error as Error)?.message ?? String(error) };
    if ((error as Error)?.name === 'BlockIoError') this.context.logger.debug('nbd request failed', fields);
    else this.context.logger.warn('nbd request failed with an unexpected error', fields);
  }

  private atCapacity(): boolean {
    return this.inFlight >= MAX_REQUESTS_IN_FLIGHT || this.inFlightBytes >= MAX_BYTES_IN_FLIGHT || this.socket.writableLength >= MAX_UNSENT_BYTES;
  }

  private maybeResume(): void {
    if (!this.paused || this.ending || this.atCapacity()) return;
    this.paused = false;
    this.socket.resume();
    this.pump();
  }

  private send(bytes: Buffer): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      setImmediate(this.uncork);
    }
    socket.write(bytes);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    if (!this.socket.destroyed) this.socket.uncork();
  };

  /** Reads nothing more; ends the socket once every request in flight is answered. */
  private stopReading(reason: string): void {
    if (this.ending) return;
    this.ending = true;
    this.stage = 'stopped';
    this.queue.clear();
    this.pendingWrite = undefined;
    this.context.logger.debug('nbd connection ending', { peer: this.context.peer, reason });
    // Keep reading (and discarding) so the client's FIN is seen and the socket can close.
    this.socket.resume();
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.inFlight > 0 || this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }

  private hardDisconnect(reason: string): void {
    this.context.logger.warn('nbd client disconnected for a protocol violation', { peer: this.context.peer, reason });
    this.stage = 'stopped';
    this.ending = true;
    this.queue.clear();
    this.socket.destroy();
  }
}
