/**
 * How a migration job meets a failed LUN operation (migration-job.ts, invariant 6): a failed
 * copy or mirrored write is retried after a backoff; the job fails, source authoritative, once the
 * faults persist: ENOSPC or a failed flush at once (after a failed fsync the target's unflushed
 * data cannot be trusted), otherwise after FAULT_RETRIES failed rounds in a row or on one region,
 * or MAX_FAULT_ROUNDS in all. Faults met during a backoff belong to its round.
 */
import { BlockIoError } from './block-device';
import type { Plex } from './plex';

export const FAULT_RETRIES = 3;
export const MAX_FAULT_ROUNDS = 20;
const FAULT_BACKOFF_MS = 250;

/** A source or target LUN operation of the job that failed, named by the plex's role. */
export class DataFault extends Error {
  constructor(
    readonly side: 'source' | 'target',
    readonly op: 'read' | 'write' | 'flush',
    readonly errno: BlockIoError['errno'],
    readonly offset: number | null,
    readonly plex: Plex,
    cause: string,
  ) {
    super(`${side} LUN ${op} error${offset === null ? '' : ` at offset ${offset}`} (${errno}) on plex ${plex.name} (${plex.lunPath}): ${cause}`);
    this.name = 'DataFault';
  }

  /** A failed operation on `plex` (the job's source or not), as a DataFault. */
  static of(plex: Plex, side: DataFault['side'], op: DataFault['op'], error: unknown, offset: number | null): DataFault {
    if (error instanceof DataFault) return error;
    const errno = error instanceof BlockIoError ? error.errno : 'EIO';
    return new DataFault(side, op, errno, offset, plex, (error as Error).message);
  }
}

/** What to do about a fault: fail the job with this error, or retry after a backoff. */
export type FaultDecision = { fail: Error } | { backoffMs: number };

export class FaultPolicy {
  private roundsInRow = 0;
  private rounds = 0;
  private readonly byRegion = new Map<number, number>();

  constructor(private readonly regionSizeBytes: number) {}

  /** A copy went through: the faults in a row are over. */
  succeeded() {
    this.roundsInRow = 0;
  }

  decide(fault: DataFault): FaultDecision {
    this.rounds += 1;
    this.roundsInRow += 1;
    const region = fault.offset === null ? -1 : Math.floor(fault.offset / this.regionSizeBytes);
    const onRegion = (this.byRegion.get(region) ?? 0) + 1;
    this.byRegion.set(region, onRegion);
    const attempts = Math.max(this.roundsInRow, onRegion);
    if (fault.errno === 'ENOSPC' || fault.op === 'flush') return { fail: fault };
    if (attempts > FAULT_RETRIES || this.rounds > MAX_FAULT_ROUNDS) {
      return { fail: new Error(`${fault.message}; gave up after ${attempts > FAULT_RETRIES ? `${attempts} attempts` : `${this.rounds} faults`}`, { cause: fault }) };
    }
    return { backoffMs: Math.min(2000, FAULT_BACKOFF_MS * 2 ** (this.roundsInRow - 1)) };
  }
}
