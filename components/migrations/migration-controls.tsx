'use client';
/**
 * The migration's controls (docs/ui.md §3.9.7): always the same buttons in the same order, enabled by
 * the engine's `allowedActions`, each disabled one saying why. Pause and resume are one click
 * with an undo; throttle is a small popover; cancel, cut over and roll back ask once, stating the
 * consequence; commit asks for the volume name. The state badge changes only when the engine
 * reports the transition: nothing here flips it optimistically.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { formatBytes, formatLatency, formatRate } from '@/components/format';
import { stateLabel } from '@/components/state-badge';
import { Button } from '@/components/ui/button';
import { cn } from '@/components/ui/cn';
import { ConfirmDialog } from '@/components/ui/confirm-dialog';
import { Input, Label } from '@/components/ui/input';
import { useTRPC } from '@/components/trpc';
import type { MigrationDetail } from './types';

type Action = 'pause' | 'resume' | 'setThrottle' | 'cutover' | 'cancel' | 'rollback' | 'commit';
type Dialog = 'cancel' | 'rollback' | 'commit' | 'cutover' | null;

const MiB = 1024 * 1024;

/** Why an action cannot run in this state (P5): the state now and when it would be available. */
function reasonFor(action: Action, m: MigrationDetail, leftBytes: number | null): string {
  const now = `now ${stateLabel('migration', m.state)}`;
  switch (action) {
    case 'pause':
      return m.state === 'paused' ? 'Already paused' : `Pause is available while queued, preparing, copying or ready; ${now}`;
    case 'resume':
      return `Resume is available when paused; ${now}`;
    case 'setThrottle':
      return `Throttle is available until the switch; ${now}`;
    case 'cutover':
      return `Cut over now is available while the copy runs or is ready; ${now}${leftBytes !== null && m.state === 'paused' ? ` with ${formatBytes(leftBytes)} left` : ''}`;
    case 'cancel':
      return `Cancel is available before the switch; after it, roll back or commit instead; ${now}`;
    case 'rollback':
      return `Roll back is available until commit; ${now}`;
    case 'commit':
      return `Commit is available once the switch is verified; ${now}`;
  }
}

