'use client';
import { usePathname, useSearchParams } from 'next/navigation';
import { useCallback, useEffect, useRef, useState } from 'react';

/**
 * Table and page state in the URL (docs/ui.md §3.0.2), so a link reproduces a view. `update`
 * replaces the history entry rather than pushing one per keystroke, through the History API,
 * which Next.js keeps `useSearchParams` in step with, so filtering costs no server request.
 */
export function useUrlParams() {
  const params = useSearchParams();
  const pathname = usePathname();
  const update = useCallback(
    (patch: Record<string, string | null | undefined>) => {
      const next = new URLSearchParams(window.location.search);
      for (const [key, value] of Object.entries(patch)) {
        if (value === null || value === undefined || value === '') next.delete(key);
        else next.set(key, value);
      }
      const query = next.toString();
      window.history.replaceState(null, '', query ? `${pathname}?${query}` : pathname);
    },
    [pathname],
  );
  return { params, update };
}

/**
 * A text filter that filters immediately and writes itself to the URL once typing pauses.
 * `onCommit` runs with the settled value (e.g. to go back to page 1).
 */
export function useDebouncedUrlParam(name: string, delayMs = 300, extraPatch?: Record<string, string | null>) {
  const { params, update } = useUrlParams();
  const urlValue = params.get(name) ?? '';
  const [value, setValue] = useState(urlValue);
  const lastWritten = useRef(urlValue);
  // A string, so an inline object does not restart the debounce on every render.
  const extra = JSON.stringify(extraPatch ?? {});

  // Back/forward changes the URL under us: follow it unless it is our own write.
  useEffect(() => {
    if (urlValue !== lastWritten.current) {
      lastWritten.current = urlValue;
      setValue(urlValue);
    }
  }, [urlValue]);

  useEffect(() => {
    if (value === lastWritten.current) return;
    const timeout = setTimeout(() => {
      lastWritten.current = value;
      update({ [name]: value.trim() || null, ...(JSON.parse(extra) as Record<string, string | null>) });
    }, delayMs);
    return () => clearTimeout(timeout);
  }, [value, name, delayMs, update, extra]);

  return [value, setValue] as const;
}
