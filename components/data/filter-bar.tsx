'use client';
import { Search, X } from 'lucide-react';
import { useId, type ReactNode } from 'react';
import { Button } from '@/components/ui/button';
import { Input } from '@/components/ui/input';
import { Select } from '@/components/ui/select';

/** The toolbar above a table: a text filter, facets, and Clear when anything is set. */
export function FilterBar({ children, onClear, canClear, summary }: { children: ReactNode; onClear: () => void; canClear: boolean; summary?: ReactNode }) {
  return (
    <div role="search" className="flex flex-wrap items-center gap-2">
      {children}
      {canClear ? (
        <Button variant="ghost" size="sm" onClick={onClear}>
          <X aria-hidden />
          Clear filters
        </Button>
      ) : null}
      {summary ? <div className="ml-auto text-xs text-muted-foreground tabular-nums">{summary}</div> : null}
    </div>
  );
}

export function TextFilter({ label, value, onChange, placeholder }: { label: string; value: string; onChange: (value: string) => void; placeholder?: string }) {
  const id = useId();
  return (
    <div className="relative">
      <label htmlFor={id} className="sr-only">
        {label}
      </label>
      <Search aria-hidden className="pointer-events-none absolute top-1/2 left-2.5 size-4 -translate-y-1/2 text-muted-foreground" />
      <Input id={id} type="search" value={value} onChange={(event) => onChange(event.target.value)} placeholder={placeholder ?? label} className="h-8 w-64 pl-8 text-[13px]" />
    </div>
  );
}

export interface FacetOption {
  value: string;
  label: string;
  count?: number;
}

/** A facet with per-value counts and an "All" entry (docs/ui.md §3.0.2). */
export function FacetSelect({ label, value, options, onChange }: { label: string; value: string; options: FacetOption[]; onChange: (value: string) => void }) {
  const id = useId();
  return (
    <div className="flex items-center gap-1.5">
      <label htmlFor={id} className="text-xs text-muted-foreground">
        {label}
      </label>
      <Select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        <option value="">All</option>
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.count === undefined ? option.label : `${option.label} (${option.count})`}
          </option>
        ))}
      </Select>
    </div>
  );
}
