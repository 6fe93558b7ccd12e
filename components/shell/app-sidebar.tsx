'use client';
import { useQuery } from '@tanstack/react-query';
import { Activity, ArrowRightLeft, Database, LayoutDashboard, LogOut, PanelLeft, Server, Settings, type LucideIcon } from 'lucide-react';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { useCallback, useEffect, useState } from 'react';
import type { Overview, SessionUser } from '@/components/api-types';
import { cn } from '@/components/ui/cn';
import { useTRPC } from '@/components/trpc';
import { RoleBadge } from './role-badge';
import { SIDEBAR_COOKIE } from './sidebar-cookie';
import { SignOutButton } from './sign-out-button';

interface NavItem {
  label: string;
  href: string;
  icon: LucideIcon;
  badge?: (overview: Overview) => { count: number; tone: 'warning' | 'danger'; description: string } | null;
}

const groups: { label: string | null; items: NavItem[] }[] = [
  { label: null, items: [{ label: 'Overview', href: '/', icon: LayoutDashboard }] },
  {
    label: 'Inventory',
    items: [
      {
        label: 'Arrays',
        href: '/arrays',
        icon: Database,
        badge: (overview) => {
          const count = overview.arrays.filter((array) => array.state !== 'online').length;
          return count ? { count, tone: 'warning', description: `${count} not online` } : null;
        },
      },
      {
        label: 'Hosts',
        href: '/hosts',
        icon: Server,
        badge: (overview) => {
          const count = overview.hosts.disconnected + overview.hosts.fenced;
          return count
            ? { count, tone: overview.hosts.fenced ? 'danger' : 'warning', description: `${overview.hosts.disconnected} disconnected, ${overview.hosts.fenced} fenced` }
            : null;
        },
      },
    ],
  },
  {
    label: 'Operations',
    items: [
      { label: 'Migrations', href: '/migrations', icon: ArrowRightLeft },
      { label: 'Evacuations', href: '/evacuations', icon: LogOut },
    ],
  },
  { label: 'Activity', items: [{ label: 'Events', href: '/events', icon: Activity }] },
  { label: 'Administration', items: [{ label: 'Settings', href: '/settings', icon: Settings }] },
];

function isActive(pathname: string, href: string) {
  return href === '/' ? pathname === '/' : pathname === href || pathname.startsWith(`${href}/`);
}

/**
 * The sidebar (docs/ui.md §2.2): grouped navigation with attention badges from `overview.get`
 * (kept fresh by the live layer), and the signed-in user with Sign out. It shows icons only
 * below 1280 px, or everywhere when the user collapses it (Ctrl/⌘ B; kept in a cookie).
 */
