import 'server-only';
/**
 * Owns what an evacuation is asked with: the zod schemas of its constraints, limits and window
 * (shared by `plan` and `create`), the defaults that fill what the caller left out, and the
 * limits in force (Settings, overridden per evacuation).
 */
import { z } from 'zod';
import type { Db } from '@/db/open';
import { measuredCopyRate } from '@/server/fleet/migration-options';
import { DEFAULT_PAUSE_BUDGET_MS } from '@/server/fleet/strategy-model';
import { cutoverWindowSchema } from '@/server/engine/window';
import { getLimits } from '@/server/settings/limits';
import type { PlanConstraints, PlanLimits } from './plan-types';

const concurrency = z.number().int().min(1).max(10_000);
const bytesPerS = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const planLimitsSchema = z.object({
  global: concurrency,
  perHost: concurrency,
  perSourceArray: concurrency,
  perTargetArray: concurrency,
  arrayBandwidthBytesPerS: z.record(z.uuid(), bytesPerS),
});

export const limitsOverrideSchema = planLimitsSchema.partial().strict();

export const constraintsInputSchema = z
  .object({
    sourceArrayIds: z.array(z.uuid()).min(1, 'name at least one source array').max(32),
    targetArrayIds: z.array(z.uuid()).max(256).nullable(),
    allowLowerTier: z.boolean(),
    placement: z.enum(['balance', 'in-order']),
    overrides: z.record(z.string().regex(/^[0-9a-f-]{36}:[0-9a-f-]{36}$/, 'an override key is volumeId:lunId'), z.uuid()),
    excludedVolumeIds: z.array(z.uuid()).max(100_000),
    strategy: z.enum(['auto', 'precopy', 'mirror']),
    pauseBudgetMs: z.number().int().min(1).max(10_000),
    order: z.enum(['smallest-first', 'largest-first', 'by-host']),
    expectedCopyRateBytesPerS: bytesPerS,
    copyRateBasis: z.enum(['measured', 'default']),
  })
  .partial()
  .required({ sourceArrayIds: true })
  .strict()
  .refine((c) => new Set(c.sourceArrayIds).size === c.sourceArrayIds.length, { error: 'a source array is named twice', path: ['sourceArrayIds'] });

export type ConstraintsInput = z.infer<typeof constraintsInputSchema>;
export type LimitsOverride = z.infer<typeof limitsOverrideSchema>;

export const evacuationWindowSchema = cutoverWindowSchema;

export const createEvacuationSchema = z.object({
  constraints: constraintsInputSchema,
  limits: limitsOverrideSchema.optional(),
  window: evacuationWindowSchema.nullable(),
  outsideWindow: z.enum(['keep-copying', 'pause']),
  cutover: z.enum(['auto', 'manual']),
  commit: z.enum(['auto', 'manual']),
  confirm: z.string().max(300),
});

export type CreateEvacuationInput = z.infer<typeof createEvacuationSchema>;

/** The constraints with every default filled in; the copy rate is the fleet's measured one, else 200 MiB/s. */
export async function withDefaults(db: Db, input: ConstraintsInput): Promise<PlanConstraints> {
  const copyRate =
    input.expectedCopyRateBytesPerS === undefined ? await measuredCopyRate(db, null) : { bytesPerS: input.expectedCopyRateBytesPerS, basis: input.copyRateBasis };
  return {
    sourceArrayIds: input.sourceArrayIds,
    targetArrayIds: input.targetArrayIds ?? null,
    allowLowerTier: input.allowLowerTier ?? false,
    placement: input.placement ?? 'balance',
    overrides: input.overrides ?? {},
    excludedVolumeIds: input.excludedVolumeIds ?? [],
    strategy: input.strategy ?? 'auto',
    pauseBudgetMs: input.pauseBudgetMs ?? DEFAULT_PAUSE_BUDGET_MS,
    order: input.order ?? 'smallest-first',
    expectedCopyRateBytesPerS: copyRate.bytesPerS,
    ...(copyRate.basis ? { copyRateBasis: copyRate.basis } : {}),
  };
}

/** The limits in force for an evacuation: Settings, then the evacuation's own overrides. */
export async function effectiveLimits(db: Db, override: LimitsOverride | undefined): Promise<PlanLimits> {
  const base = await getLimits(db);
  return {
    ...base,
    ...override,
    arrayBandwidthBytesPerS: { ...base.arrayBandwidthBytesPerS, ...override?.arrayBandwidthBytesPerS },
  };
}
