'use client';
import { ArrowDown, ArrowUp, ArrowUpDown } from 'lucide-react';
import type { ReactNode } from 'react';
import { TableHead } from '@/components/ui/table';
import { cn } from '@/components/ui/cn';
import type { SortState } from './sorting';

/** A sortable column header: a button inside the `th`, with `aria-sort` (docs/ui.md §6.5). */
export function SortHead<K extends string>({
  sortKey,
  sort,
  onSort,
  children,
  align = 'left',
  className,
}: {
  sortKey: K;
  sort: SortState<K>;
  onSort: (next: SortState<K>) => void;
  children: ReactNode;
  align?: 'left' | 'right';
  className?: string;
}) {
  const active = sort.key === sortKey;
  const Icon = !active ? ArrowUpDown : sort.direction === 'asc' ? ArrowUp : ArrowDown;
  return (
    <TableHead aria-sort={active ? (sort.direction === 'asc' ? 'ascending' : 'descending') : undefined} className={cn(align === 'right' && 'text-right', className)}>
      <button
        type="button"
        onClick={() => onSort({ key: sortKey, direction: active && sort.direction === 'asc' ? 'desc' : 'asc' })}
        className={cn('-mx-1 inline-flex items-center gap-1 rounded px-1 py-0.5 hover:text-foreground', active && 'text-foreground', align === 'right' && 'flex-row-reverse')}
      >
        {children}
        <Icon aria-hidden className={cn('size-3.5', !active && 'opacity-40')} />
      </button>
    </TableHead>
  );
}
