'use client';
import './globals.css';

/** When the shell itself fails (docs/ui.md §3.15): a plain page with Try again and the error digest. */
export default function GlobalError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <html lang="en">
      <body>
        <main className="mx-auto flex min-h-dvh max-w-xl flex-col items-center justify-center gap-3 p-6 text-center">
          <h1 className="text-xl font-semibold tracking-tight">The console stopped working</h1>
          <p className="text-sm text-muted-foreground">Nothing was changed on the fleet. Try again; if it keeps failing, reload the page or check the console server&apos;s log.</p>
          {error.digest ? <p className="font-mono text-xs text-muted-foreground">digest {error.digest}</p> : null}
          <button type="button" onClick={reset} className="mt-2 h-9 rounded-md bg-primary px-4 text-sm font-medium text-primary-foreground">
            Try again
          </button>
        </main>
      </body>
    </html>
  );
}
