'use client';
/**
 * Wizard step 1, Source (docs/ui.md §3.10): the arrays to empty. Several may be chosen; arrays that
 * cannot be evacuated stay listed, disabled, with the reason (P7).
 */
import Link from 'next/link';
import { useState } from 'react';
import { formatBytes, formatCount, formatTier } from '@/components/format';
import { StateBadge } from '@/components/state-badge';
import { Input, Label } from '@/components/ui/input';
import { cn } from '@/components/ui/cn';
import { sourceIneligibility, type WizardModel } from './wizard-model';

export function StepSource({ model }: { model: WizardModel }) {
  const { draft, update, arrays } = model;
  const [q, setQ] = useState('');
  const shown = arrays.filter((a) => !q || `${a.name} ${a.vendor} ${a.model}`.toLowerCase().includes(q.toLowerCase()));
  const toggle = (name: string, on: boolean) => {
    const sources = on ? [...draft.sources, name] : draft.sources.filter((s) => s !== name);
    // A new source can no longer be a target; hand-made placements are re-checked by the planner.
    update({ sources, targets: draft.targets === null ? null : draft.targets.filter((t) => !sources.includes(t)) });
  };
  return (
    <div className="space-y-3">
      <p className="text-sm text-muted-foreground">Choose the arrays to empty. Every volume plex on them moves to other arrays; nothing changes until you confirm.</p>
      <div className="max-w-sm space-y-1">
        <Label htmlFor="source-search" className="sr-only">
          Search arrays
        </Label>
        <Input id="source-search" placeholder="Search arrays…" value={q} onChange={(event) => setQ(event.target.value)} className="h-8" />
      </div>
      <div id="source-list" tabIndex={-1} role="group" aria-label="Source arrays" className="divide-y rounded-md border">
        {shown.map((array) => {
          const why = sourceIneligibility(array);
          const checked = draft.sources.includes(array.name);
          const reasonId = `source-${array.id}-reason`;
          return (
            <label
              key={array.id}
              data-testid={`source-${array.name}`}
              className={cn('flex flex-wrap items-center gap-x-4 gap-y-1 px-3 py-2.5 text-sm', why && !checked ? 'cursor-not-allowed text-muted-foreground' : 'cursor-pointer hover:bg-accent/40')}
            >
              <input
                type="checkbox"
                checked={checked}
                disabled={Boolean(why) && !checked}
                onChange={(event) => toggle(array.name, event.target.checked)}
                aria-describedby={why ? reasonId : undefined}
                aria-label={`Evacuate ${array.name}`}
              />
              <span className="w-20 font-medium text-foreground">{array.name}</span>
              <span className="w-56 truncate">
                {array.vendor} {array.model}
              </span>
              <span className="w-14 text-xs">{formatTier(array.tier)}</span>
              <StateBadge type="array" state={array.state} />
              {why ? (
                <span id={reasonId} className="text-xs">
                  {why}
                  {array.state === 'evacuating' ? (
                    <>
                      {' '}
                      <Link href="/evacuations" className="underline">
                        View
                      </Link>
                    </>
                  ) : null}
                </span>
              ) : (
                <span className="ml-auto flex gap-4 text-xs tabular-nums">
                  <span>{formatBytes(array.provisionedBytes)} used</span>
                  <span>{formatCount(array.lunCount, 'LUN')}</span>
                  <span>{formatCount(array.hostCount, 'host')}</span>
                </span>
              )}
            </label>
          );
        })}
        {shown.length === 0 ? <p className="px-3 py-6 text-center text-sm text-muted-foreground">No arrays match “{q}”.</p> : null}
      </div>
      {draft.sources.length > 1 ? <p className="text-xs text-muted-foreground">With several sources, none of them is a target for another.</p> : null}
    </div>
  );
}
