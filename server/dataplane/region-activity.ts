/**
 * What the application and the copy are doing to each region of a migrating volume, for the
 * write-versus-copy race (migration-job.ts, invariant 3): a generation bumped when a write to the
 * region starts and when it ends, the writes in flight, when it was last written (hot regions
 * keep their DRL bit), and the regions a copy is working on.
 */
import { RegionBitmap } from './region-bitmap';

export class RegionActivity {
  private readonly generation: Uint32Array;
  private readonly inFlight: Uint16Array;
  private readonly lastWriteMs: Float64Array;
  /** Regions a copy has read or is writing. */
  readonly copying: RegionBitmap;

  constructor(regionCount: number) {
    this.generation = new Uint32Array(regionCount);
    this.inFlight = new Uint16Array(regionCount);
    this.lastWriteMs = new Float64Array(regionCount).fill(Number.NEGATIVE_INFINITY); // never written
    this.copying = new RegionBitmap(regionCount);
  }

  writeStarted(first: number, last: number) {
    for (let region = first; region <= last; region++) {
      this.generation[region] = (this.generation[region] ?? 0) + 1;
      this.inFlight[region] = (this.inFlight[region] ?? 0) + 1;
    }
  }

  /** A write that writeStarted() counted has ended (whether or not it succeeded). */
  writeEnded(first: number, last: number) {
    const now = performance.now();
    for (let region = first; region <= last; region++) {
      this.lastWriteMs[region] = now;
      this.generation[region] = (this.generation[region] ?? 0) + 1;
      this.inFlight[region] = Math.max(0, (this.inFlight[region] ?? 1) - 1);
    }
  }

  generationOf(region: number): number {
    return this.generation[region] ?? 0;
  }

  writing(region: number): boolean {
    return (this.inFlight[region] ?? 0) > 0;
  }

  /** Whether the region was written (a write ended) after `since` (performance.now() ms). */
  writtenSince(region: number, since: number): boolean {
    return (this.lastWriteMs[region] ?? Number.NEGATIVE_INFINITY) > since;
  }

  /** The generations now, to ask later which regions were written since (changedSince). */
  generations(): Uint32Array {
    return this.generation.slice();
  }

  /** The regions written, or being written, since `snapshot` was taken. */
  changedSince(snapshot: Uint32Array): RegionBitmap {
    const changed = new RegionBitmap(this.generation.length);
    for (let region = 0; region < this.generation.length; region++) {
      if (this.generation[region] !== snapshot[region] || this.writing(region)) changed.add(region);
    }
    return changed;
  }

  /** A copy of first..last begins: returns the generations to compare when it ends. */
  copyStarted(first: number, last: number): number[] {
    const before: number[] = [];
    for (let region = first; region <= last; region++) {
      before.push(this.generationOf(region));
      this.copying.add(region);
    }
    return before;
  }

  /** A copy of first..last ended: returns the regions a write raced (they must be copied again). */
  copyEnded(first: number, last: number, before: readonly number[]): number[] {
    const raced: number[] = [];
    for (let region = first; region <= last; region++) {
      this.copying.delete(region);
      if (this.generationOf(region) !== before[region - first] || this.writing(region)) raced.push(region);
    }
    return raced;
  }
}
