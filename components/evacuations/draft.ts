/**
 * The evacuate wizard's draft (docs/ui.md §3.10): every choice the administrator made, read from and
 * written to the URL so a reload or back/forward keeps it, plus each step's checks and the
 * planner input built from it. Text fields stay text here, so a wrong entry survives a reload
 * with its message; the server validates the same input again.
 */
import { validateWindow } from '@/components/migrations/migrate-form';
import type { PlanConstraints, PlanLimits, StrategyChoice } from '@/server/evacuation/plan-types';

export const STEPS = ['source', 'impact', 'targets', 'limits', 'review', 'confirm'] as const;
export type Step = (typeof STEPS)[number];
export const STEP_NAMES: Record<Step, string> = {
  source: 'Source',
  impact: 'Impact',
  targets: 'Targets and placement',
  limits: 'Limits, strategy and window',
  review: 'Review',
  confirm: 'Confirm',
};

const MiB = 1024 * 1024;

export interface Draft {
  step: Step;
  /** Source array names, in the order chosen. */
  sources: string[];
  /** Target array names the administrator allows; null = every eligible array. */
  targets: string[] | null;
  allowLowerTier: boolean;
  placement: PlanConstraints['placement'];
  /** Plex key (`volumeId:lunId`) → target array id, chosen by hand. */
  overrides: Record<string, string>;
  excludedVolumeIds: string[];
  strategy: StrategyChoice;
  /** What was typed; '' = the Settings default. */
  pauseBudgetMs: string;
  order: PlanConstraints['order'];
  limits: { global: string; perHost: string; perSourceArray: string; perTargetArray: string };
  /** Array name → MiB/s as typed; absent = unlimited. */
  bandwidthMiB: Record<string, string>;
  cutover: 'auto' | 'manual';
  commit: 'auto' | 'manual';
  window: { start: string; end: string; timeZone: string } | null;
  outsideWindow: 'keep-copying' | 'pause';
  /** Warning codes acknowledged in Review. */
  acks: string[];
}

const list = (value: string | null) => (value ? value.split(',').map((s) => decodeURIComponent(s.trim())).filter(Boolean) : []);
const oneOf = <T extends string>(value: string | null, options: readonly T[], fallback: T): T => ((options as readonly string[]).includes(value ?? '') ? (value as T) : fallback);

