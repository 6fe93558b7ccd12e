/** A fixed-size set of region numbers, as a bit array with a population count. */
export class RegionBitmap {
  readonly bits: Uint8Array;
  private population = 0;

  constructor(
    readonly regionCount: number,
    bits?: Uint8Array,
  ) {
    this.bits = bits ?? new Uint8Array(Math.ceil(regionCount / 8));
    if (this.bits.length !== Math.ceil(regionCount / 8)) throw new Error(`bitmap of ${this.bits.length} bytes does not fit ${regionCount} regions`);
    if (bits) for (let region = 0; region < regionCount; region++) if (this.has(region)) this.population++;
  }

  get count(): number {
    return this.population;
  }

  has(region: number): boolean {
    return ((this.bits[region >> 3] ?? 0) & (1 << (region & 7))) !== 0;
  }

  /** Returns true when the bit was clear before. */
  add(region: number): boolean {
    const index = region >> 3;
    const mask = 1 << (region & 7);
    const byte = this.bits[index] ?? 0;
    if (byte & mask) return false;
    this.bits[index] = byte | mask;
    this.population++;
    return true;
  }

  /** Returns true when the bit was set before. */
  delete(region: number): boolean {
    const index = region >> 3;
    const mask = 1 << (region & 7);
    const byte = this.bits[index] ?? 0;
    if (!(byte & mask)) return false;
    this.bits[index] = byte & ~mask;
    this.population--;
    return true;
  }

  fill() {
    for (let region = 0; region < this.regionCount; region++) this.add(region);
  }

  clear() {
    this.bits.fill(0);
    this.population = 0;
  }

  /** The next set region at or after `from`, or -1. */
  next(from = 0): number {
    for (let region = from; region < this.regionCount; region++) {
      const byte = this.bits[region >> 3] ?? 0;
      if (byte === 0) {
        region |= 7; // skip the rest of an empty byte
        continue;
      }
      if (byte & (1 << (region & 7))) return region;
    }
    return -1;
  }

  *[Symbol.iterator](): IterableIterator<number> {
    for (let region = this.next(0); region >= 0; region = this.next(region + 1)) yield region;
  }

  copy(): RegionBitmap {
    return new RegionBitmap(this.regionCount, this.bits.slice());
  }
}

/** The regions a byte range touches. */
export function regionsOf(offset: number, length: number, regionSizeBytes: number): { first: number; last: number } {
  const first = Math.floor(offset / regionSizeBytes);
  const last = Math.floor((offset + Math.max(length, 1) - 1) / regionSizeBytes);
  return { first, last };
}
