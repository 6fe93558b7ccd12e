/** Small statistics for benchmark figures: medians with ranges, percentiles of latencies. */

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Median and range of the figures that exist; null when none do. */
export function spread(values: readonly (number | null)[]): Spread | null {
  const present = values.filter((value): value is number => value !== null && Number.isFinite(value)).sort((a, b) => a - b);
  if (present.length === 0) return null;
  const middle = Math.floor(present.length / 2);
  const median = present.length % 2 ? present[middle]! : (present[middle - 1]! + present[middle]!) / 2;
  return { median, min: present[0]!, max: present.at(-1)! };
}

/** The q-quantile (0..1) of an ascending array, or null when it is empty. */
export function quantile(ascending: readonly number[], q: number): number | null {
  if (ascending.length === 0) return null;
  return ascending[Math.min(ascending.length - 1, Math.floor(q * ascending.length))] ?? null;
}

/** a / b, or null when either is missing or b is zero. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return a / b;
}
