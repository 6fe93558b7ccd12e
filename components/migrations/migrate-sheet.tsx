'use client';
/**
 * The Migrate dialog for one volume (docs/ui.md §3.7): target array, strategy, throttle, cutover and
 * commit in one scrolling sheet. What the server knows (eligibility, capacity, the strategy
 * recommendation) comes from `volumes.migrationOptions`, refetched as the throttle changes;
 * "Start migration" calls `migrations.create`, and a refusal stays in the sheet as an Alert.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { TriangleExclamationPoint } from 'lucide-react';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useDeferredValue, useId, useState, type ReactNode } from 'react';
import type { RouterOutputs } from '@/components/api-types';
import { CapacityBar } from '@/components/capacity-bar';
import { formatBytes, formatDuration, formatLatency, formatPercent, formatRate, formatTier } from '@/components/format';
import { StateBadge } from '@/components/state-badge';
import { Alert } from '@/components/ui/alert';
import { Button } from '@/components/ui/button';
import { cn } from '@/components/ui/cn';
import { Input, Label } from '@/components/ui/input';
import { Sheet } from '@/components/ui/sheet';
import { Skeleton } from '@/components/ui/skeleton';
import { Spinner } from '@/components/ui/spinner';
import { useTRPC } from '@/components/trpc';
import { parseThrottle, validateWindow, type ThrottleInput } from './migrate-form';

type Options = RouterOutputs['volumes']['migrationOptions'];
type Target = Options['targets'][number];
type StrategyChoice = 'auto' | 'precopy' | 'mirror';
type CutoverMode = 'auto' | 'manual' | 'window';

/** Above this share used after the move, a target gets an amber warning (not a block). */
const FULL_AFTER_SHARE = 0.9;

export function MigrateSheet({ volumeId, open, onClose }: { volumeId: string; open: boolean; onClose: () => void }) {
  return open ? <MigrateForm volumeId={volumeId} onClose={onClose} /> : null;
}

