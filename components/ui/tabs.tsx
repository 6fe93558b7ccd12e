'use client';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { useRef, type KeyboardEvent, type ReactNode } from 'react';
import { cn } from './cn';

export interface TabItem<T extends string> {
  value: T;
  label: ReactNode;
}

/**
 * Tabs whose value lives in the URL (`?tab=luns`, docs/ui.md §3.0.1), so a tab can be linked and
 * survives a reload. Each tab is a link; arrow keys move between tabs and Enter opens one
 * (the ARIA tabs pattern with manual activation). The first tab is the default and has no
 * parameter.
 */
export function UrlTabList<T extends string>({ tabs, value, label, idPrefix }: { tabs: TabItem<T>[]; value: T; label: string; idPrefix: string }) {
  const pathname = usePathname();
  const listRef = useRef<HTMLDivElement>(null);

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    const items = Array.from(listRef.current?.querySelectorAll<HTMLAnchorElement>('[role="tab"]') ?? []);
    const index = items.findIndex((item) => item === document.activeElement);
    if (index < 0) return;
    const next =
      event.key === 'ArrowRight' ? (index + 1) % items.length : event.key === 'ArrowLeft' ? (index - 1 + items.length) % items.length : event.key === 'Home' ? 0 : event.key === 'End' ? items.length - 1 : -1;
    if (next < 0) return;
    event.preventDefault();
    items[next]?.focus();
  }

  return (
    <div ref={listRef} role="tablist" aria-label={label} onKeyDown={onKeyDown} className="flex gap-1 border-b">
      {tabs.map((tab, index) => {
        const selected = tab.value === value;
        return (
          <Link
            key={tab.value}
            id={`${idPrefix}-tab-${tab.value}`}
            role="tab"
            aria-selected={selected}
            aria-controls={`${idPrefix}-panel`}
            tabIndex={selected ? 0 : -1}
            href={index === 0 ? pathname : `${pathname}?tab=${tab.value}`}
            replace
            scroll={false}
            className={cn(
              '-mb-px inline-flex h-9 items-center gap-1.5 border-b-2 px-3 text-sm font-medium text-muted-foreground transition-colors hover:text-foreground',
              selected ? 'border-foreground text-foreground' : 'border-transparent',
            )}
          >
            {tab.label}
          </Link>
        );
      })}
    </div>
  );
}

export function TabPanel({ idPrefix, value, children, className }: { idPrefix: string; value: string; children: ReactNode; className?: string }) {
  return (
    <div id={`${idPrefix}-panel`} role="tabpanel" aria-labelledby={`${idPrefix}-tab-${value}`} tabIndex={0} className={cn('pt-4 focus-visible:outline-offset-4', className)}>
      {children}
    </div>
  );
}
