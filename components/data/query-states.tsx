'use client';
import { useState, type ReactNode } from 'react';
import type { LucideIcon } from 'lucide-react';
import { Alert } from '@/components/ui/alert';
import { Button } from '@/components/ui/button';
import { cn } from '@/components/ui/cn';
import { Skeleton } from '@/components/ui/skeleton';

/** The parts of a tRPC client error the UI shows. */
export interface ShownError {
  message: string;
  data?: { code?: string; httpStatus?: number; path?: string } | null;
}

export function isNotFound(error: ShownError | null | undefined): boolean {
  return error?.data?.code === 'NOT_FOUND';
}

/**
 * A failed load (docs/ui.md §3.0.2): the message, Retry, and a Details disclosure with the error
 * code; the page shell and toolbar stay.
 */
export function QueryError({ error, onRetry, what, className }: { error: ShownError; onRetry: () => unknown; what: string; className?: string }) {
  const [retrying, setRetrying] = useState(false);
  return (
    <Alert
      tone="danger"
      role="alert"
      className={className}
      title={`Could not load ${what}`}
      actions={
        <Button
          size="sm"
          variant="outline"
          disabled={retrying}
          onClick={async () => {
            setRetrying(true);
            try {
              await onRetry();
            } finally {
              setRetrying(false);
            }
          }}
        >
          Retry
        </Button>
      }
    >
      <p>{error.message}</p>
      <details className="mt-1 text-xs opacity-80">
        <summary className="cursor-pointer">Details</summary>
        <dl className="mt-1 grid grid-cols-[auto_1fr] gap-x-3 font-mono">
          <dt>code</dt>
          <dd>{error.data?.code ?? 'network'}</dd>
          {error.data?.httpStatus ? (
            <>
              <dt>status</dt>
              <dd>{error.data.httpStatus}</dd>
            </>
          ) : null}
          {error.data?.path ? (
            <>
              <dt>procedure</dt>
              <dd>{error.data.path}</dd>
            </>
          ) : null}
          <dt>time</dt>
          <dd>{new Date().toISOString()}</dd>
        </dl>
      </details>
    </Alert>
  );
}

/** "No hosts yet" with what creates one; distinct from the filtered-empty state. */
export function EmptyState({ icon: Icon, title, children, actions, className }: { icon?: LucideIcon; title: string; children?: ReactNode; actions?: ReactNode; className?: string }) {
  return (
    <div className={cn('flex flex-col items-center gap-2 rounded-lg border border-dashed px-6 py-10 text-center', className)}>
      {Icon ? <Icon aria-hidden className="size-6 text-muted-foreground" /> : null}
      <p className="text-sm font-medium">{title}</p>
      {children ? <div className="max-w-prose text-sm text-muted-foreground">{children}</div> : null}
      {actions ? <div className="mt-2 flex flex-wrap justify-center gap-2">{actions}</div> : null}
    </div>
  );
}

/** "No hosts match these filters [Clear filters]". */
export function FilteredEmpty({ what, onClear }: { what: string; onClear: () => void }) {
  return (
    <div className="flex flex-col items-center gap-2 px-6 py-8 text-center text-sm">
      <p>No {what} match these filters.</p>
      <Button size="sm" variant="outline" onClick={onClear}>
        Clear filters
      </Button>
    </div>
  );
}

/** Skeleton rows with the table's real column count, so nothing shifts when data arrives. */
export function TableSkeleton({ columns, rows = 5, label }: { columns: number; rows?: number; label: string }) {
  return (
    <div role="status" aria-label={label} className="divide-y">
      {Array.from({ length: rows }, (_, row) => (
        <div key={row} className="flex h-10 items-center gap-4 px-3">
          {Array.from({ length: columns }, (_, column) => (
            <Skeleton key={column} className={cn('h-4', column === 0 ? 'w-40' : 'flex-1')} />
          ))}
        </div>
      ))}
    </div>
  );
}
