'use client';
import { RouteError } from '@/components/route-error';

/** A page that crashed keeps the shell; the user can try again (docs/ui.md §3.15). */
export default function ConsoleError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return <RouteError error={error} reset={reset} />;
}
