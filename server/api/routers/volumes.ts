import 'server-only';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { migrationOptions } from '@/server/fleet/migration-options';
import { protectedProcedure } from '../trpc';

export const volumesRouter = {
  /** What the Migrate dialog offers for a volume: targets with their eligibility, and the recommended strategy. */
  migrationOptions: protectedProcedure
    .input(z.object({ volumeId: z.uuid(), throttleBytesPerS: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).nullish() }))
    .query(({ ctx, input }) => migrationOptions(ctx.db, input)),
} satisfies TRPCRouterRecord;
