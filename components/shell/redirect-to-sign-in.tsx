'use client';
import Link from 'next/link';
import { useEffect } from 'react';
import { goToSignIn } from '@/components/live/sign-in-path';

/**
 * Sends an anonymous visitor to sign-in with `next` set to the page they asked for. A full
 * page load rather than a client-side navigation, so nothing of the console stays in memory.
 */
export function RedirectToSignIn() {
  useEffect(() => {
    goToSignIn();
  }, []);
  return (
    <main className="flex min-h-dvh items-center justify-center p-6 text-sm text-muted-foreground">
      <p>
        Your session has ended. <Link href="/sign-in" className="font-medium text-foreground underline underline-offset-4">Sign in</Link> to continue.
      </p>
    </main>
  );
}
