/**
 * The transmission phase's rules, apart from the socket: which requests are valid, and the
 * NBD error each invalid one gets. The answers follow the spec and what nbdkit and qemu-nbd
 * send: an unknown command or flag, a READ or TRIM past the end, a READ over 32 MiB and a
 * FLUSH with an offset or length → EINVAL; a WRITE or WRITE_ZEROES past the end → ENOSPC.
 * (A WRITE over 32 MiB never gets here: its payload cannot be framed, so the connection drops.)
 */
import { BlockIoError } from '../block-device';
import {
  MAX_PAYLOAD_BYTES,
  NBD_CMD_FLAG_FUA,
  NBD_CMD_FLAG_NO_HOLE,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_TRIM,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_ERRNO,
  NBD_SIMPLE_REPLY_MAGIC,
  SIMPLE_REPLY_BYTES,
} from './constants';

/** Offsets at or above 2^53 cannot be a Number exactly; they are past any export's end anyway. */
const TWO_POW_32 = 0x1_0000_0000;
export function readOffset(header: Buffer, at: number): number {
  const high = header.readUInt32BE(at);
  if (high >= 0x20_0000) return Number.POSITIVE_INFINITY;
  return high * TWO_POW_32 + header.readUInt32BE(at + 4);
}

/** The NBD error for a request, or 0 when the device may be asked to perform it. */
export function requestError(type: number, flags: number, offset: number, length: number, sizeBytes: number): number {
  const pastEnd = offset > sizeBytes || length > sizeBytes - offset;
  switch (type) {
    case NBD_CMD_READ:
      if (flags & ~NBD_CMD_FLAG_FUA) return NBD_ERRNO.EINVAL;
      if (length > MAX_PAYLOAD_BYTES) return NBD_ERRNO.EINVAL;
      return pastEnd ? NBD_ERRNO.EINVAL : 0;
    case NBD_CMD_WRITE:
      if (flags & ~NBD_CMD_FLAG_FUA) return NBD_ERRNO.EINVAL;
      return pastEnd ? NBD_ERRNO.ENOSPC : 0;
    case NBD_CMD_TRIM:
      if (flags & ~NBD_CMD_FLAG_FUA) return NBD_ERRNO.EINVAL;
      return pastEnd ? NBD_ERRNO.EINVAL : 0;
    case NBD_CMD_WRITE_ZEROES:
      if (flags & ~(NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE)) return NBD_ERRNO.EINVAL;
      return pastEnd ? NBD_ERRNO.ENOSPC : 0;
    case NBD_CMD_FLUSH:
      if (flags & ~NBD_CMD_FLAG_FUA) return NBD_ERRNO.EINVAL;
      return offset !== 0 || length !== 0 ? NBD_ERRNO.EINVAL : 0;
    default:
      return NBD_ERRNO.EINVAL;
  }
}

/** The NBD error for a failed device call: a BlockIoError's own errno, anything else EIO. */
export function deviceErrno(error: unknown): number {
  if (error instanceof BlockIoError) return NBD_ERRNO[error.errno] ?? NBD_ERRNO.EIO;
  return NBD_ERRNO.EIO;
}

export function simpleReply(error: number, handleHigh: number, handleLow: number): Buffer {
  const reply = Buffer.allocUnsafe(SIMPLE_REPLY_BYTES);
  reply.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, 0);
  reply.writeUInt32BE(error, 4);
  reply.writeUInt32BE(handleHigh, 8);
  reply.writeUInt32BE(handleLow, 12);
  return reply;
}
