'use client';
import { ChevronLeft, ChevronRight } from 'lucide-react';
import { formatInteger } from '@/components/format';
import { Button } from '@/components/ui/button';
import { Select } from '@/components/ui/select';

export const PAGE_SIZES = [25, 50, 100] as const;
export type PageSize = (typeof PAGE_SIZES)[number];
export const DEFAULT_PAGE_SIZE: PageSize = 50;

/** Page and page size from the URL (`?page=2&size=100`), falling back to page 1 of 50. */
export function readPaging(params: URLSearchParams | { get(name: string): string | null }): { page: number; pageSize: PageSize } {
  const size = Number(params.get('size'));
  return {
    page: Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1),
    pageSize: (PAGE_SIZES as readonly number[]).includes(size) ? (size as PageSize) : DEFAULT_PAGE_SIZE,
  };
}

/**
 * The footer of a server-paginated table (docs/ui.md §3.0.2): rows per page, the position ("51–100
 * of 1,000") and previous/next. `onChange` receives URL params to set; defaults are removed.
 */
export function Pager({ page, pageSize, total, onChange }: { page: number; pageSize: PageSize; total: number; onChange: (patch: { page?: string | null; size?: string | null }) => void }) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const first = (page - 1) * pageSize + 1;
  return (
    <div className="flex flex-wrap items-center justify-end gap-4 border-t px-4 py-2 text-sm">
      <label className="flex items-center gap-2 text-muted-foreground">
        Rows per page
        <Select value={String(pageSize)} onChange={(event) => onChange({ size: Number(event.target.value) === DEFAULT_PAGE_SIZE ? null : event.target.value, page: null })}>
          {PAGE_SIZES.map((size) => (
            <option key={size} value={size}>
              {size}
            </option>
          ))}
        </Select>
      </label>
      <p className="text-muted-foreground tabular-nums" aria-live="polite">
        {total === 0 || first > total ? `0 of ${formatInteger(total)}` : `${formatInteger(first)}–${formatInteger(Math.min(total, page * pageSize))} of ${formatInteger(total)}`}
      </p>
      <div className="flex gap-1">
        <Button variant="outline" size="icon" aria-label="Previous page" disabled={page <= 1} onClick={() => onChange({ page: Math.min(page - 1, pages) <= 1 ? null : String(Math.min(page - 1, pages)) })}>
          <ChevronLeft aria-hidden />
        </Button>
        <Button variant="outline" size="icon" aria-label="Next page" disabled={page >= pages} onClick={() => onChange({ page: String(page + 1) })}>
          <ChevronRight aria-hidden />
        </Button>
      </div>
    </div>
  );
}
