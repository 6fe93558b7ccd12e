'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { LogOut } from 'lucide-react';
import { cn } from '@/components/ui/cn';
import { Spinner } from '@/components/ui/spinner';
import { goToSignIn } from '@/components/live/sign-in-path';
import { useTRPC } from '@/components/trpc';

/** Ends the session on the server, forgets cached data, and goes to sign-in. */
export function useSignOut() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return useMutation(
    trpc.auth.signOut.mutationOptions({
      // Even if the server call fails (session already gone), leave the console.
      onSettled: () => {
        queryClient.clear();
        goToSignIn(false);
      },
    }),
  );
}

/** The sidebar's Sign out; icon-only when the sidebar is narrow, always named "Sign out". */
export function SignOutButton({ compact }: { compact: 'always' | 'narrow' }) {
  const signOut = useSignOut();
  return (
    <button
      type="button"
      onClick={() => signOut.mutate()}
      disabled={signOut.isPending}
      title="Sign out"
      className="flex h-8 w-full items-center gap-2.5 rounded-md px-2 text-sm text-sidebar-foreground/85 hover:bg-sidebar-accent hover:text-sidebar-foreground disabled:opacity-60"
    >
      {signOut.isPending ? <Spinner className="shrink-0" /> : <LogOut aria-hidden className="size-4 shrink-0" />}
      <span className={cn(compact === 'always' ? 'sr-only' : 'sr-only xl:not-sr-only')}>Sign out</span>
    </button>
  );
}
