/**
 * The Limits form's model (docs/ui.md §3.13): what the fields hold (text as typed; bandwidth in MiB/s,
 * empty for no budget), conversion to the API's limits (bytes/s), and the message under each
 * field, from the same zod schema the server validates with.
 */
import type { PlanLimits } from '@/server/evacuation/plan-types';
import { limitsSchema } from '@/server/settings/limits-schema';

const MiB = 1024 * 1024;

export const CONCURRENCY_FIELDS = ['global', 'perHost', 'perSourceArray', 'perTargetArray'] as const;
export type ConcurrencyField = (typeof CONCURRENCY_FIELDS)[number];

export interface LimitsForm {
  concurrency: Record<ConcurrencyField, string>;
  /** Array id → MiB/s as typed; '' = no budget. */
  bandwidthMiB: Record<string, string>;
}

/** Field key → message: a concurrency field, or `bandwidth.<arrayId>`. */
export type LimitsErrors = Record<string, string>;

const mib = (bytesPerS: number) => String(Math.round((bytesPerS / MiB) * 100) / 100);

export function formFromLimits(limits: PlanLimits): LimitsForm {
  return {
    concurrency: { global: String(limits.global), perHost: String(limits.perHost), perSourceArray: String(limits.perSourceArray), perTargetArray: String(limits.perTargetArray) },
    bandwidthMiB: Object.fromEntries(Object.entries(limits.arrayBandwidthBytesPerS).map(([id, bytesPerS]) => [id, mib(bytesPerS)])),
  };
}

export function sameForm(a: LimitsForm, b: LimitsForm): boolean {
  const budgets = (form: LimitsForm) => Object.entries(form.bandwidthMiB).filter(([, text]) => text.trim() !== '').sort(([x], [y]) => (x < y ? -1 : 1));
  return CONCURRENCY_FIELDS.every((field) => a.concurrency[field].trim() === b.concurrency[field].trim()) && JSON.stringify(budgets(a)) === JSON.stringify(budgets(b));
}

/** The limits to send, or the message for each field that is wrong. */
export function limitsFromForm(form: LimitsForm): { ok: true; limits: PlanLimits } | { ok: false; errors: LimitsErrors } {
  const errors: LimitsErrors = {};
  const number = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));
  const arrayBandwidthBytesPerS: Record<string, number> = {};
  for (const [arrayId, text] of Object.entries(form.bandwidthMiB)) {
    if (text.trim() === '') continue;
    const value = number(text);
    if (!(value > 0)) errors[`bandwidth.${arrayId}`] = 'Enter more than 0 MiB/s, or leave it empty for no budget.';
    else arrayBandwidthBytesPerS[arrayId] = Math.round(value * MiB);
  }
  const candidate = {
    global: number(form.concurrency.global),
    perHost: number(form.concurrency.perHost),
    perSourceArray: number(form.concurrency.perSourceArray),
    perTargetArray: number(form.concurrency.perTargetArray),
    arrayBandwidthBytesPerS,
  };
  const parsed = limitsSchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const [field, arrayId] = issue.path.map(String);
      const key = field === 'arrayBandwidthBytesPerS' ? `bandwidth.${arrayId}` : (field ?? 'form');
      errors[key] ??= Number.isNaN(candidate[field as ConcurrencyField]) ? 'Enter a whole number, at least 1.' : capitalize(issue.message);
    }
  }
  // The schema checks per host against global only once every field is valid; the form says it at once.
  if (!errors.perHost && !errors.global && candidate.perHost > candidate.global) {
    errors.perHost = `Concurrency per host (${candidate.perHost}) cannot exceed global concurrency (${candidate.global}).`;
  }
  return Object.keys(errors).length || !parsed.success ? { ok: false, errors } : { ok: true, limits: parsed.data };
}

const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1) + (text.endsWith('.') ? '' : '.');
