'use client';
import { ChevronDown, LogOut } from 'lucide-react';
import { useEffect, useId, useRef, useState } from 'react';
import type { SessionUser } from '@/components/api-types';
import { Spinner } from '@/components/ui/spinner';
import { roleLabel } from './role-badge';
import { useSignOut } from './sign-out-button';

/** Name and role, and Sign out (docs/ui.md §2.3). Closes on Escape and on a click outside. */
export function UserMenu({ user }: { user: SessionUser }) {
  const [open, setOpen] = useState(false);
  const menuId = useId();
  const root = useRef<HTMLDivElement>(null);
  const trigger = useRef<HTMLButtonElement>(null);
  const signOut = useSignOut();

  useEffect(() => {
    if (!open) return;
    function onPointerDown(event: PointerEvent) {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    }
    function onKeyDown(event: KeyboardEvent) {
      if (event.key === 'Escape') {
        setOpen(false);
        trigger.current?.focus();
      }
    }
    document.addEventListener('pointerdown', onPointerDown);
    document.addEventListener('keydown', onKeyDown);
    return () => {
      document.removeEventListener('pointerdown', onPointerDown);
      document.removeEventListener('keydown', onKeyDown);
    };
  }, [open]);

  return (
    <div ref={root} className="relative">
      <button
        ref={trigger}
        type="button"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        aria-label={`Account: ${user.username}`}
        onClick={() => setOpen((value) => !value)}
        className="flex h-8 items-center gap-1.5 rounded-md pr-1.5 pl-1 hover:bg-accent"
      >
        <span aria-hidden className="flex size-6 items-center justify-center rounded-full bg-muted text-xs font-semibold uppercase">
          {user.username.slice(0, 1)}
        </span>
        <span className="hidden text-sm md:inline">{user.username}</span>
        <ChevronDown aria-hidden className="size-3.5 text-muted-foreground" />
      </button>
      {open ? (
        <div id={menuId} className="absolute top-full right-0 z-40 mt-1 w-56 rounded-md border bg-card p-1 text-sm shadow-lg">
          <div className="px-2 py-1.5">
            <p className="font-medium">{user.username}</p>
            <p className="text-xs text-muted-foreground">{roleLabel(user.role)}</p>
          </div>
          <div className="my-1 h-px bg-border" />
          <button
            type="button"
            autoFocus
            onClick={() => signOut.mutate()}
            disabled={signOut.isPending}
            className="flex h-8 w-full items-center gap-2 rounded px-2 text-left hover:bg-accent disabled:opacity-60"
          >
            {signOut.isPending ? <Spinner /> : <LogOut aria-hidden className="size-4" />}
            Sign out
          </button>
        </div>
      ) : null}
    </div>
  );
}
