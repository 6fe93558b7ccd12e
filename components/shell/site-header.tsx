import { Suspense } from 'react';
import type { SessionUser } from '@/components/api-types';
import { LiveStatusPill } from '@/components/live/live-status-pill';
import { Breadcrumbs } from './breadcrumbs';
import { ThemeToggle } from './theme-toggle';
import { UserMenu } from './user-menu';

/** The header (docs/ui.md §2.3): breadcrumb, live status, theme and the user menu. */
export function SiteHeader({ user }: { user: SessionUser }) {
  return (
    <header className="sticky top-0 z-30 flex h-12 shrink-0 items-center gap-3 border-b bg-background/95 px-4 backdrop-blur supports-[backdrop-filter]:bg-background/80 sm:px-6 2xl:px-8">
      <Suspense fallback={<div className="min-w-0 flex-1" />}>
        <Breadcrumbs />
      </Suspense>
      <div className="ml-auto flex items-center gap-2">
        <LiveStatusPill />
        <ThemeToggle />
        <UserMenu user={user} />
      </div>
    </header>
  );
}
