'use client';
/**
 * The Evacuate array wizard (docs/ui.md §3.10): a full page with the step list on the left, the step
 * in the centre, "Plan so far" on the right and a sticky footer. The draft lives in the URL;
 * every change re-plans through `evacuations.plan` 500 ms after the last edit, and nothing in the
 * fleet changes before "Start evacuation". A step validates before Next moves on; later steps
 * stay disabled until the ones before them validate.
 */
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Check } from 'lucide-react';
import { usePathname, useRouter, useSearchParams } from 'next/navigation';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { QueryError } from '@/components/data/query-states';
import { formatBytes, formatCount } from '@/components/format';
import { Button } from '@/components/ui/button';
import { cn } from '@/components/ui/cn';
import { Skeleton } from '@/components/ui/skeleton';
import { Spinner } from '@/components/ui/spinner';
import { useTRPC } from '@/components/trpc';
import { DEFAULT_LIMITS } from '@/server/evacuation/plan-types';
import { checkLimits, draftToQuery, parseDraft, planConstraints, STEP_NAMES, STEPS, type Draft, type Step } from './draft';
import { StepConfirm } from './step-confirm';
import { StepImpact } from './step-impact';
import { StepLimits } from './step-limits';
import { StepReview } from './step-review';
import { StepSource } from './step-source';
import { StepTargets } from './step-targets';
import { ErrorSummary } from './wizard-parts';
import { durationRange, selectedTargetNames, stepErrors, type WizardModel } from './wizard-model';

const DEBOUNCE_MS = 500;