export function AppSidebar({ user, defaultCollapsed }: { user: SessionUser; defaultCollapsed: boolean }) {
  const trpc = useTRPC();
  const pathname = usePathname();
  const { data: overview } = useQuery(trpc.overview.get.queryOptions());
  const [collapsed, setCollapsed] = useState(defaultCollapsed);

  const toggle = useCallback(() => {
    setCollapsed((value) => {
      const next = !value;
      document.cookie = `${SIDEBAR_COOKIE}=${next ? 'collapsed' : 'expanded'}; path=/; max-age=${7 * 24 * 3600}; samesite=lax`;
      return next;
    });
  }, []);

  useEffect(() => {
    function onKeyDown(event: KeyboardEvent) {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'b') {
        event.preventDefault();
        toggle();
      }
    }
    window.addEventListener('keydown', onKeyDown);
    return () => window.removeEventListener('keydown', onKeyDown);
  }, [toggle]);

  // Labels hide below 1280 px (`xl`), or always when collapsed.
  const label = collapsed ? 'sr-only' : 'sr-only xl:not-sr-only';
  const onlyWide = collapsed ? 'hidden' : 'hidden xl:flex';

  return (
    <aside
      data-collapsed={collapsed || undefined}
      className={cn(
        'sticky top-0 flex h-dvh shrink-0 flex-col border-r border-sidebar-border bg-sidebar text-sidebar-foreground',
        collapsed ? 'w-14' : 'w-14 xl:w-60',
      )}
    >
      <div className="flex h-12 items-center gap-2 border-b border-sidebar-border px-3">
        <Link href="/" aria-label="Tern overview" className="flex min-w-0 items-center gap-2 rounded-md">
          <span aria-hidden className="flex size-8 shrink-0 items-center justify-center rounded-md bg-foreground text-sm font-bold text-background">
            T
          </span>
          <span className={cn('truncate text-sm font-semibold', collapsed ? 'hidden' : 'hidden xl:inline')}>Tern</span>
        </Link>
      </div>

      <nav aria-label="Main" className="flex-1 overflow-y-auto px-2 py-3">
        {groups.map((group, index) => (
          <div key={group.label ?? index} className="mb-3">
            {group.label ? (
              <p className={cn('px-2 pb-1 text-[11px] font-medium tracking-wide text-muted-foreground uppercase', onlyWide)} aria-hidden>
                {group.label}
              </p>
            ) : null}
            <ul className="space-y-0.5">
              {group.items.map((item) => {
                const active = isActive(pathname, item.href);
                const badge = overview && item.badge ? item.badge(overview) : null;
                const badgeId = `nav-badge-${item.label.toLowerCase()}`;
                const Icon = item.icon;
                return (
                  <li key={item.href}>
                    <Link
                      href={item.href}
                      aria-current={active ? 'page' : undefined}
                      aria-describedby={badge ? badgeId : undefined}
                      title={badge ? `${item.label} · ${badge.description}` : item.label}
                      className={cn(
                        'relative flex h-8 items-center gap-2.5 rounded-md px-2 text-sm text-sidebar-foreground/85 transition-colors hover:bg-sidebar-accent hover:text-sidebar-foreground',
                        active && 'bg-sidebar-accent font-medium text-sidebar-foreground',
                      )}
                    >
                      <Icon aria-hidden className="size-4 shrink-0" />
                      <span className={label}>{item.label}</span>
                      {badge ? (
                        <>
                          <span
                            aria-hidden
                            className={cn(
                              'ml-auto min-w-5 rounded-full px-1.5 text-center text-[11px] leading-5 font-semibold tabular-nums',
                              badge.tone === 'danger' ? 'bg-red-600 text-white dark:bg-red-500' : 'bg-amber-500 text-black dark:bg-amber-400',
                              collapsed ? 'absolute -top-1 -right-1 scale-90' : 'max-xl:absolute max-xl:-top-1 max-xl:-right-1 max-xl:scale-90',
                            )}
                          >
                            {badge.count}
                          </span>
                          <span id={badgeId} className="sr-only">
                            {badge.description}
                          </span>
                        </>
                      ) : null}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </div>
        ))}
      </nav>

      <div className="border-t border-sidebar-border p-2">
        <div className={cn('items-center gap-2 px-2 py-1.5', onlyWide)}>
          <span className="min-w-0 truncate text-sm font-medium" title={user.username}>
            {user.username}
          </span>
          <RoleBadge role={user.role} />
        </div>
        <SignOutButton compact={collapsed ? 'always' : 'narrow'} />
        <button
          type="button"
          onClick={toggle}
          aria-label={collapsed ? 'Expand sidebar' : 'Collapse sidebar'}
          aria-pressed={collapsed}
          title={`${collapsed ? 'Expand' : 'Collapse'} sidebar (Ctrl B)`}
          className="mt-1 hidden h-8 w-full items-center gap-2.5 rounded-md px-2 text-sm text-muted-foreground hover:bg-sidebar-accent hover:text-sidebar-foreground xl:flex"
        >
          <PanelLeft aria-hidden className="size-4 shrink-0" />
          <span className={collapsed ? 'sr-only' : ''}>{collapsed ? 'Expand' : 'Collapse'}</span>
        </button>
      </div>
    </aside>
  );
}
