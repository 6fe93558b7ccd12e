import 'server-only';
import type { TRPCRouterRecord } from '@trpc/server';
import { migrationActivity } from '@/server/engine/activity';
import { overview } from '@/server/fleet/queries';
import { protectedProcedure } from '../trpc';

export const overviewRouter = {
  get: protectedProcedure.query(({ ctx }) => overview(ctx.db)),
  /** Migrations in flight with their sparklines, the aggregate copy rate and what needs a person. */
  activity: protectedProcedure.query(({ ctx }) => migrationActivity(ctx.db)),
} satisfies TRPCRouterRecord;
