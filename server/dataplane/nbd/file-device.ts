/**
 * A BlockDevice on a window of a file: `sizeBytes` bytes starting at `offsetBytes`. Enough for
 * the NBD server's tests and benchmarks (a window lets a test put canary bytes around the
 * export); the volume layer is the real implementation. Positional I/O through fs promises,
 * fdatasync for flush and FUA, zeroes written in bounded chunks (trim is a no-op: a hint).
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { BlockIoError, type BlockDevice } from '../block-device';

const ZERO_CHUNK_BYTES = 1024 * 1024;
let zeroChunk: Buffer | undefined;

export interface FileBlockDevice extends BlockDevice {
  close(): Promise<void>;
}

export interface FileBlockDeviceOptions {
  path: string;
  sizeBytes: number;
  /** Where the device starts in the file (default 0). */
  offsetBytes?: number;
  /** Create the file if missing (default true); it is extended, sparse, to cover the window. */
  create?: boolean;
}

function ioError(error: unknown): BlockIoError {
  const code = (error as NodeJS.ErrnoException).code;
  const errno = code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG' ? 'ENOSPC' : code === 'EPERM' || code === 'EACCES' || code === 'EROFS' ? 'EPERM' : 'EIO';
  return new BlockIoError(errno, (error as Error).message);
}

export async function openFileBlockDevice(options: FileBlockDeviceOptions): Promise<FileBlockDevice> {
  const base = options.offsetBytes ?? 0;
  const { sizeBytes } = options;
  if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(sizeBytes) || sizeBytes < 0) {
    throw new RangeError(`invalid window: offset ${base}, size ${sizeBytes}`);
  }
  const handle: FileHandle = await open(options.path, constants.O_RDWR | (options.create === false ? 0 : constants.O_CREAT), 0o600);
  const { size } = await handle.stat();
  if (size < base + sizeBytes) await handle.truncate(base + sizeBytes);

  function check(offset: number, length: number): void {
    if (!(offset >= 0 && length >= 0 && offset + length <= sizeBytes)) {
      throw new BlockIoError('EINVAL', `I/O at ${offset}+${length} is outside the ${sizeBytes}-byte device`);
    }
  }

  async function writeAll(data: Buffer, offset: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await handle.write(data, done, data.length - done, base + offset + done);
      done += bytesWritten;
    }
  }

  return {
    sizeBytes,

    async read(offset, length) {
      check(offset, length);
      const data = Buffer.allocUnsafe(length);
      let done = 0;
      try {
        while (done < length) {
          const { bytesRead } = await handle.read(data, done, length - done, base + offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
      } catch (error) {
        throw ioError(error);
      }
      data.fill(0, done); // past the end of a shrunk file: reads as zeroes
      return data;
    },

    async write(offset, data, writeOptions) {
      check(offset, data.length);
      try {
        await writeAll(data, offset);
        if (writeOptions?.fua) await handle.datasync();
      } catch (error) {
        throw ioError(error);
      }
    },

    async flush() {
      try {
        await handle.datasync();
      } catch (error) {
        throw ioError(error);
      }
    },

    async trim(offset, length) {
      check(offset, length);
    },

    async writeZeroes(offset, length, zeroOptions) {
      check(offset, length);
      zeroChunk ??= Buffer.alloc(ZERO_CHUNK_BYTES);
      try {
        for (let done = 0; done < length; done += ZERO_CHUNK_BYTES) {
          await writeAll(zeroChunk.subarray(0, Math.min(ZERO_CHUNK_BYTES, length - done)), offset + done);
        }
        if (zeroOptions?.fua) await handle.datasync();
      } catch (error) {
        throw ioError(error);
      }
    },

    close: () => handle.close(),
  };
}