export function MigrationControls({ migration, canOperate, leftBytes }: { migration: MigrationDetail; canOperate: boolean; leftBytes: number | null }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [dialog, setDialog] = useState<Dialog>(null);
  const [throttleOpen, setThrottleOpen] = useState(false);
  const [notice, setNotice] = useState<{ tone: 'ok' | 'error'; text: string; undo?: Action } | null>(null);
  const reasonId = useId();
  const id = migration.id;
  const refresh = () => queryClient.invalidateQueries(trpc.migrations.get.queryFilter({ id }));

  const options = {
    onSuccess: () => void refresh(),
    onError: (error: { message: string }) => setNotice({ tone: 'error', text: error.message }),
  };
  const pause = useMutation(trpc.migrations.pause.mutationOptions(options));
  const resume = useMutation(trpc.migrations.resume.mutationOptions(options));
  const cancel = useMutation(trpc.migrations.cancel.mutationOptions(options));
  const cutover = useMutation(trpc.migrations.cutover.mutationOptions(options));
  const rollback = useMutation(trpc.migrations.rollback.mutationOptions(options));
  const commit = useMutation(trpc.migrations.commit.mutationOptions(options));
  const throttle = useMutation(trpc.migrations.setThrottle.mutationOptions(options));
  const busy = [pause, resume, cancel, cutover, rollback, commit, throttle].some((m) => m.isPending);

  const allowed = (action: Action) => canOperate && migration.allowedActions.includes(action);
  const reason = (action: Action) => (!canOperate ? 'Requires operator role' : allowed(action) ? undefined : reasonFor(action, migration, leftBytes));

  const run = async (action: Exclude<Action, 'setThrottle'>, done: string, undo?: Action) => {
    setNotice(null);
    const mutation = { pause, resume, cancel, cutover, rollback, commit }[action];
    await mutation.mutateAsync({ id }).then(
      () => setNotice({ tone: 'ok', text: done, undo }),
      () => undefined,
    );
  };

  const buttons: { action: Action; label: string; onClick: () => void; variant?: 'outline' | 'destructive' }[] = [
    { action: 'pause', label: 'Pause', onClick: () => void run('pause', 'Pause requested: the copy stops after the chunk in flight.', 'resume') },
    { action: 'resume', label: 'Resume', onClick: () => void run('resume', 'Resume requested: the copy continues from where it stopped.', 'pause') },
    { action: 'setThrottle', label: 'Throttle…', onClick: () => setThrottleOpen((open) => !open) },
    { action: 'cutover', label: 'Cut over now', onClick: () => setDialog('cutover') },
    { action: 'cancel', label: 'Cancel…', onClick: () => setDialog('cancel') },
    { action: 'rollback', label: 'Roll back…', onClick: () => setDialog('rollback') },
    { action: 'commit', label: 'Commit…', onClick: () => setDialog('commit') },
  ];

  const prediction = migration.prediction;
  const pauseNowMs = leftBytes !== null && prediction.copyRateBytesPerS ? (leftBytes / prediction.copyRateBytesPerS) * 1000 : prediction.pauseIfSwitchedNowMs;
  const source = `${migration.sourceArrayName ?? 'the source array'}`;
  const target = migration.targetArrayName;

  return (
    <div className="space-y-2">
      <div className="relative flex flex-wrap items-center justify-end gap-2" role="group" aria-label="Migration actions">
        {buttons.map((b) => {
          const why = reason(b.action);
          return (
            <span key={b.action} title={why} className="inline-flex">
              <Button
                size="sm"
                variant="outline"
                aria-disabled={why ? true : undefined}
                aria-describedby={why ? `${reasonId}-${b.action}` : undefined}
                aria-expanded={b.action === 'setThrottle' ? throttleOpen : undefined}
                className={cn(b.action === 'cutover' && !why && migration.state === 'ready' && 'border-violet-500 text-violet-700 dark:text-violet-300')}
                onClick={() => {
                  if (why || busy) return;
                  b.onClick();
                }}
              >
                {b.label}
              </Button>
              {why ? (
                <span id={`${reasonId}-${b.action}`} className="sr-only">
                  {why}
                </span>
              ) : null}
            </span>
          );
        })}
        {throttleOpen ? (
          <ThrottlePopover
            current={migration.throttleBytesPerS}
            pending={throttle.isPending}
            onClose={() => setThrottleOpen(false)}
            onApply={async (bytesPerS) => {
              setNotice(null);
              await throttle.mutateAsync({ id, bytesPerS }).then(
                () => {
                  setNotice({ tone: 'ok', text: bytesPerS === null ? 'Throttle removed.' : `Copy throttled to ${formatRate(bytesPerS)}.` });
                  setThrottleOpen(false);
                },
                () => undefined,
              );
            }}
          />
        ) : null}
      </div>
      <div aria-live="polite" className="min-h-5 text-right text-sm">
        {notice ? (
          <span className={cn(notice.tone === 'error' ? 'text-red-700 dark:text-red-400' : 'text-muted-foreground')}>
            {notice.text}
            {notice.undo && migration.allowedActions.includes(notice.undo) ? (
              <Button size="xs" variant="link" className="ml-2" onClick={() => void run(notice.undo as 'pause' | 'resume', notice.undo === 'resume' ? 'Resumed.' : 'Paused again.')}>
                Undo
              </Button>
            ) : null}
          </span>
        ) : null}
      </div>

      <ConfirmDialog
        open={dialog === 'cancel'}
        title="Cancel this migration?"
        confirm="Cancel migration"
        keep="Keep migrating"
        onClose={() => setDialog(null)}
        onConfirm={() => run('cancel', 'Cancel requested: the copy stops and the target LUN is deleted.')}
      >
        <p>
          Stops the copy and deletes the target LUN on {target} ({formatBytes(migration.volumeSizeBytes)}). {formatBytes(migration.bytesCopied)} copied so far will be discarded. The volume
          keeps running on {source}.
        </p>
      </ConfirmDialog>

      <ConfirmDialog
        open={dialog === 'rollback'}
        title="Roll back this migration?"
        confirm="Roll back"
        keep="Keep it"
        onClose={() => setDialog(null)}
        onConfirm={() => run('rollback', 'Roll back requested.')}
      >
        <p>
          {migration.switched
            ? `Switches the volume back to the source LUN on ${source} (kept until commit) and deletes the target. Writes pause briefly${migration.cutoverPauseMs !== null ? `, about as long as the switch did (${formatLatency(migration.cutoverPauseMs)})` : ''}.`
            : `The volume has not switched yet: this stops the copy, deletes the target on ${target} and leaves the volume on ${source}.`}
        </p>
      </ConfirmDialog>

      <ConfirmDialog
        open={dialog === 'cutover'}
        title="Cut over now?"
        confirm="Cut over"
        keep="Not now"
        onClose={() => setDialog(null)}
        onConfirm={() => run('cutover', 'Cut over requested: writes pause for the switch.')}
      >
        <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1">
          <dt className="text-muted-foreground">Estimated pause</dt>
          <dd>
            {pauseNowMs === null ? 'unknown' : `~${formatLatency(pauseNowMs)}`} (budget {formatLatency(migration.pauseBudgetMs)})
            {pauseNowMs !== null && pauseNowMs > migration.pauseBudgetMs ? <span className="text-amber-700 dark:text-amber-400"> — over budget</span> : null}
          </dd>
          <dt className="text-muted-foreground">Left to copy</dt>
          <dd>{leftBytes === null ? '—' : formatBytes(leftBytes)}</dd>
          <dt className="text-muted-foreground">App writes now</dt>
          <dd>{prediction.writeRateBytesPerS === null ? '—' : formatRate(prediction.writeRateBytesPerS)}</dd>
        </dl>
        <p className="mt-2">Application writes are held while the rest is copied, then the volume switches to the target LUN on {target}. The source is kept until commit.</p>
      </ConfirmDialog>

      <ConfirmDialog
        open={dialog === 'commit'}
        title="Commit this migration?"
        confirm="Commit migration"
        keep="Keep the source"
        typed={migration.volumeName}
        typedLabel="Type the volume name to confirm"
        onClose={() => setDialog(null)}
        onConfirm={() => run('commit', 'Commit requested: the source LUN is being released.')}
      >
        <p>
          Detaches and deletes the source LUN on {source}. After this you cannot roll back.
          {migration.verify ? ` Verification: ${migration.verify.ok ? 'checksums match' : 'MISMATCH'} (${migration.verify.regionsCompared.toLocaleString('en-US')} regions compared).` : ''}
        </p>
      </ConfirmDialog>
    </div>
  );
}

