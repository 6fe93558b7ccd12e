import { Skeleton } from '@/components/ui/skeleton';

/** Shown inside MAIN while a page's server part loads; the shell never flashes (docs/ui.md §2.1). */
export default function Loading() {
  return (
    <div role="status" aria-label="Loading" className="space-y-4">
      <Skeleton className="h-7 w-48" />
      <Skeleton className="h-4 w-80" />
      <Skeleton className="h-72 rounded-lg" />
    </div>
  );
}
