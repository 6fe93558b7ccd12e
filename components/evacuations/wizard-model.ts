/**
 * What every step of the evacuate wizard reads: the draft and how to change it, the fleet's
 * arrays, the Settings defaults, the latest dry-run plan and whether one is in flight, and the
 * viewer's role. Plus each step's check, so the step list, Next and the error summary agree.
 */
import type { ArrayListItem, Role } from '@/components/api-types';
import { formatDuration } from '@/components/format';
import type { PlanLimits, PlanResult } from '@/server/evacuation/plan-types';
import { checkLimits, confirmPhrase, type Draft, type FieldError, type Step } from './draft';

export interface WizardModel {
  draft: Draft;
  update: (patch: Partial<Draft>) => void;
  arrays: ArrayListItem[];
  arrayById: ReadonlyMap<string, ArrayListItem>;
  arrayIdsByName: ReadonlyMap<string, string>;
  defaults: { limits: PlanLimits; pauseBudgetMs: number };
  plan: PlanResult | undefined;
  planError: string | null;
  /** A dry run is in flight or waiting for its debounce. */
  recalculating: boolean;
  replan: () => void;
  role: Role | null;
  /** Set once Next was pressed on an invalid step: show its errors. */
  showErrors: boolean;
}

/** Why an array cannot be a source, or null when it can. */
export function sourceIneligibility(array: ArrayListItem): string | null {
  if (array.state === 'offline') return 'Offline — nothing can be read from it';
  if (array.state === 'evacuating') return 'Evacuating — already being evacuated';
  if (array.state === 'evacuated') return 'Evacuated — nothing is left on it';
  if (array.lunCount === 0) return 'No volumes — nothing to move';
  return null;
}

/** The targets in use: those ticked (or, untouched, every eligible one) that the planner finds eligible. */
export function selectedTargetNames(model: Pick<WizardModel, 'draft' | 'plan'>): string[] {
  const eligible = (model.plan?.targets ?? []).filter((t) => t.eligible).map((t) => t.name);
  return model.draft.targets === null ? eligible : model.draft.targets.filter((name) => eligible.includes(name));
}

export function ackKey(warning: { code: string; message: string }): string {
  let hash = 0;
  for (const char of warning.message) hash = (hash * 31 + char.charCodeAt(0)) | 0;
  return `${warning.code}.${(hash >>> 0).toString(36)}`;
}

/** The problems that keep a step from validating; empty when Next may go on. */
export function stepErrors(step: Step, model: WizardModel, typed = ''): FieldError[] {
  const { draft, plan } = model;
  switch (step) {
    case 'source': {
      if (draft.sources.length === 0) return [{ field: 'source-list', message: 'Choose at least one array to evacuate.' }];
      const errors: FieldError[] = [];
      for (const name of draft.sources) {
        const id = model.arrayIdsByName.get(name);
        const array = id ? model.arrayById.get(id) : undefined;
        if (!array) errors.push({ field: 'source-list', message: `There is no array named ${name}; untick it.` });
        else {
          const why = sourceIneligibility(array);
          if (why) errors.push({ field: 'source-list', message: `${name} cannot be evacuated: ${why}.` });
        }
      }
      return errors;
    }
    case 'impact':
      return plan ? [] : [{ field: 'impact', message: model.planError ?? 'Waiting for the dry run of the plan.' }];
    case 'targets':
      if (!plan) return [{ field: 'target-list', message: 'Waiting for the dry run of the plan.' }];
      return selectedTargetNames(model).length === 0 ? [{ field: 'target-list', message: 'Select at least one target array.' }] : [];
    case 'limits':
      return checkLimits(draft, model.arrayIdsByName, model.defaults.limits).errors;
    case 'review': {
      if (!plan || model.recalculating) return [{ field: 'review-plan', message: 'Waiting for the plan to be recalculated.' }];
      const errors: FieldError[] = [];
      const blocking = plan.cannotMove.filter((c) => c.code !== 'excluded');
      if (plan.blocked || blocking.length) errors.push({ field: 'cannot-move', message: `${blocking.length} ${blocking.length === 1 ? 'volume cannot' : 'volumes cannot'} move; resolve ${blocking.length === 1 ? 'it' : 'them'} below.` });
      const missing = plan.warnings.filter((w) => w.needsAcknowledgement && !draft.acks.includes(ackKey(w)));
      if (missing.length) errors.push({ field: 'acknowledgements', message: `Acknowledge ${missing.length === 1 ? 'the warning' : `the ${missing.length} warnings`} under "Please acknowledge".` });
      if (plan.moves.length === 0) errors.push({ field: 'review-plan', message: 'The plan moves nothing.' });
      return errors;
    }
    case 'confirm': {
      const errors: FieldError[] = [];
      if (model.role !== 'operator' && model.role !== 'admin') errors.push({ field: 'confirm-text', message: 'Starting an evacuation requires the operator role.' });
      if (typed !== confirmPhrase(draft.sources)) errors.push({ field: 'confirm-text', message: `Type ${confirmPhrase(draft.sources)} exactly to confirm.` });
      return errors;
    }
  }
}

/** "6 h 10 min – 7 h 40 min" (P10–P90), or one figure when they agree. */
export function durationRange(seconds: { p10: number; p90: number }): string {
  const low = formatDuration(seconds.p10 * 1000);
  const high = formatDuration(seconds.p90 * 1000);
  if (low === high) return low.startsWith('<') ? low : `~${low}`;
  return `${low} – ${high}`;
}
