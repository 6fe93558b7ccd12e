/**
 * The array driver interface: what Tern needs from a storage array. The directory driver
 * implements it with sparse files; drivers for real array APIs (SNIA Swordfish, vendor REST)
 * fit behind the same interface.
 */

export interface ArrayCapacity {
  capacityBytes: number;
  /** Sum of the sizes of all LUNs (thick accounting: a LUN's full size is reserved). */
  provisionedBytes: number;
  freeBytes: number;
  /** Bytes really written (sparse files allocate only what was written). */
  allocatedBytes: number;
}

export interface DriverLun {
  name: string;
  sizeBytes: number;
  allocatedBytes: number;
  /** Hosts (by console host id) this LUN is mapped to. */
  mappedHostIds: string[];
}

export interface ArrayDriver {
  readonly kind: string;
  capacity(): Promise<ArrayCapacity>;
  listLuns(): Promise<DriverLun[]>;
  createLun(spec: { name: string; sizeBytes: number }): Promise<DriverLun>;
  resizeLun(name: string, sizeBytes: number): Promise<DriverLun>;
  deleteLun(name: string): Promise<void>;
  /** Grants a host access to a LUN; returns the path under which that host opens it. */
  mapLun(name: string, hostId: string): Promise<{ hostPath: string }>;
  unmapLun(name: string, hostId: string): Promise<void>;
}

export type ArrayErrorCode =
  | 'not-writable'
  | 'already-exists'
  | 'no-capacity'
  | 'not-found'
  | 'in-use'
  | 'invalid';

/** A refusal from an array, with a message that says which and why. */
export class ArrayError extends Error {
  constructor(
    readonly code: ArrayErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ArrayError';
  }
}
