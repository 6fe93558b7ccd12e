/**
 * The phase bar (docs/ui.md §3.8): six segments, one per phase, so the reader sees where a migration
 * is before how far. Done segments are filled; the active one is filled to its own monotone
 * fraction, or striped when it has none; paused is amber, failed red with ✕ and later segments
 * hatched, cancelled and rolled back neutral with ↩. Used on the list, the overview and the detail.
 */
import { Check, Pause, Undo2, X } from 'lucide-react';
import { cn } from '@/components/ui/cn';
import { phaseOf, type PhaseInput, type PhaseTone } from './phase';

const STRIPES = 'repeating-linear-gradient(135deg, currentColor 0 3px, transparent 3px 7px)';
const HATCH = 'repeating-linear-gradient(45deg, var(--color-gap) 0 1px, transparent 1px 5px)';

const ACTIVE_COLOUR: Record<PhaseTone, string> = {
  progress: 'text-blue-600 dark:text-blue-400',
  waiting: 'text-violet-600 dark:text-violet-400',
  paused: 'text-amber-500 dark:text-amber-400',
  failed: 'text-red-600 dark:text-red-400',
  ended: 'text-zinc-400 dark:text-zinc-500',
  done: 'text-emerald-600 dark:text-emerald-500',
};

export function PhaseBar({
  migration,
  showLabel = true,
  size = 'table',
  className,
}: {
  migration: PhaseInput;
  showLabel?: boolean;
  size?: 'table' | 'header';
  className?: string;
}) {
  const view = phaseOf(migration);
  const height = size === 'header' ? 'h-2.5' : 'h-2';
  return (
    <div className={cn('flex min-w-0 flex-col gap-1', className)}>
      <div
        role="img"
        aria-label={view.ariaLabel}
        data-testid="phase-bar"
        data-phase={view.active}
        data-tone={view.tone}
        className={cn('flex gap-0.5', size === 'header' ? 'w-full' : 'w-40')}
        title={view.segments.map((s, i) => `${i + 1}. ${s.name}: ${s.status}`).join('\n')}
      >
        {view.segments.map((segment) => {
          const activeColour = ACTIVE_COLOUR[view.tone];
          return (
            <span
              key={segment.name}
              className={cn(
                'relative flex-1 overflow-hidden rounded-[2px] bg-muted ring-1 ring-inset ring-foreground/10',
                height,
                segment.status === 'done' && (view.tone === 'ended' ? 'bg-zinc-400 dark:bg-zinc-600' : 'bg-emerald-600 dark:bg-emerald-500'),
                segment.status === 'active' && activeColour,
              )}
              style={segment.status === 'hatched' ? { backgroundImage: HATCH } : undefined}
            >
              {segment.status === 'active' ? (
                view.fraction !== null && view.tone !== 'failed' ? (
                  <span className="absolute inset-y-0 left-0 bg-current" style={{ width: `${view.fraction * 100}%` }} />
                ) : view.tone === 'failed' || view.tone === 'paused' || view.tone === 'ended' ? (
                  <span className="absolute inset-0 bg-current" />
                ) : (
                  <span className="absolute inset-0 opacity-70" style={{ backgroundImage: STRIPES }} />
                )
              ) : null}
            </span>
          );
        })}
      </div>
      {showLabel ? (
        <span className="inline-flex min-w-0 items-center gap-1 text-xs text-muted-foreground">
          <ToneGlyph tone={view.tone} />
          <span className="truncate">{view.label}</span>
        </span>
      ) : null}
    </div>
  );
}

function ToneGlyph({ tone }: { tone: PhaseTone }) {
  if (tone === 'paused') return <Pause aria-hidden className="size-3 shrink-0 text-amber-600 dark:text-amber-400" />;
  if (tone === 'failed') return <X aria-hidden className="size-3 shrink-0 text-red-600 dark:text-red-400" />;
  if (tone === 'ended') return <Undo2 aria-hidden className="size-3 shrink-0" />;
  if (tone === 'done') return <Check aria-hidden className="size-3 shrink-0 text-emerald-600 dark:text-emerald-500" />;
  return null;
}