/** The throttle popover: MiB/s, or no limit (docs/ui.md §3.9.7). */
function ThrottlePopover({ current, pending, onApply, onClose }: { current: number | null; pending: boolean; onApply: (bytesPerS: number | null) => void; onClose: () => void }) {
  const [text, setText] = useState(current ? String(Math.round(current / MiB)) : '');
  const [unlimited, setUnlimited] = useState(current === null);
  const inputId = useId();
  const value = Number(text);
  const invalid = !unlimited && (!Number.isFinite(value) || value <= 0 || !Number.isInteger(value));
  return (
    <div
      role="dialog"
      aria-label="Throttle the copy"
      className="absolute top-full right-0 z-20 mt-2 w-72 space-y-3 rounded-lg border bg-card p-3 text-sm shadow-lg"
      onKeyDown={(event) => {
        if (event.key === 'Escape') onClose();
      }}
    >
      <p className="text-muted-foreground">Current: {current === null ? 'no limit' : formatRate(current)}</p>
      <div className="space-y-1">
        <Label htmlFor={inputId}>Copy limit (MiB/s)</Label>
        <Input id={inputId} inputMode="numeric" value={text} disabled={unlimited} onChange={(event) => setText(event.target.value)} aria-invalid={invalid || undefined} autoFocus />
        {invalid && text !== '' ? <p className="text-xs text-red-700 dark:text-red-400">Enter a whole number of MiB/s above 0.</p> : null}
      </div>
      <label className="flex items-center gap-2">
        <input type="checkbox" checked={unlimited} onChange={(event) => setUnlimited(event.target.checked)} />
        No limit
      </label>
      <div className="flex justify-end gap-2">
        <Button size="sm" variant="ghost" onClick={onClose}>
          Close
        </Button>
        <Button size="sm" disabled={pending || invalid} onClick={() => onApply(unlimited ? null : value * MiB)}>
          Apply
        </Button>
      </div>
    </div>
  );
}