export function parseDraft(params: URLSearchParams): Draft {
  const overrides: Record<string, string> = {};
  for (const pair of list(params.get('ov'))) {
    const at = pair.lastIndexOf('=');
    if (at > 0) overrides[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const bandwidthMiB: Record<string, string> = {};
  for (const pair of list(params.get('bw'))) {
    const at = pair.lastIndexOf('=');
    if (at > 0) bandwidthMiB[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const win = /^(\d{2}:\d{2})-(\d{2}:\d{2})@(.+)$/.exec(params.get('win') ?? '');
  return {
    step: oneOf(params.get('step'), STEPS, 'source'),
    sources: list(params.get('arrays')),
    targets: params.has('targets') ? list(params.get('targets')) : null,
    allowLowerTier: params.get('lower') === '1',
    placement: oneOf(params.get('placement'), ['balance', 'in-order'] as const, 'balance'),
    overrides,
    excludedVolumeIds: list(params.get('ex')),
    strategy: oneOf(params.get('strategy'), ['auto', 'precopy', 'mirror'] as const, 'auto'),
    pauseBudgetMs: params.get('pause') ?? '',
    order: oneOf(params.get('order'), ['smallest-first', 'largest-first', 'by-host'] as const, 'smallest-first'),
    limits: { global: params.get('lg') ?? '', perHost: params.get('lh') ?? '', perSourceArray: params.get('ls') ?? '', perTargetArray: params.get('lt') ?? '' },
    bandwidthMiB,
    cutover: oneOf(params.get('cutover'), ['auto', 'manual'] as const, 'auto'),
    commit: oneOf(params.get('commit'), ['auto', 'manual'] as const, 'auto'),
    window: win ? { start: win[1]!, end: win[2]!, timeZone: win[3]! } : params.has('win') ? { start: '', end: '', timeZone: params.get('win') ?? '' } : null,
    outsideWindow: oneOf(params.get('outside'), ['keep-copying', 'pause'] as const, 'keep-copying'),
    acks: list(params.get('ack')),
  };
}

const joined = (values: readonly string[]) => values.map(encodeURIComponent).join(',');

/** The URL query of a draft: defaults are left out so links stay short. */
export function draftToQuery(draft: Draft): string {
  const q = new URLSearchParams();
  if (draft.sources.length) q.set('arrays', joined(draft.sources));
  if (draft.step !== 'source') q.set('step', draft.step);
  if (draft.targets !== null) q.set('targets', joined(draft.targets));
  if (draft.allowLowerTier) q.set('lower', '1');
  if (draft.placement !== 'balance') q.set('placement', draft.placement);
  const overrides = Object.entries(draft.overrides);
  if (overrides.length) q.set('ov', overrides.map(([k, v]) => encodeURIComponent(`${k}=${v}`)).join(','));
  if (draft.excludedVolumeIds.length) q.set('ex', joined(draft.excludedVolumeIds));
  if (draft.strategy !== 'auto') q.set('strategy', draft.strategy);
  if (draft.pauseBudgetMs) q.set('pause', draft.pauseBudgetMs);
  if (draft.order !== 'smallest-first') q.set('order', draft.order);
  if (draft.limits.global) q.set('lg', draft.limits.global);
  if (draft.limits.perHost) q.set('lh', draft.limits.perHost);
  if (draft.limits.perSourceArray) q.set('ls', draft.limits.perSourceArray);
  if (draft.limits.perTargetArray) q.set('lt', draft.limits.perTargetArray);
  const bandwidth = Object.entries(draft.bandwidthMiB).filter(([, v]) => v !== '');
  if (bandwidth.length) q.set('bw', bandwidth.map(([k, v]) => encodeURIComponent(`${k}=${v}`)).join(','));
  if (draft.cutover !== 'auto') q.set('cutover', draft.cutover);
  if (draft.commit !== 'auto') q.set('commit', draft.commit);
  if (draft.window) q.set('win', `${draft.window.start}-${draft.window.end}@${draft.window.timeZone}`);
  if (draft.outsideWindow !== 'keep-copying') q.set('outside', draft.outsideWindow);
  if (draft.acks.length) q.set('ack', joined(draft.acks));
  return q.toString();
}

export interface FieldError {
  /** The id of the input, for the error summary's links. */
  field: string;
  message: string;
}

function wholeNumber(text: string, label: string, field: string, min: number, max: number, errors: FieldError[]): number | undefined {
  if (text.trim() === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    errors.push({ field, message: `${label} must be a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}.` });
    return undefined;
  }
  return value;
}

/**
 * Step 4's checks and the limits to send: integers ≥ 1, per host ≤ global, pause budget
 * 10–10,000 ms, bandwidths whole MiB/s, a window that exists. `defaults` are the Settings
 * limits, so "per host ≤ global" holds against what would really apply.
 */
export function checkLimits(draft: Draft, arrayIdsByName: ReadonlyMap<string, string>, defaults: PlanLimits): { errors: FieldError[]; limits: Partial<PlanLimits>; pauseBudgetMs: number | undefined } {
  const errors: FieldError[] = [];
  const limits: Partial<PlanLimits> = {};
  const global = wholeNumber(draft.limits.global, 'Global concurrency', 'limit-global', 1, 10_000, errors);
  const perHost = wholeNumber(draft.limits.perHost, 'Concurrency per host', 'limit-per-host', 1, 10_000, errors);
  const perSourceArray = wholeNumber(draft.limits.perSourceArray, 'Concurrency per source array', 'limit-per-source', 1, 10_000, errors);
  const perTargetArray = wholeNumber(draft.limits.perTargetArray, 'Concurrency per target array', 'limit-per-target', 1, 10_000, errors);
  if (global !== undefined) limits.global = global;
  if (perHost !== undefined) limits.perHost = perHost;
  if (perSourceArray !== undefined) limits.perSourceArray = perSourceArray;
  if (perTargetArray !== undefined) limits.perTargetArray = perTargetArray;
  const effectiveGlobal = global ?? defaults.global;
  const effectiveHost = perHost ?? defaults.perHost;
  if (effectiveHost > effectiveGlobal && !errors.some((e) => e.field === 'limit-per-host' || e.field === 'limit-global')) {
    errors.push({ field: 'limit-per-host', message: `Concurrency per host (${effectiveHost}) cannot be above the global limit (${effectiveGlobal}).` });
  }
  const bandwidth: Record<string, number> = {};
  for (const [name, text] of Object.entries(draft.bandwidthMiB)) {
    const id = arrayIdsByName.get(name);
    const value = wholeNumber(text, `Bandwidth for ${name} (MiB/s)`, `bandwidth-${name}`, 1, 1_000_000, errors);
    if (id && value !== undefined) bandwidth[id] = value * MiB;
  }
  if (Object.keys(bandwidth).length) limits.arrayBandwidthBytesPerS = bandwidth;
  const pauseBudgetMs = wholeNumber(draft.pauseBudgetMs, 'The pause budget (ms)', 'pause-budget', 10, 10_000, errors);
  if (draft.window) {
    const check = validateWindow(draft.window);
    if (!check.ok) errors.push({ field: 'window-start', message: check.error });
  }
  return { errors, limits, pauseBudgetMs };
}

/** What `evacuations.plan` and `create` take as constraints, from the draft. */
export function planConstraints(draft: Draft, arrayIdsByName: ReadonlyMap<string, string>, pauseBudgetMs: number | undefined): Partial<PlanConstraints> & { sourceArrayIds: string[] } {
  const ids = (names: readonly string[]) => names.map((n) => arrayIdsByName.get(n)).filter((id): id is string => Boolean(id));
  const constraints: Partial<PlanConstraints> & { sourceArrayIds: string[] } = {
    sourceArrayIds: ids(draft.sources),
    targetArrayIds: draft.targets === null ? null : ids(draft.targets),
    allowLowerTier: draft.allowLowerTier,
    placement: draft.placement,
    overrides: draft.overrides,
    excludedVolumeIds: draft.excludedVolumeIds,
    strategy: draft.strategy,
    order: draft.order,
  };
  if (pauseBudgetMs !== undefined) constraints.pauseBudgetMs = pauseBudgetMs;
  return constraints;
}

/** What Confirm asks to be typed: the first source's name, and "+N" for the others ("ARR-03 +1"). */
export function confirmPhrase(sourceNames: readonly string[]): string {
  const [first, ...rest] = sourceNames;
  if (!first) return '';
  return rest.length ? `${first} +${rest.length}` : first;
}
