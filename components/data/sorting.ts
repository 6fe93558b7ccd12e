export type SortDirection = 'asc' | 'desc';
export interface SortState<K extends string> {
  key: K;
  direction: SortDirection;
}

/** Reads `name.asc` / `size.desc` from the URL, falling back when the key is unknown. */
export function parseSort<K extends string>(value: string | null, keys: readonly K[], fallback: SortState<K>): SortState<K> {
  if (!value) return fallback;
  const [key, direction] = value.split('.');
  if (!key || !(keys as readonly string[]).includes(key)) return fallback;
  return { key: key as K, direction: direction === 'desc' ? 'desc' : 'asc' };
}

export function formatSort<K extends string>(sort: SortState<K>): string {
  return `${sort.key}.${sort.direction}`;
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** A stable client-side sort for small lists; empty values always sort last. */
export function sortRows<T>(rows: readonly T[], value: (row: T) => string | number | null | undefined, direction: SortDirection): T[] {
  const factor = direction === 'asc' ? 1 : -1;
  return rows
    .map((row, index) => ({ row, index, key: value(row) }))
    .sort((a, b) => {
      if (a.key === null || a.key === undefined) return b.key === null || b.key === undefined ? a.index - b.index : 1;
      if (b.key === null || b.key === undefined) return -1;
      const order = typeof a.key === 'number' && typeof b.key === 'number' ? a.key - b.key : collator.compare(String(a.key), String(b.key));
      return order === 0 ? a.index - b.index : order * factor;
    })
    .map(({ row }) => row);
}
