'use client';
import { useMutation } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useSyncExternalStore, type FormEvent } from 'react';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { Input, Label } from '@/components/ui/input';
import { Spinner } from '@/components/ui/spinner';
import { useTRPC } from '@/components/trpc';

/**
 * Username and password (docs/ui.md §3.1). The server sets the session cookie; on success the
 * browser goes to `nextPath`, which the page has already checked is a same-origin path.
 * Errors are the server's generic message, above the fields, in an alert.
 */
export function SignInForm({ nextPath, firstStart }: { nextPath: string; firstStart: boolean }) {
  const trpc = useTRPC();
  const router = useRouter();
  const signIn = useMutation(
    trpc.auth.signIn.mutationOptions({
      onSuccess: () => {
        router.replace(nextPath);
        router.refresh();
      },
    }),
  );
  const busy = signIn.isPending || signIn.isSuccess;
  // False in the server's HTML and until hydration: the button waits for the handler to exist.
  const hydrated = useSyncExternalStore(noSubscription, () => true, () => false);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    // Read from the form, not from state: what was typed (or autofilled) before the page
    // hydrated is in the fields, and must be what is sent.
    const fields = new FormData(event.currentTarget);
    signIn.mutate({ username: String(fields.get('username') ?? ''), password: String(fields.get('password') ?? '') });
  }

  const error = signIn.error ? errorMessage(signIn.error) : null;

  return (
    <Card className="p-6">
      {/* POST, so a submit before the page hydrates never puts the password in the URL. */}
      <form onSubmit={submit} method="post" className="space-y-4" noValidate>
        {error ? (
          <div role="alert" className="rounded-md border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-900 dark:bg-red-950/60 dark:text-red-200">
            {error}
          </div>
        ) : null}
        <div className="space-y-1.5">
          <Label htmlFor="username">Username</Label>
          <Input
            id="username"
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            autoFocus
            required
          />
        </div>
        <div className="space-y-1.5">
          <Label htmlFor="password">Password</Label>
          <Input id="password" name="password" type="password" autoComplete="current-password" required />
        </div>
        <Button type="submit" className="w-full" disabled={busy || !hydrated}>
          {busy ? <Spinner /> : null}
          Sign in
        </Button>
        {firstStart ? (
        <p className="text-xs leading-relaxed text-muted-foreground">
          First start: the initial password of the <span className="font-mono">admin</span> user was written to the console server&apos;s log, unless{' '}
          <span className="font-mono">TERN_ADMIN_PASSWORD</span> set it.
        </p>
        ) : null}
      </form>
    </Card>
  );
}

const noSubscription = () => () => {};

/** The server's message for refusals; a plain sentence for everything else. */
function errorMessage(error: { message: string; data?: { code?: string } | null }): string {
  const code = error.data?.code;
  if (code === 'UNAUTHORIZED') return error.message || 'Username or password is incorrect';
  if (code === 'TOO_MANY_REQUESTS') return error.message;
  if (code === 'BAD_REQUEST') return 'Enter your username and password.';
  return 'The console server did not answer. Check that it is running and try again.';
}
