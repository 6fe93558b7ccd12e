import { open, stat } from 'node:fs/promises';
import { BlockIoError } from './block-device';
import { withFaultRules } from './faulty-device';

export type PlexState = 'active' | 'syncing' | 'stale' | 'detached';

/** Test seam, off by default: wraps the I/O of every plex `Plex.open` opens (server/dataplane/power-loss.test.ts records it). */
let openedIoHook: ((io: PlexIo, lunPath: string) => PlexIo) | null = null;
export function setPlexOpenHook(hook: ((io: PlexIo, lunPath: string) => PlexIo) | null) {
  openedIoHook = hook;
}

/**
 * The positional I/O a plex does on its LUN. A FileHandle is one; tests pass an in-memory LUN
 * whose operations complete in the order the test chooses.
 */
export interface PlexIo {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * One full copy of a volume on one LUN: a sparse file here, a block device path unchanged.
 * The plex covers the LUN from offset 0 to the volume's size.
 */
export class Plex {
  state: PlexState;

  private constructor(
    readonly name: string,
    readonly lunId: string,
    readonly lunPath: string,
    private readonly handle: PlexIo,
    state: PlexState,
    /** The file the plex opened (device and inode), to notice when its path no longer leads to it. */
    private readonly identity: { dev: number; ino: number } | null = null,
  ) {
    this.state = state;
  }

  static async open(spec: { name: string; lunId: string; lunPath: string; state: PlexState }): Promise<Plex> {
    const handle = await open(spec.lunPath, 'r+');
    try {
      // A rules file beside the LUN (tests, the fault array driver) injects faults into its I/O.
      const io = await withFaultRules(handle, spec.lunPath);
      const { dev, ino } = await handle.stat();
      return new Plex(spec.name, spec.lunId, spec.lunPath, openedIoHook ? openedIoHook(io, spec.lunPath) : io, spec.state, { dev, ino });
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** A plex over I/O the caller opened; `lunPath` only names it. */
  static over(io: PlexIo, spec: { name: string; lunId: string; lunPath: string; state: PlexState }): Plex {
    return new Plex(spec.name, spec.lunId, spec.lunPath, io, spec.state);
  }

  /**
   * Why the plex's path no longer leads to the file it has open (the LUN was removed or replaced
   * under it), or null while it does. I/O through the open handle goes on working on a removed
   * file, so only this tells that what is written will be gone once the handle is closed.
   */
  async goneFromPath(): Promise<string | null> {
    if (!this.identity) return null;
    const now = await stat(this.lunPath).catch((error: NodeJS.ErrnoException) => error);
    if (now instanceof Error) return `the LUN ${this.lunPath} of plex ${this.name} is gone (${now.code ?? now.message})`;
    if (now.dev !== this.identity.dev || now.ino !== this.identity.ino) return `the LUN ${this.lunPath} of plex ${this.name} was replaced by another file`;
    return null;
  }

  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    const buffer = into ?? Buffer.allocUnsafe(length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await this.handle.read(buffer, done, length - done, offset + done);
        if (bytesRead === 0) {
          buffer.fill(0, done, length); // past the end of a short sparse file reads as zeroes
          break;
        }
        done += bytesRead;
      }
    } catch (error) {
      throw ioError(error, `read ${length} B at ${offset} from plex ${this.name} (${this.lunPath})`, { op: 'read', offset });
    }
    return buffer;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    let done = 0;
    try {
      while (done < data.length) {
        const { bytesWritten } = await this.handle.write(data, done, data.length - done, offset + done);
        done += bytesWritten;
      }
    } catch (error) {
      throw ioError(error, `write ${data.length} B at ${offset} to plex ${this.name} (${this.lunPath})`, { op: 'write', offset });
    }
  }

  async sync(): Promise<void> {
    try {
      await this.handle.datasync();
    } catch (error) {
      throw ioError(error, `flush plex ${this.name} (${this.lunPath})`, { op: 'flush', offset: null });
    }
  }

  async close() {
    await this.handle.close();
  }
}

function ioError(error: unknown, what: string, io: BlockIoError['io']): BlockIoError {
  const code = (error as NodeJS.ErrnoException).code;
  const errno = code === 'ENOSPC' ? 'ENOSPC' : code === 'EPERM' || code === 'EACCES' || code === 'EROFS' ? 'EPERM' : 'EIO';
  return new BlockIoError(errno, `${what} failed: ${code ?? (error as Error).message}`, io);
}
