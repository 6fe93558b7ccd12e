'use client';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect } from 'react';
import { signInPath } from '@/components/live/sign-in-path';

/** Sends an anonymous visitor to sign-in with `next` set to the page they asked for. */
export function RedirectToSignIn() {
  const router = useRouter();
  useEffect(() => {
    router.replace(signInPath());
  }, [router]);
  return (
    <main className="flex min-h-dvh items-center justify-center p-6 text-sm text-muted-foreground">
      <p>
        Your session has ended. <Link href="/sign-in" className="font-medium text-foreground underline underline-offset-4">Sign in</Link> to continue.
      </p>
    </main>
  );
}
