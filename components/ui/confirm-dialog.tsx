'use client';
/**
 * A confirmation as a native modal `<dialog>` (focus trapped, Esc closes; docs/ui.md §3.9.7, §6.5), for
 * every page that asks before acting. Initial
 * focus is on the button that keeps things as they are; with `typed`, the action is enabled only
 * once that exact text is typed under a label that says what to type.
 */
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { Button } from '@/components/ui/button';
import { Input, Label } from '@/components/ui/input';
import { Spinner } from '@/components/ui/spinner';

export function ConfirmDialog({
  open,
  title,
  confirm,
  keep,
  typed,
  typedLabel = 'Type the array name to confirm',
  tone = 'destructive',
  onConfirm,
  onClose,
  children,
}: {
  open: boolean;
  title: string;
  confirm: string;
  keep: string;
  typed?: string;
  typedLabel?: string;
  /** `default` for a confirmation that destroys nothing (saving settings). */
  tone?: 'destructive' | 'default';
  /** Resolves when done; the text of a refusal is shown in the dialog's caller. */
  onConfirm: (typedText: string) => Promise<void>;
  onClose: () => void;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [text, setText] = useState('');
  const [working, setWorking] = useState(false);
  const titleId = useId();
  const inputId = useId();
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);
  const ready = typed === undefined || text === typed;
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onClose={() => {
        setText('');
        onClose();
      }}
      className="m-auto w-[30rem] max-w-[calc(100vw-2rem)] rounded-lg border bg-card p-0 text-card-foreground shadow-xl backdrop:bg-black/40"
    >
      {open ? (
        <form
          method="dialog"
          className="space-y-4 p-5 text-sm"
          onSubmit={async (event) => {
            event.preventDefault();
            if (!ready) return;
            setWorking(true);
            try {
              await onConfirm(text);
            } finally {
              setWorking(false);
              setText('');
              onClose();
            }
          }}
        >
          <h2 id={titleId} className="text-base font-semibold">
            {title}
          </h2>
          <div className="space-y-2">{children}</div>
          {typed !== undefined ? (
            <div className="space-y-1">
              <Label htmlFor={inputId}>{typedLabel}</Label>
              <p className="text-xs text-muted-foreground">
                Type <span className="font-mono font-medium">{typed}</span>
              </p>
              <Input id={inputId} value={text} onChange={(event) => setText(event.target.value)} autoComplete="off" spellCheck={false} />
            </div>
          ) : null}
          <div className="flex justify-end gap-2">
            <Button variant="outline" size="sm" autoFocus onClick={() => ref.current?.close()}>
              {keep}
            </Button>
            <Button type="submit" variant={tone} size="sm" disabled={!ready || working}>
              {working ? <Spinner /> : null}
              {confirm}
            </Button>
          </div>
        </form>
      ) : null}
    </dialog>
  );
}
