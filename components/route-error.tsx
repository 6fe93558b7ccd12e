'use client';
import { CircleX } from 'lucide-react';
import { usePathname } from 'next/navigation';
import { useState } from 'react';
import { Button } from '@/components/ui/button';

/** What a crashed page shows: the message, Try again, and details to copy into a report. */
export function RouteError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  const pathname = usePathname();
  const [at] = useState(() => new Date().toISOString());
  const [copied, setCopied] = useState(false);
  const details = [`route: ${pathname}`, `time: ${at}`, `digest: ${error.digest ?? 'none'}`, `message: ${error.message}`].join('\n');
  return (
    <div role="alert" className="mx-auto flex max-w-xl flex-col items-center gap-3 py-16 text-center">
      <CircleX aria-hidden className="size-8 text-red-600 dark:text-red-400" />
      <h1 className="text-xl font-semibold tracking-tight">This page stopped working</h1>
      <p className="text-sm text-muted-foreground">
        Something went wrong while showing it. Nothing was changed on the fleet. Try again; if it keeps failing, copy the details for a bug report.
      </p>
      <pre className="w-full overflow-x-auto rounded-md border bg-muted/50 p-3 text-left font-mono text-xs">{details}</pre>
      <div className="flex gap-2">
        <Button size="sm" onClick={reset}>
          Try again
        </Button>
        <Button
          size="sm"
          variant="outline"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(details);
              setCopied(true);
            } catch {
              // Clipboard refused: the details stay selectable above.
            }
          }}
        >
          {copied ? 'Copied' : 'Copy details'}
        </Button>
      </div>
    </div>
  );
}
