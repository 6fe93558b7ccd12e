/**
 * Fixtures for the NBD server's tests: a backing file whose export is a window between canary
 * bytes, a BlockDevice spy, a server on a Unix socket in a temporary folder, and a guard that
 * fails the test file on any unhandled rejection or uncaught exception.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { BlockDevice } from '../server/dataplane/block-device';
import { openFileBlockDevice, type FileBlockDevice } from '../server/dataplane/nbd/file-device';
import { createNbdServer, type NbdLogger, type NbdServer } from '../server/dataplane/nbd/server';

export async function makeTempDir(prefix = 'tern-nbd-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export interface WindowedBacking {
  path: string;
  device: FileBlockDevice;
  offsetBytes: number;
  sizeBytes: number;
  /** Throws unless the canaries before and after the window and the file size are unchanged. */
  checkCanaries(): Promise<void>;
  /** The export's bytes as the file holds them. */
  readWindow(): Promise<Buffer>;
}

/** A file laid out as [canary guardBytes][export sizeBytes][canary guardBytes]. */
export async function makeWindowedBacking(dir: string, sizeBytes: number, guardBytes = 64 * 1024, name = 'backing.img'): Promise<WindowedBacking> {
  const file = path.join(dir, name);
  const before = randomBytes(guardBytes);
  const after = randomBytes(guardBytes);
  const handle = await open(file, 'w+');
  await handle.write(before, 0, guardBytes, 0);
  await handle.write(after, 0, guardBytes, guardBytes + sizeBytes);
  await handle.close();
  const device = await openFileBlockDevice({ path: file, offsetBytes: guardBytes, sizeBytes });
  const totalBytes = 2 * guardBytes + sizeBytes;
  return {
    path: file,
    device,
    offsetBytes: guardBytes,
    sizeBytes,
    async checkCanaries() {
      const content = await readFile(file);
      expect((await stat(file)).size, 'backing file size').toBe(totalBytes);
      expect(content.subarray(0, guardBytes).equals(before), 'canary before the export intact').toBe(true);
      expect(content.subarray(guardBytes + sizeBytes).equals(after), 'canary after the export intact').toBe(true);
    },
    async readWindow() {
      return (await readFile(file)).subarray(guardBytes, guardBytes + sizeBytes);
    },
  };
}

export type SpyCall =
  | { op: 'read'; offset: number; length: number }
  | { op: 'write'; offset: number; length: number; options: { fua?: boolean } | undefined }
  | { op: 'flush' }
  | { op: 'trim'; offset: number; length: number; options: { fua?: boolean } | undefined }
  | { op: 'writeZeroes'; offset: number; length: number; options: { fua?: boolean; mayTrim?: boolean } | undefined };

/** Records every call and, in `events`, when each started and finished. */
export class SpyDevice implements BlockDevice {
  readonly calls: SpyCall[] = [];
  readonly events: string[] = [];
  constructor(private readonly inner: BlockDevice) {}

  get sizeBytes() {
    return this.inner.sizeBytes;
  }

  private async track<T>(call: SpyCall, run: () => Promise<T>): Promise<T> {
    const index = this.calls.push(call) - 1;
    this.events.push(`start ${call.op} #${index}`);
    try {
      return await run();
    } finally {
      this.events.push(`end ${call.op} #${index}`);
    }
  }

  read(offset: number, length: number) {
    return this.track({ op: 'read', offset, length }, () => this.inner.read(offset, length));
  }
  write(offset: number, data: Buffer, options?: { fua?: boolean }) {
    return this.track({ op: 'write', offset, length: data.length, options }, () => this.inner.write(offset, data, options));
  }
  flush() {
    return this.track({ op: 'flush' }, () => this.inner.flush());
  }
  trim(offset: number, length: number, options?: { fua?: boolean }) {
    return this.track({ op: 'trim', offset, length, options }, () => this.inner.trim(offset, length, options));
  }
  writeZeroes(offset: number, length: number, options?: { fua?: boolean; mayTrim?: boolean }) {
    return this.track({ op: 'writeZeroes', offset, length, options }, () => this.inner.writeZeroes(offset, length, options));
  }
}

export interface RunningNbd {
  server: NbdServer;
  socketPath: string;
  warnings: string[];
  close(): Promise<void>;
}

/** A server on a Unix socket in `dir`; warnings are collected rather than printed. */
export async function startNbd(dir: string, exports: Record<string, BlockDevice>, options: { handshakeTimeoutMs?: number } = {}): Promise<RunningNbd> {
  const warnings: string[] = [];
  const logger: NbdLogger = { debug: () => undefined, info: () => undefined, warn: (msg, fields) => void warnings.push(`${msg} ${JSON.stringify(fields)}`) };
  const server = createNbdServer({
    exports: (name) => exports[name],
    list: () => Object.keys(exports).map((name) => ({ name, description: `test export ${name}` })),
    logger,
    handshakeTimeoutMs: options.handshakeTimeoutMs,
  });
  const socketPath = path.join(dir, 'nbd.sock');
  await server.listenUnix(socketPath);
  return { server, socketPath, warnings, close: () => server.close() };
}

/** Fails the test file if anything rejects unhandled or throws uncaught while it runs. */
export function failOnUnhandledErrors(): void {
  const seen: unknown[] = [];
  const record = (error: unknown) => void seen.push(error);
  beforeAll(() => {
    process.on('unhandledRejection', record);
    process.on('uncaughtException', record);
  });
  afterEach(() => {
    expect(seen.map((error) => String((error as Error)?.stack ?? error))).toEqual([]);
  });
  afterAll(() => {
    process.off('unhandledRejection', record);
    process.off('uncaughtException', record);
  });
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * A BlockDevice in memory. `hold(op)` makes the next calls of that operation wait until the
 * returned release function runs, so a test can keep a request in flight.
 */
export class MemoryDevice implements BlockDevice {
  readonly bytes: Buffer;
  private readonly holds = new Map<string, Promise<void>>();
  failWith: Error | undefined;

  constructor(readonly sizeBytes: number) {
    this.bytes = Buffer.alloc(sizeBytes);
  }

  hold(op: 'read' | 'write' | 'flush' | 'trim' | 'writeZeroes'): () => void {
    let release!: () => void;
    this.holds.set(op, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      this.holds.delete(op);
      release();
    };
  }

  private async gate(op: string): Promise<void> {
    await this.holds.get(op);
    if (this.failWith) throw this.failWith;
  }

  async read(offset: number, length: number) {
    await this.gate('read');
    return Buffer.from(this.bytes.subarray(offset, offset + length));
  }
  async write(offset: number, data: Buffer) {
    await this.gate('write');
    data.copy(this.bytes, offset);
  }
  async flush() {
    await this.gate('flush');
  }
  async trim() {
    await this.gate('trim');
  }
  async writeZeroes(offset: number, length: number) {
    await this.gate('writeZeroes');
    this.bytes.fill(0, offset, offset + length);
  }
}
