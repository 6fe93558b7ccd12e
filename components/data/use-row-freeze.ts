'use client';
import { useState } from 'react';

/**
 * Rows never move under the user (docs/ui.md §3.0.3): while the pointer is over the table or focus
 * is inside it, rows keep the order they had, and new rows go to the end. Spread the returned
 * handlers on the element that holds the rows.
 */
export function useRowFreeze<T>(rows: T[], id: (row: T) => string) {
  const [frozen, setFrozen] = useState<string[] | null>(null);
  const ids = rows.map(id);
  const freeze = () => setFrozen((current) => current ?? ids);
  const thaw = () => setFrozen(null);
  let ordered = rows;
  if (frozen) {
    const position = new Map(frozen.map((rowId, index) => [rowId, index]));
    ordered = [...rows].sort((a, b) => (position.get(id(a)) ?? Number.MAX_SAFE_INTEGER) - (position.get(id(b)) ?? Number.MAX_SAFE_INTEGER));
  }
  return {
    rows: ordered,
    handlers: {
      onPointerEnter: freeze,
      onPointerLeave: thaw,
      onFocus: freeze,
      onBlur: (event: React.FocusEvent<HTMLElement>) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) thaw();
      },
    },
  };
}
