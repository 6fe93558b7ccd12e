/**
 * What the NBD server (and any other front end) needs from a volume: positional I/O on a
 * fixed-size device. The volume layer implements it; a write resolves only once the write is
 * acknowledged in the volume's sense (on every active plex, and in the dirty-region log where
 * one applies), and with `fua` only once it is also durable.
 */
export interface BlockDevice {
  readonly sizeBytes: number;
  /** Reads exactly `length` bytes at `offset`; offset + length never exceeds sizeBytes. */
  read(offset: number, length: number): Promise<Buffer>;
  write(offset: number, data: Buffer, options?: { fua?: boolean }): Promise<void>;
  /** Makes every write acknowledged before this call durable. */
  flush(): Promise<void>;
  /** The range may read back as zeroes afterwards (a hint; may be a no-op). */
  trim(offset: number, length: number, options?: { fua?: boolean }): Promise<void>;
  /** The range reads back as zeroes afterwards; `mayTrim` allows deallocating it. */
  writeZeroes(offset: number, length: number, options?: { fua?: boolean; mayTrim?: boolean }): Promise<void>;
}

/** An I/O error with the errno the NBD reply should carry; `io` says which LUN operation failed where, when one did. */
export class BlockIoError extends Error {
  constructor(
    readonly errno: 'EIO' | 'ENOSPC' | 'EINVAL' | 'EPERM' | 'ENOMEM' | 'EOVERFLOW' | 'ESHUTDOWN',
    message: string,
    readonly io?: { op: 'read' | 'write' | 'flush'; offset: number | null },
  ) {
    super(message);
    this.name = 'BlockIoError';
  }
}
