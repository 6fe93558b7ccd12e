import { cookies } from 'next/headers';
import type { ReactNode } from 'react';
import { LiveUpdates } from '@/components/live/live-updates';
import { ConnectionBanner } from '@/components/shell/connection-banner';
import { AppSidebar } from '@/components/shell/app-sidebar';
import { RedirectToSignIn } from '@/components/shell/redirect-to-sign-in';
import { SIDEBAR_COOKIE } from '@/components/shell/sidebar-cookie';
import { SiteHeader } from '@/components/shell/site-header';
import { currentUser } from '@/server/auth/current-user';

/**
 * The console shell (docs/ui.md §2.1), rendered once for every signed-in page: sidebar, header,
 * the connection banner slot and MAIN. Without a session the browser is sent to sign-in;
 * that happens client-side so `next` carries the full path and query of the page asked for.
 */
export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  if (!user) return <RedirectToSignIn />;
  const collapsed = (await cookies()).get(SIDEBAR_COOKIE)?.value === 'collapsed';

  return (
    <LiveUpdates>
      <a
        href="#main"
        className="sr-only z-50 rounded-md bg-background px-3 py-2 text-sm font-medium shadow focus:not-sr-only focus:fixed focus:top-2 focus:left-2"
      >
        Skip to content
      </a>
      <div className="flex min-h-dvh">
        <AppSidebar user={user} defaultCollapsed={collapsed} />
        <div className="flex min-w-0 flex-1 flex-col">
          <SiteHeader user={user} />
          <ConnectionBanner />
          <main id="main" tabIndex={-1} className="flex-1 px-4 py-5 focus:outline-none sm:px-6 2xl:px-8">
            <div className="mx-auto w-full max-w-[1600px]">{children}</div>
          </main>
        </div>
      </div>
    </LiveUpdates>
  );
}