export function EvacuateWizard() {
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  // The draft is state mirrored to the URL, so a click shows at once; back/forward reads it back.
  const [draft, setDraft] = useState(() => parseDraft(new URLSearchParams(params.toString())));
  useEffect(() => {
    const onPopState = () => setDraft(parseDraft(new URLSearchParams(window.location.search)));
    window.addEventListener('popstate', onPopState);
    return () => window.removeEventListener('popstate', onPopState);
  }, []);
  const arrays = useQuery(trpc.arrays.list.queryOptions());
  const settings = useQuery(trpc.settings.get.queryOptions());
  const me = useQuery(trpc.auth.me.queryOptions());
  const [showErrors, setShowErrors] = useState(false);
  const [typed, setTyped] = useState('');
  const headingRef = useRef<HTMLHeadingElement>(null);
  const [touched, setTouched] = useState(false);

  const write = useCallback(
    (next: Draft, push: boolean) => {
      setDraft(next);
      const query = draftToQuery(next);
      const url = query ? `${pathname}?${query}` : pathname;
      if (push) window.history.pushState(null, '', url);
      else window.history.replaceState(null, '', url);
    },
    [pathname],
  );
  const update = useCallback(
    (patch: Partial<Draft>) => {
      setTouched(true);
      write({ ...draft, ...patch }, false);
    },
    [draft, write],
  );

  const arrayList = useMemo(() => arrays.data ?? [], [arrays.data]);
  const arrayById = useMemo(() => new Map(arrayList.map((a) => [a.id, a])), [arrayList]);
  const arrayIdsByName = useMemo(() => new Map(arrayList.map((a) => [a.name, a.id])), [arrayList]);
  const defaults = settings.data ? { limits: settings.data.limits, pauseBudgetMs: settings.data.pauseBudgetMs } : { limits: DEFAULT_LIMITS, pauseBudgetMs: 100 };

  // The dry run's input, debounced: the plan follows the draft 500 ms after the last edit.
  const limitsCheck = checkLimits(draft, arrayIdsByName, defaults.limits);
  const constraints = planConstraints(draft, arrayIdsByName, limitsCheck.pauseBudgetMs);
  const input = constraints.sourceArrayIds.length ? JSON.stringify({ constraints, limits: limitsCheck.limits }) : null;
  const [debounced, setDebounced] = useState(input);
  useEffect(() => {
    if (input === debounced) return;
    const timer = setTimeout(() => setDebounced(input), DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [input, debounced]);
  const plan = useQuery({
    ...trpc.evacuations.plan.queryOptions(debounced ? (JSON.parse(debounced) as Parameters<typeof trpc.evacuations.plan.queryOptions>[0]) : { constraints: { sourceArrayIds: [] } }),
    enabled: debounced !== null && arrays.isSuccess,
    placeholderData: keepPreviousData,
    refetchOnWindowFocus: false,
  });

  const model: WizardModel = {
    draft,
    update,
    arrays: arrayList,
    arrayById,
    arrayIdsByName,
    defaults,
    plan: debounced ? plan.data : undefined,
    planError: plan.error?.message ?? null,
    recalculating: input !== debounced || plan.isFetching,
    replan: () => void plan.refetch(),
    role: me.data?.role ?? null,
    showErrors,
  };

  let validUpTo = 0;
  while (validUpTo < STEPS.length - 1 && stepErrors(STEPS[validUpTo]!, model).length === 0) validUpTo += 1;
  // A step the URL names whose earlier steps do not validate shows the first one that does not.
  const settled = arrays.isSuccess && !model.recalculating;
  const index = settled ? Math.min(STEPS.indexOf(draft.step), validUpTo) : STEPS.indexOf(draft.step);
  const step = STEPS[index]!;
  const errors = stepErrors(step, model, typed);

  const go = useCallback(
    (step: Step) => {
      setShowErrors(false);
      write({ ...draft, step }, true);
    },
    [draft, write],
  );
  const next = useCallback(() => {
    if (errors.length) {
      setShowErrors(true);
      return;
    }
    const following = STEPS[index + 1];
    if (following) go(following);
  }, [errors.length, go, index]);
  const back = useCallback(() => {
    const previous = STEPS[index - 1];
    if (previous) go(previous);
  }, [go, index]);

  // Focus moves to the step's heading on step change (§6.5).
  const firstRender = useRef(true);
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    headingRef.current?.focus();
  }, [step]);


  // Alt+→ / Alt+← move between steps with the same checks as the buttons (§6.3).
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!event.altKey) return;
      if (event.key === 'ArrowRight') {
        event.preventDefault();
        next();
      } else if (event.key === 'ArrowLeft') {
        event.preventDefault();
        back();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [next, back]);

  // Leaving with unsaved choices asks first (§3.10).
  useEffect(() => {
    if (!touched) return;
    const onBeforeUnload = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => window.removeEventListener('beforeunload', onBeforeUnload);
  }, [touched]);

  const cancel = () => {
    if (touched && !window.confirm('Leave the wizard? Your choices are not saved anywhere but this page’s address.')) return;
    setTouched(false);
    const first = draft.sources[0] ? arrayIdsByName.get(draft.sources[0]) : undefined;
    router.push(first ? `/arrays/${first}` : '/evacuations');
  };

  if (arrays.isError) return <QueryError error={arrays.error} onRetry={() => arrays.refetch()} what="the arrays" />;

  const stepName = STEP_NAMES[step];
  const nextStep = STEPS[index + 1];
  return (
    <div className="space-y-4">
      <div>
        <h1 className="text-xl font-semibold tracking-tight">Evacuate {draft.sources.length ? draft.sources.join(', ') : 'arrays'}</h1>
        <p className="text-sm text-muted-foreground">A dry run until you confirm: nothing in the fleet changes before “Start evacuation”.</p>
      </div>
      <div className="grid gap-5 lg:grid-cols-[11rem_minmax(0,1fr)_15rem] 2xl:grid-cols-[13rem_minmax(0,1fr)_17.5rem]">
        <StepList current={index} validUpTo={validUpTo} onGo={go} />
        <section data-testid="wizard-step" data-step={step} aria-labelledby="wizard-step-title" className="min-w-0 space-y-4">
          <h2 id="wizard-step-title" ref={headingRef} tabIndex={-1} className="text-lg font-semibold focus:outline-none">
            {stepName}
          </h2>
          {showErrors ? <ErrorSummary errors={errors} /> : null}
          {!arrays.isSuccess ? (
            <Skeleton className="h-64" />
          ) : step === 'source' ? (
            <StepSource model={model} />
          ) : step === 'impact' ? (
            <StepImpact model={model} />
          ) : step === 'targets' ? (
            <StepTargets model={model} />
          ) : step === 'limits' ? (
            <StepLimits model={model} />
          ) : step === 'review' ? (
            <StepReview model={model} onGo={go} />
          ) : (
            <StepConfirm model={model} typed={typed} onTyped={setTyped} onBack={back} onReplan={() => go('review')} onStarted={() => setTouched(false)} />
          )}
        </section>
        <PlanRail model={model} />
      </div>
      <footer className="sticky bottom-0 z-10 -mx-4 border-t bg-background/95 px-4 py-3 backdrop-blur sm:-mx-6 sm:px-6">
        <div className="flex items-center justify-end gap-2">
          <Button variant="ghost" onClick={cancel} className="mr-auto">
            Cancel
          </Button>
          {index > 0 && nextStep ? (
            <Button variant="outline" onClick={back}>
              Back
            </Button>
          ) : null}
          {nextStep ? (
            <Button onClick={next} aria-disabled={errors.length ? true : undefined} aria-describedby={errors.length ? 'wizard-next-reason' : undefined}>
              Next: {STEP_NAMES[nextStep]} →
            </Button>
          ) : null}
          {nextStep && errors.length ? (
            <span id="wizard-next-reason" className="sr-only">
              {errors.map((e) => e.message).join(' ')}
            </span>
          ) : null}
        </div>
      </footer>
    </div>
  );
}

