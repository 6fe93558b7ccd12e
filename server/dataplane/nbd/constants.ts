/**
 * Numbers of the NBD protocol (NetworkBlockDevice/nbd doc/proto.md) that this server speaks,
 * and the server's own limits.
 */

export const NBD_MAGIC = Buffer.from('NBDMAGIC', 'latin1');
export const IHAVEOPT = Buffer.from('IHAVEOPT', 'latin1');
export const IHAVEOPT_HIGH = 0x49484156;
export const IHAVEOPT_LOW = 0x454f5054;
export const NBD_REP_MAGIC_HIGH = 0x0003e889;
export const NBD_REP_MAGIC_LOW = 0x045565a9;
export const NBD_REQUEST_MAGIC = 0x25609513;
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;

// Handshake flags (server) and client flags.
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

// Transmission flags.
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
export const NBD_FLAG_SEND_FUA = 1 << 3;
export const NBD_FLAG_SEND_TRIM = 1 << 5;
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;

// Options.
export const NBD_OPT_EXPORT_NAME = 1;
export const NBD_OPT_ABORT = 2;
export const NBD_OPT_LIST = 3;
export const NBD_OPT_STARTTLS = 5;
export const NBD_OPT_INFO = 6;
export const NBD_OPT_GO = 7;
export const NBD_OPT_STRUCTURED_REPLY = 8;

// Option replies.
export const NBD_REP_ACK = 1;
export const NBD_REP_SERVER = 2;
export const NBD_REP_INFO = 3;
const NBD_REP_FLAG_ERROR = 0x80000000;
export const NBD_REP_ERR_UNSUP = (NBD_REP_FLAG_ERROR | 1) >>> 0;
export const NBD_REP_ERR_POLICY = (NBD_REP_FLAG_ERROR | 2) >>> 0;
export const NBD_REP_ERR_INVALID = (NBD_REP_FLAG_ERROR | 3) >>> 0;
export const NBD_REP_ERR_UNKNOWN = (NBD_REP_FLAG_ERROR | 6) >>> 0;
export const NBD_REP_ERR_SHUTDOWN = (NBD_REP_FLAG_ERROR | 7) >>> 0;

// Information types in NBD_REP_INFO.
export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_NAME = 1;
export const NBD_INFO_DESCRIPTION = 2;
export const NBD_INFO_BLOCK_SIZE = 3;

// Commands and command flags.
export const NBD_CMD_READ = 0;
export const NBD_CMD_WRITE = 1;
export const NBD_CMD_DISC = 2;
export const NBD_CMD_FLUSH = 3;
export const NBD_CMD_TRIM = 4;
export const NBD_CMD_WRITE_ZEROES = 6;
export const NBD_CMD_FLAG_FUA = 1 << 0;
export const NBD_CMD_FLAG_NO_HOLE = 1 << 1;

// Error values in simple replies (the protocol's own numbering, not the host's errno).
export const NBD_ERRNO = {
  EPERM: 1,
  EIO: 5,
  ENOMEM: 12,
  EINVAL: 22,
  ENOSPC: 28,
  EOVERFLOW: 75,
  ESHUTDOWN: 108,
} as const;

export const TRANSMISSION_FLAGS =
  NBD_FLAG_HAS_FLAGS |
  NBD_FLAG_SEND_FLUSH |
  NBD_FLAG_SEND_FUA |
  NBD_FLAG_SEND_TRIM |
  NBD_FLAG_SEND_WRITE_ZEROES |
  // Every connection to an export serves the same BlockDevice, whose flush covers every
  // acknowledged write whichever connection carried it.
  NBD_FLAG_CAN_MULTI_CONN;

/** Block size constraints advertised in NBD_INFO_BLOCK_SIZE. */
export const MIN_BLOCK_BYTES = 1;
export const PREFERRED_BLOCK_BYTES = 4096;
/** The largest READ or WRITE payload; a larger WRITE cannot be framed safely and disconnects. */
export const MAX_PAYLOAD_BYTES = 32 * 1024 * 1024;

/** The longest option data accepted; longer is treated as denial of service (hard disconnect). */
export const MAX_OPTION_BYTES = 16 * 1024;
/** Export names and descriptions are strings: at most 4096 bytes by the spec. */
export const MAX_STRING_BYTES = 4096;

export const REQUEST_HEADER_BYTES = 28;
export const SIMPLE_REPLY_BYTES = 16;
export const OPTION_HEADER_BYTES = 16;
