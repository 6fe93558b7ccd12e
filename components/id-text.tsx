'use client';
import { Check, Copy } from 'lucide-react';
import { useEffect, useState } from 'react';
import { cn } from '@/components/ui/cn';
import { middleTruncate } from './format';

/**
 * An identifier (WWN, id) in monospace, middle-truncated, with the full value in the tooltip
 * and a copy button that appears on hover and focus and announces "Copied" (docs/ui.md §5.8).
 */
export function IdText({ value, label = 'identifier', className }: { value: string; label?: string; className?: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timeout = setTimeout(() => setCopied(false), 1500);
    return () => clearTimeout(timeout);
  }, [copied]);

  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      // Clipboard access can be refused (insecure origin); the text stays selectable.
    }
  }

  return (
    <span className={cn('group/id inline-flex items-center gap-1', className)}>
      <span className="font-mono text-xs select-all" title={value} data-value={value}>
        {middleTruncate(value)}
      </span>
      <button
        type="button"
        onClick={copy}
        aria-label={`Copy ${label} ${value}`}
        className="inline-flex size-6 items-center justify-center rounded text-muted-foreground opacity-0 transition-opacity group-hover/id:opacity-100 hover:bg-accent hover:text-foreground focus-visible:opacity-100"
      >
        {copied ? <Check aria-hidden className="size-3.5" /> : <Copy aria-hidden className="size-3.5" />}
      </button>
      <span aria-live="polite" className="sr-only">
        {copied ? 'Copied' : ''}
      </span>
    </span>
  );
}