function StepList({ current, validUpTo, onGo }: { current: number; validUpTo: number; onGo: (step: Step) => void }) {
  return (
    <nav aria-label="Evacuation steps">
      <ol className="space-y-1">
        {STEPS.map((step, i) => {
          const status = i < current ? 'completed' : i === current ? 'active' : 'upcoming';
          const reachable = i <= validUpTo;
          return (
            <li key={step}>
              <button
                type="button"
                aria-current={i === current ? 'step' : undefined}
                disabled={!reachable}
                onClick={() => onGo(step)}
                className={cn(
                  'flex w-full items-center gap-2 rounded-md px-2 py-1.5 text-left text-sm',
                  i === current ? 'bg-accent font-medium' : reachable ? 'hover:bg-accent/60' : 'cursor-not-allowed text-muted-foreground opacity-70',
                )}
              >
                <span
                  aria-hidden
                  className={cn(
                    'flex size-5 shrink-0 items-center justify-center rounded-full border text-[11px] tabular-nums',
                    status === 'completed' && 'border-emerald-600 bg-emerald-600 text-white dark:border-emerald-500 dark:bg-emerald-500',
                    status === 'active' && 'border-foreground',
                  )}
                >
                  {status === 'completed' ? <Check className="size-3" /> : i + 1}
                </span>
                <span>{STEP_NAMES[step]}</span>
                {status === 'completed' ? <span className="sr-only">, completed</span> : null}
              </button>
            </li>
          );
        })}
      </ol>
    </nav>
  );
}

function PlanRail({ model }: { model: WizardModel }) {
  const { plan, draft } = model;
  const targets = plan ? plan.targets.filter((t) => t.incomingVolumes > 0).map((t) => t.name) : selectedTargetNames(model);
  const blockers = plan ? plan.cannotMove.filter((c) => c.code !== 'excluded').length : null;
  const excluded = plan ? plan.cannotMove.filter((c) => c.code === 'excluded').length : 0;
  return (
    <aside aria-labelledby="plan-so-far" className="h-fit space-y-2 rounded-lg border bg-card p-3 text-sm lg:sticky lg:top-4" data-testid="plan-rail">
      <div className="flex items-center justify-between">
        <h2 id="plan-so-far" className="font-semibold">
          Plan so far
        </h2>
        <span aria-live="polite" className="text-xs text-muted-foreground">
          {model.recalculating && draft.sources.length ? (
            <span className="inline-flex items-center gap-1">
              <Spinner className="size-3" /> Recalculating…
            </span>
          ) : null}
        </span>
      </div>
      <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1">
        <dt className="text-muted-foreground">Sources</dt>
        <dd>{draft.sources.length ? draft.sources.join(', ') : '—'}</dd>
        {plan ? (
          <>
            <dt className="text-muted-foreground">Used</dt>
            <dd className="tabular-nums">{formatBytes(plan.sources.reduce((sum, s) => sum + s.usedBytes, 0))}</dd>
            <dt className="text-muted-foreground">Volumes</dt>
            <dd className="tabular-nums">{formatCount(plan.totals.volumes, 'volume')}</dd>
            <dt className="text-muted-foreground">To move</dt>
            <dd className="tabular-nums">{formatBytes(plan.totals.movableBytes)}</dd>
            <dt className="text-muted-foreground">Hosts</dt>
            <dd className="tabular-nums">{formatCount(plan.totals.hosts, 'host')}</dd>
            <dt className="text-muted-foreground">Targets</dt>
            <dd>{targets.length ? targets.join(', ') : '—'}</dd>
            <dt className="text-muted-foreground">Predicted</dt>
            <dd className="tabular-nums">{durationRange(plan.prediction.seconds)}</dd>
            <dt className="text-muted-foreground">Blockers</dt>
            <dd className={cn('tabular-nums', blockers ? 'font-medium text-red-700 dark:text-red-400' : '')}>
              {blockers === 0 ? 'none' : formatCount(blockers ?? 0, 'volume')}
              {excluded ? <span className="text-muted-foreground"> · {excluded} excluded</span> : null}
            </dd>
          </>
        ) : null}
      </dl>
      {model.planError ? <p className="text-xs text-red-700 dark:text-red-400">The dry run failed: {model.planError}</p> : null}
    </aside>
  );
}
