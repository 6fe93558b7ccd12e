'use client';
/**
 * A side sheet: a modal dialog docked to the right edge (docs/ui.md §3.7, §6.5). It is a real modal:
 * `role="dialog"` with `aria-modal`, labelled by its title, focus moves in when it opens (to
 * `initialFocus` or the first focusable element) and is trapped there, Esc and the close button
 * close it, and focus returns to whatever had it before. The page behind is inert while it is open.
 */
import { X } from 'lucide-react';
import { useEffect, useId, useRef, type ReactNode, type RefObject } from 'react';
import { createPortal } from 'react-dom';
import { cn } from './cn';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function Sheet({
  open,
  onClose,
  title,
  description,
  footer,
  initialFocus,
  className,
  children,
  ...props
}: {
  open: boolean;
  onClose: () => void;
  title: ReactNode;
  description?: ReactNode;
  footer?: ReactNode;
  initialFocus?: RefObject<HTMLElement | null>;
  className?: string;
  children: ReactNode;
  'data-testid'?: string;
}) {
  const root = useRef<HTMLDivElement>(null);
  const panel = useRef<HTMLDivElement>(null);
  const content = useRef<HTMLDivElement>(null);
  const titleId = useId();
  const descriptionId = useId();
  const onCloseRef = useRef(onClose);
  useEffect(() => {
    onCloseRef.current = onClose;
  });

  useEffect(() => {
    if (!open) return;
    const returnTo = document.activeElement as HTMLElement | null;
    // Everything else in the body goes inert (the sheet is portalled into the body).
    const inerted = [...document.body.children].filter((element) => element !== root.current && !element.hasAttribute('inert'));
    for (const element of inerted) element.setAttribute('inert', '');
    // The first control of the content (not the close button), else the dialog itself, so its title is read.
    const first = initialFocus?.current ?? content.current?.querySelector<HTMLElement>(FOCUSABLE) ?? panel.current;
    first?.focus();

    function onKeyDown(event: KeyboardEvent) {
      if (event.key === 'Escape') {
        event.preventDefault();
        onCloseRef.current();
        return;
      }
      if (event.key !== 'Tab' || !panel.current) return;
      const focusable = [...panel.current.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((element) => element.offsetParent !== null || element === document.activeElement);
      const head = focusable[0];
      const tail = focusable.at(-1);
      if (!head || !tail) {
        event.preventDefault();
        return;
      }
      const inside = panel.current.contains(document.activeElement);
      if (event.shiftKey && (document.activeElement === head || !inside)) {
        event.preventDefault();
        tail.focus();
      } else if (!event.shiftKey && (document.activeElement === tail || !inside)) {
        event.preventDefault();
        head.focus();
      }
    }
    document.addEventListener('keydown', onKeyDown);
    return () => {
      document.removeEventListener('keydown', onKeyDown);
      for (const element of inerted) element.removeAttribute('inert');
      if (returnTo?.isConnected) returnTo.focus();
    };
  }, [open, initialFocus]);

  if (!open || typeof document === 'undefined') return null;
  return createPortal(
    <div ref={root} className="fixed inset-0 z-50">
      <div aria-hidden className="absolute inset-0 bg-black/40" onClick={() => onCloseRef.current()} />
      <div
        ref={panel}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={description ? descriptionId : undefined}
        tabIndex={-1}
        data-testid={props['data-testid']}
        className={cn('absolute inset-y-0 right-0 flex w-full max-w-[560px] flex-col border-l bg-background shadow-xl focus:outline-none', className)}
      >
        <header className="flex items-start gap-3 border-b px-5 py-4">
          <div className="min-w-0 flex-1 space-y-1">
            <h2 id={titleId} className="text-base font-semibold">
              {title}
            </h2>
            {description ? (
              <div id={descriptionId} className="text-sm text-muted-foreground">
                {description}
              </div>
            ) : null}
          </div>
          <button
            type="button"
            onClick={() => onCloseRef.current()}
            aria-label="Close"
            className="inline-flex size-8 shrink-0 items-center justify-center rounded-md text-muted-foreground hover:bg-accent hover:text-foreground"
          >
            <X aria-hidden className="size-4" />
          </button>
        </header>
        <div ref={content} className="min-h-0 flex-1 overflow-y-auto px-5 py-4">
          {children}
        </div>
        {footer ? <footer className="border-t px-5 py-3">{footer}</footer> : null}
      </div>
    </div>,
    document.body,
  );
}
