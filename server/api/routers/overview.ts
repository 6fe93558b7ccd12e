import 'server-only';
import type { TRPCRouterRecord } from '@trpc/server';
import { overview } from '@/server/fleet/queries';
import { protectedProcedure } from '../trpc';

export const overviewRouter = {
  get: protectedProcedure.query(({ ctx }) => overview(ctx.db)),
} satisfies TRPCRouterRecord;
