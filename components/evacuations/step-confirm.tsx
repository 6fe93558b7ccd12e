'use client';
/**
 * Wizard step 6, Confirm (docs/ui.md §3.10): what is about to happen in a few bullets, the typed
 * confirmation (the first source's name, "ARR-03 +1" for several), and "Start evacuation",
 * which calls `evacuations.create` — the server plans again and refuses if the plan went stale;
 * the refusal stays here with a Re-plan button.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { formatBytes, formatCount, formatTimeOfDay } from '@/components/format';
import { Alert } from '@/components/ui/alert';
import { Button } from '@/components/ui/button';
import { Input, Label } from '@/components/ui/input';
import { Spinner } from '@/components/ui/spinner';
import { useTRPC } from '@/components/trpc';
import { useNow } from '@/components/use-now';
import { checkLimits, confirmPhrase, planConstraints } from './draft';
import { stepErrors, type WizardModel } from './wizard-model';

export function StepConfirm({ model, typed, onTyped, onBack, onReplan, onStarted }: { model: WizardModel; typed: string; onTyped: (text: string) => void; onBack: () => void; onReplan: () => void; onStarted: () => void }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const now = useNow();
  const { draft, plan } = model;
  const phrase = confirmPhrase(draft.sources);
  const create = useMutation(
    trpc.evacuations.create.mutationOptions({
      onSuccess: ({ id }) => {
        onStarted();
        void queryClient.invalidateQueries(trpc.arrays.pathFilter());
        void queryClient.invalidateQueries(trpc.evacuations.pathFilter());
        router.push(`/evacuations/${id}`);
      },
    }),
  );
  const canOperate = model.role === 'operator' || model.role === 'admin';
  const errors = stepErrors('confirm', model, typed);
  const ready = errors.length === 0 && !create.isPending;
  const targets = plan ? plan.targets.filter((t) => t.incomingVolumes > 0).map((t) => t.name) : [];
  const excluded = plan ? plan.cannotMove.filter((c) => c.code === 'excluded') : [];

  const start = () => {
    if (!ready) return;
    const check = checkLimits(draft, model.arrayIdsByName, model.defaults.limits);
    create.mutate({
      constraints: planConstraints(draft, model.arrayIdsByName, check.pauseBudgetMs),
      limits: check.limits,
      window: draft.window,
      outsideWindow: draft.outsideWindow,
      cutover: draft.cutover,
      commit: draft.commit,
      confirm: typed,
    });
  };

  return (
    <form
      className="max-w-2xl space-y-5"
      onSubmit={(event) => {
        event.preventDefault();
        start();
      }}
    >
      {create.error ? (
        <Alert
          tone="danger"
          role="alert"
          title="The console refused to start this evacuation"
          actions={
            <Button
              size="sm"
              variant="outline"
              onClick={() => {
                create.reset();
                model.replan();
                onReplan();
              }}
            >
              Re-plan
            </Button>
          }
        >
          <p>{create.error.message}</p>
        </Alert>
      ) : null}
      <p className="text-sm">You are about to evacuate {draft.sources.join(' and ')}.</p>
      {plan ? (
        <ul className="list-disc space-y-1 pl-5 text-sm" data-testid="confirm-summary">
          <li>
            {formatCount(plan.moves.length, 'volume plex', 'volume plexes')} ({formatBytes(plan.totals.movableBytes)}) on {formatCount(plan.totals.hosts, 'host')} move to {targets.join(', ') || '—'}.
          </li>
          <li>
            {draft.window
              ? `Starts and cutovers happen only inside ${draft.window.start}–${draft.window.end} (${draft.window.timeZone}); ${draft.outsideWindow === 'pause' ? 'copying pauses outside it' : 'copying continues outside it'}.`
              : 'Starts right away; no maintenance window.'}
          </li>
          {now ? (
            <li>
              Predicted to finish {formatTimeOfDay(now + plan.prediction.seconds.p10 * 1000)}–{formatTimeOfDay(now + plan.prediction.seconds.p90 * 1000)}.
            </li>
          ) : null}
          <li>{draft.cutover === 'auto' ? 'Each volume switches to its target by itself once its copy converges.' : 'Each volume waits in Ready until you cut it over.'}</li>
          <li>
            {draft.commit === 'manual'
              ? 'Each source LUN is kept until you press Commit all; you can roll back any volume until then.'
              : 'Each source LUN is released once its volume is verified on the target; you can roll back a volume until then.'}
          </li>
          {excluded.length ? (
            <li>
              {formatCount(excluded.length, 'volume')} excluded; {draft.sources.join(', ')} will not become Evacuated until they are moved.
            </li>
          ) : null}
        </ul>
      ) : null}

      <div className="space-y-1">
        <Label htmlFor="confirm-text">Type the array name to confirm</Label>
        <p className="text-xs text-muted-foreground" id="confirm-hint">
          Type <span className="font-mono font-medium text-foreground">{phrase}</span> exactly (case-sensitive).
        </p>
        <Input id="confirm-text" className="max-w-xs" value={typed} onChange={(event) => onTyped(event.target.value)} autoComplete="off" spellCheck={false} aria-describedby="confirm-hint" />
      </div>
      <div className="flex items-center gap-3">
        <Button variant="outline" onClick={onBack}>
          Back
        </Button>
        <Button type="submit" aria-disabled={ready ? undefined : true} aria-describedby={ready ? undefined : 'start-reason'}>
          {create.isPending ? <Spinner /> : null}
          Start evacuation
        </Button>
        {!ready ? (
          <span id="start-reason" className="text-xs text-muted-foreground">
            {canOperate ? (create.isPending ? 'Starting…' : `Type ${phrase} to enable.`) : 'Requires operator role.'}
          </span>
        ) : null}
      </div>
    </form>
  );
}