function MigrateForm({ volumeId, onClose }: { volumeId: string; onClose: () => void }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const formId = useId();
  const [throttle, setThrottle] = useState<ThrottleInput>({ mode: 'none', mibPerS: '' });
  const throttleCheck = parseThrottle(throttle);
  const throttleBytesPerS = useDeferredValue(throttleCheck.ok ? throttleCheck.bytesPerS : null);
  const options = useQuery({ ...trpc.volumes.migrationOptions.queryOptions({ volumeId, throttleBytesPerS }), placeholderData: keepPreviousData });

  const [chosenTarget, setChosenTarget] = useState<string | null>(null);
  const [allowLowerTier, setAllowLowerTier] = useState(false);
  const [strategy, setStrategy] = useState<StrategyChoice>('auto');
  const [cutover, setCutover] = useState<CutoverMode>('auto');
  const [window, setWindow] = useState(() => ({ start: '22:00', end: '06:00', timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone }));
  const [commit, setCommit] = useState<'auto' | 'manual'>('auto');
  const [showErrors, setShowErrors] = useState(false);

  const create = useMutation(
    trpc.migrations.create.mutationOptions({
      onSuccess: (migration) => {
        void queryClient.invalidateQueries(trpc.hosts.get.pathFilter());
        void queryClient.invalidateQueries(trpc.migrations.pathFilter());
        onClose();
        router.push(`/migrations/${migration.id}`);
      },
    }),
  );

  const sheet = (body: ReactNode, description?: ReactNode, footer?: ReactNode) => (
    <Sheet open onClose={onClose} title="Migrate volume" description={description} footer={footer} data-testid="migrate-sheet">
      {body}
    </Sheet>
  );

  if (options.isPending) {
    return sheet(
      <div role="status" aria-label="Loading migration options" className="space-y-3">
        <Skeleton className="h-5 w-72" />
        <Skeleton className="h-24" />
        <Skeleton className="h-24" />
      </div>,
    );
  }
  if (options.isError) {
    return sheet(
      <Alert tone="danger" role="alert" title="Could not load the migration options" actions={<Button size="sm" variant="outline" onClick={() => options.refetch()}>Retry</Button>}>
        <p>{options.error.message}</p>
      </Alert>,
    );
  }

  const data = options.data;
  const usable = (target: Target) => target.eligible && (!target.lowerTier || allowLowerTier);
  const defaultTarget = data.targets.find((target) => target.eligible && !target.lowerTier);
  const targetId = chosenTarget && data.targets.some((t) => t.id === chosenTarget && usable(t)) ? chosenTarget : (defaultTarget?.id ?? null);
  const target = data.targets.find((t) => t.id === targetId) ?? null;
  const recommendation = data.recommendation;
  const effectiveStrategy = strategy === 'auto' ? recommendation.strategy : strategy;
  const windowCheck = cutover === 'window' ? validateWindow(window) : { ok: true as const };
  const blocked = data.blockedReason;

  function start() {
    setShowErrors(true);
    if (!target || blocked || !throttleCheck.ok || !windowCheck.ok || create.isPending) return;
    create.mutate({
      volumeId,
      targetArrayId: target.id,
      strategy: effectiveStrategy,
      throttleBytesPerS: throttleCheck.bytesPerS,
      cutoverPolicy: cutover === 'window' ? { mode: 'window', commit, window } : { mode: cutover, commit },
    });
  }

  const footer = (
    <div className="space-y-3">
      <p className="text-sm" data-testid="migrate-prediction">
        <Prediction strategy={effectiveStrategy} recommendation={recommendation} />{' '}
        {commit === 'manual' ? 'Source kept until you commit.' : 'Source released after the copy is verified.'}
      </p>
      <div className="flex justify-end gap-2">
        <Button variant="outline" onClick={onClose}>
          Cancel
        </Button>
        <Button type="submit" form={formId} disabled={Boolean(blocked) || create.isPending}>
          {create.isPending ? <Spinner /> : null}
          Start migration
        </Button>
      </div>
    </div>
  );

  return sheet(
    <form
      id={formId}
      className="space-y-6"
      onSubmit={(event) => {
        event.preventDefault();
        start();
      }}
    >
      {create.error ? (
        <Alert tone="danger" role="alert" title="The console refused to start this migration">
          <p>{create.error.message}</p>
        </Alert>
      ) : null}
      {blocked ? (
        <Alert tone="warning" title="A migration cannot start now">
          <p>
            {blocked}
            {data.activeMigration ? (
              <>
                {' '}
                <Link href={`/migrations/${data.activeMigration.id}`} className="font-medium underline">
                  Open the running migration
                </Link>
              </>
            ) : null}
          </p>
        </Alert>
      ) : null}

      <Section number={1} title="Target array">
        <TargetList targets={data.targets} selected={targetId} usable={usable} onSelect={setChosenTarget} sourceTier={data.volume.source?.tier ?? null} />
        {data.targets.some((t) => t.eligible && t.lowerTier) ? (
          <label className="mt-2 flex items-center gap-2 text-sm">
            <input type="checkbox" checked={allowLowerTier} onChange={(event) => setAllowLowerTier(event.target.checked)} />
            Allow a lower tier
          </label>
        ) : null}
        {showErrors && !target ? <FieldError>Choose a target array.</FieldError> : null}
      </Section>

      <Section number={2} title="Strategy">
        <Radio name="strategy" value="auto" checked={strategy === 'auto'} onChange={() => setStrategy('auto')} label={`Auto — recommends ${recommendation.strategy === 'precopy' ? 'Pre-copy' : 'Mirror'}`}>
          <span data-testid="strategy-reason">{recommendation.reason}</span>
        </Radio>
        <Radio name="strategy" value="precopy" checked={strategy === 'precopy'} onChange={() => setStrategy('precopy')} label="Pre-copy">
          Copies in passes while the application writes, then pauses writes briefly to switch.
          {strategy === 'precopy' && !recommendation.precopy.converges ? (
            <span className="mt-1 flex items-center gap-1 text-amber-800 dark:text-amber-300">
              <TriangleExclamationPoint aria-hidden className="size-3.5 shrink-0" />
              Predicted not to converge at these rates; the job switches to mirror if its passes stop shrinking.
            </span>
          ) : null}
        </Radio>
        <Radio name="strategy" value="mirror" checked={strategy === 'mirror'} onChange={() => setStrategy('mirror')} label="Mirror">
          No pause; every write goes to both arrays while it resyncs, which adds write latency.
        </Radio>
      </Section>

      <Section number={3} title="Throttle">
        <ThrottleField throttle={throttle} onChange={setThrottle} error={throttleCheck.ok ? null : throttleCheck.error} />
      </Section>

      <Section number={4} title="Cutover">
        <Radio name="cutover" value="auto" checked={cutover === 'auto'} onChange={() => setCutover('auto')} label="Automatic when ready" />
        <Radio name="cutover" value="manual" checked={cutover === 'manual'} onChange={() => setCutover('manual')} label="Manual — wait for me in Ready" />
        <Radio name="cutover" value="window" checked={cutover === 'window'} onChange={() => setCutover('window')} label="Only inside a window">
          {cutover === 'window' ? <WindowFields window={window} onChange={setWindow} error={windowCheck.ok ? null : windowCheck.error} /> : null}
        </Radio>
      </Section>

      <Section number={5} title="Commit">
        <Radio name="commit" value="auto" checked={commit === 'auto'} onChange={() => setCommit('auto')} label="Automatic after verification" />
        <Radio name="commit" value="manual" checked={commit === 'manual'} onChange={() => setCommit('manual')} label="Manual — wait for me">
          The source stays on its array until you commit.
        </Radio>
      </Section>

    </form>,
    <VolumeSummary data={data} />,
    footer,
  );
}

