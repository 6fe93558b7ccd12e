import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { SignInForm } from '@/components/auth/sign-in-form';
import { safeNextPath } from '@/components/live/sign-in-path';
import { getDb } from '@/db/client';
import { currentUser } from '@/server/auth/current-user';
import { noSignInYet } from '@/server/auth/sessions';
import packageJson from '@/package.json';

export const metadata: Metadata = { title: 'Sign in' };

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ next?: string | string[] }> }) {
  const { next } = await searchParams;
  const nextPath = safeNextPath(typeof next === 'string' ? next : null);
  if (await currentUser()) redirect(nextPath);
  const firstStart = await noSignInYet(await getDb());

  return (
    <main className="flex min-h-dvh items-center justify-center bg-muted/40 px-4 py-10">
      <div className="w-full max-w-sm space-y-6">
        <div className="space-y-1 text-center">
          <h1 className="text-2xl font-semibold tracking-tight">Tern</h1>
          <p className="text-sm text-muted-foreground">Move live storage off disk arrays, with no application downtime.</p>
        </div>
        <SignInForm nextPath={nextPath} firstStart={firstStart} />
        <p className="text-center text-xs text-muted-foreground">Tern console {packageJson.version}</p>
      </div>
    </main>
  );
}
