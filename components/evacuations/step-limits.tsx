'use client';
/**
 * Wizard step 4, Limits, strategy and window (docs/ui.md §3.10): concurrency and per-array bandwidth
 * (defaults from Settings as placeholders, each with a reset), the strategy with Auto's split,
 * the pause budget, cutover and commit policies, the maintenance window and what happens outside
 * it, and the order. The predicted duration under the form follows every change.
 */
import { formatDuration, formatRate, formatTimeOfDay } from '@/components/format';
import { Input, Label } from '@/components/ui/input';
import { Spinner } from '@/components/ui/spinner';
import { useNow } from '@/components/use-now';
import { checkLimits } from './draft';
import { errorFor, NumberField, Radio, Section } from './wizard-parts';
import { selectedTargetNames, type WizardModel } from './wizard-model';

const MiB = 1024 * 1024;

export function StepLimits({ model }: { model: WizardModel }) {
  const { draft, update, defaults, plan } = model;
  const { errors } = checkLimits(draft, model.arrayIdsByName, defaults.limits);
  const shownErrors = model.showErrors ? errors : errors.filter((e) => e.field !== 'window-start' || draft.window?.start);
  const err = (field: string) => errorFor(shownErrors, field);
  const limit = (key: keyof typeof draft.limits) => (value: string) => update({ limits: { ...draft.limits, [key]: value } });
  const bandwidthArrays = [...draft.sources.map((name) => ({ name, role: 'read' })), ...selectedTargetNames(model).map((name) => ({ name, role: 'write' }))];
  const budgetDefault = (name: string) => {
    const id = model.arrayIdsByName.get(name);
    const bytes = id ? defaults.limits.arrayBandwidthBytesPerS[id] : undefined;
    return bytes ? String(Math.round(bytes / MiB)) : 'unlimited';
  };
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const now = useNow();

  return (
    <div className="space-y-6">
      <p className="text-xs text-muted-foreground">Defaults come from Settings → Limits; an empty field uses them.</p>
      <Section title="Concurrency">
        <div className="flex flex-wrap gap-4">
          <NumberField id="limit-global" label="Global" value={draft.limits.global} placeholder={String(defaults.limits.global)} onChange={limit('global')} error={err('limit-global')} />
          <NumberField id="limit-per-host" label="Per host" value={draft.limits.perHost} placeholder={String(defaults.limits.perHost)} onChange={limit('perHost')} error={err('limit-per-host')} />
          <NumberField id="limit-per-source" label="Per source array" value={draft.limits.perSourceArray} placeholder={String(defaults.limits.perSourceArray)} onChange={limit('perSourceArray')} error={err('limit-per-source')} />
          <NumberField id="limit-per-target" label="Per target array" value={draft.limits.perTargetArray} placeholder={String(defaults.limits.perTargetArray)} onChange={limit('perTargetArray')} error={err('limit-per-target')} />
        </div>
      </Section>

      <Section title="Bandwidth" description="Per array, shared fairly by its jobs: reads on a source, writes on a target. Empty means the Settings budget.">
        <div className="flex flex-wrap gap-4">
          {bandwidthArrays.map(({ name, role }) => (
            <NumberField
              key={name}
              id={`bandwidth-${name}`}
              label={`${name} (${role})`}
              unit="MiB/s"
              value={draft.bandwidthMiB[name] ?? ''}
              placeholder={budgetDefault(name)}
              onChange={(value) => update({ bandwidthMiB: { ...draft.bandwidthMiB, [name]: value } })}
              error={err(`bandwidth-${name}`)}
            />
          ))}
        </div>
      </Section>

      <Section title="Strategy">
        <Radio name="strategy" value="auto" checked={draft.strategy === 'auto'} onChange={() => update({ strategy: 'auto' })} label="Auto — per volume, from its write rate">
          {plan && draft.strategy === 'auto' ? (
            <span data-testid="strategy-split">
              Auto: {plan.totals.byStrategy.precopy} pre-copy, {plan.totals.byStrategy.mirror} mirror
              {plan.totals.byStrategy.mirror ? ' (writes too high to converge within the pause budget)' : ''}
            </span>
          ) : null}
        </Radio>
        <Radio name="strategy" value="precopy" checked={draft.strategy === 'precopy'} onChange={() => update({ strategy: 'precopy' })} label="Pre-copy for all" />
        <Radio name="strategy" value="mirror" checked={draft.strategy === 'mirror'} onChange={() => update({ strategy: 'mirror' })} label="Mirror for all" />
      </Section>

      <Section title="Pause budget">
        <NumberField
          id="pause-budget"
          label="Longest write pause a pre-copy switch may take"
          unit="ms"
          value={draft.pauseBudgetMs}
          placeholder={String(defaults.pauseBudgetMs)}
          onChange={(value) => update({ pauseBudgetMs: value })}
          error={err('pause-budget')}
        />
      </Section>

      <div className="grid gap-6 md:grid-cols-2">
        <Section title="Cutover">
          <Radio name="cutover" value="auto" checked={draft.cutover === 'auto'} onChange={() => update({ cutover: 'auto' })} label="Automatic when ready" />
          <Radio name="cutover" value="manual" checked={draft.cutover === 'manual'} onChange={() => update({ cutover: 'manual' })} label="Manual: each waits in Ready for you" />
        </Section>
        <Section title="Commit">
          <Radio name="commit" value="auto" checked={draft.commit === 'auto'} onChange={() => update({ commit: 'auto' })} label="Automatically after verification" />
          <Radio name="commit" value="manual" checked={draft.commit === 'manual'} onChange={() => update({ commit: 'manual' })} label="Keep sources until I press Commit all">
            Each volume stays roll-back-able until then.
          </Radio>
        </Section>
      </div>

      <Section title="Window">
        <label className="flex items-center gap-2 text-sm">
          <input
            type="checkbox"
            checked={draft.window !== null}
            onChange={(event) => update({ window: event.target.checked ? { start: '22:00', end: '06:00', timeZone: browserZone } : null })}
          />
          Start and cut over only inside a daily window
        </label>
        {draft.window ? (
          <div className="space-y-2 pl-6">
            <div className="flex flex-wrap gap-3">
              <div className="space-y-1">
                <Label htmlFor="window-start" className="text-xs">
                  Start (HH:MM)
                </Label>
                <Input id="window-start" type="time" className="h-8 w-32" value={draft.window.start} onChange={(event) => update({ window: { ...draft.window!, start: event.target.value } })} aria-invalid={err('window-start') ? true : undefined} />
              </div>
              <div className="space-y-1">
                <Label htmlFor="window-end" className="text-xs">
                  End (HH:MM)
                </Label>
                <Input id="window-end" type="time" className="h-8 w-32" value={draft.window.end} onChange={(event) => update({ window: { ...draft.window!, end: event.target.value } })} />
              </div>
              <div className="space-y-1">
                <Label htmlFor="window-zone" className="text-xs">
                  Time zone
                </Label>
                <Input id="window-zone" className="h-8 w-48" value={draft.window.timeZone} onChange={(event) => update({ window: { ...draft.window!, timeZone: event.target.value } })} />
              </div>
            </div>
            {err('window-start') ? <p className="text-xs text-red-700 dark:text-red-400">{err('window-start')}</p> : null}
            <div role="radiogroup" aria-label="Outside the window" className="space-y-1">
              <p className="text-xs text-muted-foreground">Outside the window:</p>
              <Radio name="outside" value="keep-copying" checked={draft.outsideWindow === 'keep-copying'} onChange={() => update({ outsideWindow: 'keep-copying' })} label="Keep copying, hold cutovers" />
              <Radio name="outside" value="pause" checked={draft.outsideWindow === 'pause'} onChange={() => update({ outsideWindow: 'pause' })} label="Pause copying" />
            </div>
          </div>
        ) : null}
      </Section>

      <Section title="Order">
        <div role="radiogroup" aria-label="Order" className="flex flex-wrap gap-4">
          <Radio name="order" value="smallest-first" checked={draft.order === 'smallest-first'} onChange={() => update({ order: 'smallest-first' })} label="Smallest first" />
          <Radio name="order" value="largest-first" checked={draft.order === 'largest-first'} onChange={() => update({ order: 'largest-first' })} label="Largest first" />
          <Radio name="order" value="by-host" checked={draft.order === 'by-host'} onChange={() => update({ order: 'by-host' })} label="By host" />
        </div>
      </Section>

      <p className="rounded-md border bg-muted/30 px-3 py-2 text-sm" data-testid="limits-prediction" aria-live="polite">
        {plan && now ? (
          <>
            Predicted: <span className="font-medium">{range(plan.prediction.seconds.p10, plan.prediction.seconds.p90)}</span>, finishing {formatTimeOfDay(now + plan.prediction.seconds.p10 * 1000)}–
            {formatTimeOfDay(now + plan.prediction.seconds.p90 * 1000)} if started now. {plan.prediction.bottleneck ? `Pace set by ${plan.prediction.bottleneck}.` : ''}
          </>
        ) : (
          'Predicted: —'
        )}{' '}
        {model.recalculating ? (
          <span className="inline-flex items-center gap-1 text-muted-foreground">
            <Spinner className="size-3" /> recalculating…
          </span>
        ) : null}
        {plan && plan.totals.writeRateBytesPerS ? <span className="block text-xs text-muted-foreground">Applications write {formatRate(plan.totals.writeRateBytesPerS)} to these volumes now.</span> : null}
      </p>
    </div>
  );
}

function range(lowS: number, highS: number): string {
  const low = formatDuration(lowS * 1000);
  const high = formatDuration(highS * 1000);
  if (low === high) return low.startsWith('<') ? low : `~${low}`;
  return `${low} – ${high}`;
}