function VolumeSummary({ data }: { data: Options }) {
  const { volume } = data;
  return (
    <div className="space-y-1">
      <p className="text-foreground">
        {volume.hostname} / {volume.diskGroup} / <span className="font-medium">{volume.name}</span> · {formatBytes(volume.sizeBytes)}
        {volume.source ? (
          <>
            {' '}
            · on {volume.source.arrayName} ({formatTier(volume.source.tier)})
          </>
        ) : null}
      </p>
      <p>
        {volume.writeRateBytesPerS === null ? (
          'No write rate reported yet'
        ) : (
          <>
            Writes now {formatRate(volume.writeRateBytesPerS)}
            {volume.writeRateP95BytesPerS !== null ? ` (p95 over 1 h: ${formatRate(volume.writeRateP95BytesPerS)})` : null}
          </>
        )}
      </p>
    </div>
  );
}

function TargetList({ targets, selected, usable, onSelect, sourceTier }: { targets: Target[]; selected: string | null; usable: (t: Target) => boolean; onSelect: (id: string) => void; sourceTier: number | null }) {
  const baseId = useId();
  return (
    <div role="radiogroup" aria-label="Target array" className="divide-y rounded-md border">
      {targets.map((target) => {
        const enabled = usable(target);
        const reasonId = `${baseId}-${target.id}-reason`;
        const afterShare = target.capacityBytes > 0 ? target.usedAfterBytes / target.capacityBytes : 0;
        const reason = !target.eligible
          ? target.reason
          : target.lowerTier && !enabled
            ? `lower tier than the source (${formatTier(target.tier)} below ${formatTier(sourceTier ?? target.tier)}); tick "Allow a lower tier" to choose it`
            : null;
        return (
          <label
            key={target.id}
            data-testid={`target-${target.name}`}
            data-eligible={enabled}
            className={cn('flex items-start gap-3 px-3 py-2.5 text-sm', enabled ? 'cursor-pointer hover:bg-accent/50' : 'cursor-not-allowed text-muted-foreground')}
          >
            <input
              type="radio"
              name="target"
              className="mt-1"
              checked={selected === target.id}
              disabled={!enabled}
              onChange={() => onSelect(target.id)}
              aria-describedby={reason ? reasonId : undefined}
            />
            <span className="min-w-0 flex-1 space-y-1">
              <span className="flex flex-wrap items-center gap-x-2">
                <span className="font-medium text-foreground">{target.name}</span>
                <span className="text-xs">{formatTier(target.tier)}</span>
                {target.lowerTier ? <span className="text-xs">(lower tier)</span> : null}
                {target.state !== 'online' ? <StateBadge type="array" state={target.state} /> : null}
                <span className="ml-auto text-xs tabular-nums">free {formatBytes(target.freeBytes)}</span>
              </span>
              {target.eligible ? (
                <span className="flex flex-wrap items-center gap-2 text-xs tabular-nums">
                  <CapacityBar usedBytes={target.usedBytes} totalBytes={target.capacityBytes} label={`${target.name} capacity now`} showText={false} />
                  <span>
                    {formatPercent(target.usedBytes, target.capacityBytes)} → {formatPercent(target.usedAfterBytes, target.capacityBytes)} after
                  </span>
                  {afterShare > FULL_AFTER_SHARE ? (
                    <span className="inline-flex items-center gap-1 text-amber-800 dark:text-amber-300">
                      <TriangleExclamationPoint aria-hidden className="size-3.5" />
                      above {Math.round(FULL_AFTER_SHARE * 100)}% after the move
                    </span>
                  ) : null}
                </span>
              ) : null}
              {reason ? (
                <span id={reasonId} className="block text-xs">
                  {reason}
                </span>
              ) : null}
            </span>
          </label>
        );
      })}
    </div>
  );
}

