'use client';
/**
 * The evacuation's bulk controls (docs/ui.md §3.11.2): Pause all and Resume all in one click; Cancel
 * remaining… and Roll back all… ask once with the counts; Commit all… is typed with the source
 * name. Every button is always there; one that cannot act now says why (P5). A refusal from the
 * server is shown as it came, naming the state and what is valid.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { formatCount } from '@/components/format';
import { stateLabel } from '@/components/state-badge';
import { Button } from '@/components/ui/button';
import { cn } from '@/components/ui/cn';
import { useTRPC } from '@/components/trpc';
import { ConfirmDialog } from '@/components/ui/confirm-dialog';
import { confirmPhrase } from './draft';
import type { EvacuationDetail } from './types';

type Action = 'pause' | 'resume' | 'cancel' | 'commitAll' | 'rollbackAll';

const SWITCHED_UNCOMMITTED = ['cutting-over', 'verifying', 'verified'];
const BEFORE_SWITCH = ['planned', 'queued', 'preparing', 'syncing', 'copying', 'ready', 'paused'];

export function EvacuationControls({ evacuation, canOperate }: { evacuation: EvacuationDetail; canOperate: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const reasonId = useId();
  const [dialog, setDialog] = useState<Action | null>(null);
  const [notice, setNotice] = useState<{ tone: 'ok' | 'error'; text: string } | null>(null);
  const id = evacuation.id;
  const options = {
    onSuccess: () => {
      void queryClient.invalidateQueries(trpc.evacuations.get.queryFilter({ id }));
      void queryClient.invalidateQueries(trpc.evacuations.list.queryFilter());
    },
    onError: (error: { message: string }) => setNotice({ tone: 'error', text: error.message }),
  };
  const pause = useMutation(trpc.evacuations.pause.mutationOptions(options));
  const resume = useMutation(trpc.evacuations.resume.mutationOptions(options));
  const cancel = useMutation(trpc.evacuations.cancel.mutationOptions(options));
  const commitAll = useMutation(trpc.evacuations.commitAll.mutationOptions(options));
  const rollbackAll = useMutation(trpc.evacuations.rollbackAll.mutationOptions(options));
  const busy = [pause, resume, cancel, commitAll, rollbackAll].some((m) => m.isPending);

  const state = evacuation.state;
  const live = state === 'running' || state === 'paused';
  const ms = evacuation.migrations;
  const verified = ms.filter((m) => m.state === 'verified').length;
  const switched = ms.filter((m) => SWITCHED_UNCOMMITTED.includes(m.state)).length;
  const beforeSwitch = ms.filter((m) => BEFORE_SWITCH.includes(m.state)).length;
  const committed = ms.filter((m) => m.state === 'completed' || m.state === 'committing').length;
  const phrase = confirmPhrase(evacuation.sources.map((s) => s.name));
  const now = `now ${stateLabel('evacuation', state)}`;

  const why = (action: Action): string | undefined => {
    if (!canOperate) return 'Requires operator role';
    switch (action) {
      case 'pause':
        return state === 'running' ? undefined : `Pause all is available while running; ${now}`;
      case 'resume':
        return state === 'paused' ? undefined : `Resume all is available while paused; ${now}`;
      case 'cancel':
        return live ? undefined : `Cancel is available while running or paused; ${now}`;
      case 'commitAll':
        return live && verified > 0 ? undefined : verified === 0 ? 'No volume is verified and awaiting commit' : `Commit all is available while running or paused; ${now}`;
      case 'rollbackAll':
        return live && switched > 0 ? undefined : switched === 0 ? 'No volume has switched without being committed' : `Roll back all is available while running or paused; ${now}`;
    }
  };

  const run = async (action: Action, done: string, typed?: string) => {
    setNotice(null);
    const call =
      action === 'commitAll' ? commitAll.mutateAsync({ id, confirm: typed ?? '' }) : { pause, resume, cancel, rollbackAll }[action].mutateAsync({ id });
    await call.then(
      () => setNotice({ tone: 'ok', text: done }),
      () => undefined,
    );
  };

  const buttons: { action: Action; label: string; onClick: () => void }[] = [
    { action: 'pause', label: 'Pause all', onClick: () => void run('pause', 'Paused: running copies stop after the chunk in flight and nothing new is admitted.') },
    { action: 'resume', label: 'Resume all', onClick: () => void run('resume', 'Resumed: copies continue and admission starts again.') },
    { action: 'cancel', label: 'Cancel remaining…', onClick: () => setDialog('cancel') },
    { action: 'commitAll', label: 'Commit all…', onClick: () => setDialog('commitAll') },
    { action: 'rollbackAll', label: 'Roll back all…', onClick: () => setDialog('rollbackAll') },
  ];

  return (
    <div className="space-y-1">
      <div role="group" aria-label="Evacuation actions" className="flex flex-wrap justify-end gap-2">
        {buttons.map((b) => {
          const reason = why(b.action);
          return (
            <span key={b.action} title={reason} className="inline-flex">
              <Button
                size="sm"
                variant="outline"
                aria-disabled={reason ? true : undefined}
                aria-describedby={reason ? `${reasonId}-${b.action}` : undefined}
                className={cn(b.action === 'commitAll' && !reason && 'border-violet-500 text-violet-700 dark:text-violet-300')}
                onClick={() => {
                  if (reason || busy) return;
                  b.onClick();
                }}
              >
                {b.label}
              </Button>
              {reason ? (
                <span id={`${reasonId}-${b.action}`} className="sr-only">
                  {reason}
                </span>
              ) : null}
            </span>
          );
        })}
      </div>
      <div aria-live="polite" className="min-h-5 text-right text-sm">
        {notice ? <span className={notice.tone === 'error' ? 'text-red-700 dark:text-red-400' : 'text-muted-foreground'}>{notice.text}</span> : null}
      </div>

      <ConfirmDialog open={dialog === 'cancel'} title="Cancel the rest of this evacuation?" confirm="Cancel remaining" keep="Keep evacuating" onClose={() => setDialog(null)} onConfirm={() => run('cancel', 'Cancel requested.')}>
        <ul className="list-disc pl-5">
          <li>{formatCount(beforeSwitch, 'volume')} not yet switched stop; their target LUNs are deleted and the sources kept.</li>
          <li>{formatCount(switched, 'volume')} switched but not committed roll back to their sources.</li>
          <li>{formatCount(committed, 'volume')} already committed stay moved.</li>
        </ul>
      </ConfirmDialog>
      <ConfirmDialog open={dialog === 'rollbackAll'} title="Roll back every switched volume?" confirm="Roll back all" keep="Keep them" onClose={() => setDialog(null)} onConfirm={() => run('rollbackAll', 'Roll back requested.')}>
        <p>
          {formatCount(switched, 'volume')} switched but not committed go back to their source LUNs; each pauses writes briefly, about as long as its switch did. Committed volumes stay moved.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={dialog === 'commitAll'}
        title="Commit every verified volume?"
        confirm="Commit all"
        keep="Keep the sources"
        typed={phrase}
        onClose={() => setDialog(null)}
        onConfirm={(typed) => run('commitAll', 'Commit requested: the source LUNs are being released.', typed)}
      >
        <p>Releases and deletes the source LUNs of {formatCount(verified, 'verified volume')} on {evacuation.sources.map((s) => s.name).join(', ')}. After this they cannot be rolled back.</p>
      </ConfirmDialog>
    </div>
  );
}
