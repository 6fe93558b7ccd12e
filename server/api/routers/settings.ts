import 'server-only';
/** Settings: the fleet's scheduling limits; everyone reads them, admins change them. */
import type { TRPCRouterRecord } from '@trpc/server';
import { DEFAULT_PAUSE_BUDGET_MS, evacuationsUnderLimits, getLimits, setLimits } from '@/server/settings/limits';
import { limitsSchema } from '@/server/settings/limits-schema';
import { adminProcedure, protectedProcedure } from '../trpc';
import { userActor } from './actor';

export const settingsRouter = {
  /** The limits, the default pause budget, and the evacuations a change of limits would reach. */
  get: protectedProcedure.query(async ({ ctx }) => ({
    limits: await getLimits(ctx.db),
    pauseBudgetMs: DEFAULT_PAUSE_BUDGET_MS,
    evacuations: await evacuationsUnderLimits(ctx.db),
  })),
  setLimits: adminProcedure.input(limitsSchema).mutation(({ ctx, input }) => setLimits(ctx.db, userActor(ctx.user), input)),
} satisfies TRPCRouterRecord;