function ThrottleField({ throttle, onChange, error }: { throttle: ThrottleInput; onChange: (t: ThrottleInput) => void; error: string | null }) {
  const inputId = useId();
  const errorId = useId();
  return (
    <div className="space-y-2">
      <Radio name="throttle" value="none" checked={throttle.mode === 'none'} onChange={() => onChange({ ...throttle, mode: 'none' })} label="None — copy as fast as the paths allow" />
      <Radio name="throttle" value="limit" checked={throttle.mode === 'limit'} onChange={() => onChange({ ...throttle, mode: 'limit' })} label="Limit the copy">
        <span className="mt-1 flex items-center gap-2">
          <Label htmlFor={inputId} className="sr-only">
            Throttle (MiB/s)
          </Label>
          <Input
            id={inputId}
            type="number"
            inputMode="numeric"
            min={1}
            step={1}
            className="h-8 w-28"
            value={throttle.mibPerS}
            onFocus={() => onChange({ ...throttle, mode: 'limit' })}
            onChange={(event) => onChange({ mode: 'limit', mibPerS: event.target.value })}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? errorId : undefined}
          />
          <span aria-hidden>MiB/s</span>
        </span>
        {error ? <FieldError id={errorId}>{error}</FieldError> : null}
      </Radio>
    </div>
  );
}

function WindowFields({ window, onChange, error }: { window: { start: string; end: string; timeZone: string }; onChange: (w: { start: string; end: string; timeZone: string }) => void; error: string | null }) {
  const id = useId();
  const errorId = `${id}-error`;
  const invalid = error ? { 'aria-invalid': true, 'aria-describedby': errorId } : {};
  return (
    <span className="mt-2 block space-y-2">
      <span className="grid grid-cols-3 gap-2">
        <span className="space-y-1">
          <Label htmlFor={`${id}-start`} className="text-xs">
            Start (HH:MM)
          </Label>
          <Input id={`${id}-start`} type="time" className="h-8" value={window.start} onChange={(event) => onChange({ ...window, start: event.target.value })} {...invalid} />
        </span>
        <span className="space-y-1">
          <Label htmlFor={`${id}-end`} className="text-xs">
            End (HH:MM)
          </Label>
          <Input id={`${id}-end`} type="time" className="h-8" value={window.end} onChange={(event) => onChange({ ...window, end: event.target.value })} {...invalid} />
        </span>
        <span className="space-y-1">
          <Label htmlFor={`${id}-zone`} className="text-xs">
            Time zone
          </Label>
          <Input id={`${id}-zone`} className="h-8" value={window.timeZone} onChange={(event) => onChange({ ...window, timeZone: event.target.value })} {...invalid} />
        </span>
      </span>
      <span className="block text-xs text-muted-foreground">The switch happens only between start and end, every day; a window may cross midnight.</span>
      {error ? <FieldError id={errorId}>{error}</FieldError> : null}
    </span>
  );
}

function Prediction({ strategy, recommendation }: { strategy: 'precopy' | 'mirror'; recommendation: Options['recommendation'] }) {
  if (strategy === 'mirror') {
    return <>Predicted: {approximately(recommendation.mirror.durationS)} to resync at {formatRate(recommendation.copyRateBytesPerS)}, no pause.</>;
  }
  const { precopy } = recommendation;
  if (!precopy.converges || precopy.durationS === null || precopy.switchPauseMs === null) {
    return <>Predicted: pre-copy would not converge at these rates.</>;
  }
  return (
    <>
      Predicted: {approximately(precopy.durationS)} of copying in ~{precopy.passes} {precopy.passes === 1 ? 'pass' : 'passes'}, switch pause ~{formatLatency(precopy.switchPauseMs)} (budget{' '}
      {formatLatency(recommendation.pauseBudgetMs)}).
    </>
  );
}

/** "~3 min", but "<1 s" rather than "~<1 s". */
function approximately(seconds: number): string {
  const text = formatDuration(seconds * 1000);
  return text.startsWith('<') ? text : `~${text}`;
}

function Section({ number, title, children }: { number: number; title: string; children: ReactNode }) {
  return (
    <fieldset className="space-y-2">
      <legend className="mb-2 text-sm font-semibold">
        {number}. {title}
      </legend>
      {children}
    </fieldset>
  );
}

function Radio({ name, value, checked, onChange, label, children }: { name: string; value: string; checked: boolean; onChange: () => void; label: string; children?: ReactNode }) {
  return (
    <div className="text-sm">
      <label className="flex cursor-pointer items-start gap-2">
        <input type="radio" name={name} value={value} checked={checked} onChange={onChange} className="mt-1" />
        <span className="font-medium">{label}</span>
      </label>
      {children ? <div className="pl-5 text-muted-foreground">{children}</div> : null}
    </div>
  );
}

function FieldError({ id, children }: { id?: string; children: ReactNode }) {
  return (
    <span id={id} className="mt-1 block text-xs text-red-700 dark:text-red-400">
      {children}
    </span>
  );
}
