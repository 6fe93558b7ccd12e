import { SearchX } from 'lucide-react';
import Link from 'next/link';
import { buttonVariants } from '@/components/ui/button';

/** A 404 inside the shell (docs/ui.md §3.15): what was not found, and the way back to the list. */
export function NotFoundPanel({ title, message, listHref, listLabel }: { title: string; message: string; listHref?: string; listLabel?: string }) {
  return (
    <div className="mx-auto flex max-w-lg flex-col items-center gap-3 py-16 text-center">
      <SearchX aria-hidden className="size-8 text-muted-foreground" />
      <h1 className="text-xl font-semibold tracking-tight">{title}</h1>
      <p className="text-sm text-muted-foreground">{message}</p>
      <div className="mt-2 flex gap-2">
        {listHref ? (
          <Link href={listHref} className={buttonVariants({ variant: 'default', size: 'sm' })}>
            {listLabel}
          </Link>
        ) : null}
        <Link href="/" className={buttonVariants({ variant: listHref ? 'outline' : 'default', size: 'sm' })}>
          Go to the overview
        </Link>
      </div>
    </div>
  );
}
