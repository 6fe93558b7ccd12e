'use client';
import { Check, Copy } from 'lucide-react';
import { useState } from 'react';

/** A shell command in monospace with a copy button. */
export function CommandBlock({ command, label }: { command: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="flex max-w-full items-start gap-2 rounded-md border bg-muted/60 px-3 py-2 text-left">
      <code className="min-w-0 flex-1 font-mono text-xs break-all whitespace-pre-wrap">{command}</code>
      <button
        type="button"
        aria-label={`Copy ${label}`}
        onClick={async () => {
          try {
            await navigator.clipboard.writeText(command);
            setCopied(true);
            setTimeout(() => setCopied(false), 1500);
          } catch {
            // Clipboard refused (insecure origin): the command stays selectable.
          }
        }}
        className="inline-flex size-6 shrink-0 items-center justify-center rounded text-muted-foreground hover:bg-accent hover:text-foreground"
      >
        {copied ? <Check aria-hidden className="size-3.5" /> : <Copy aria-hidden className="size-3.5" />}
      </button>
      <span aria-live="polite" className="sr-only">
        {copied ? 'Copied' : ''}
      </span>
    </div>
  );
}
