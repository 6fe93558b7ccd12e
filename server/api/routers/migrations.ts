import 'server-only';
import type { TRPCRouterRecord } from '@trpc/server';
import { desc } from 'drizzle-orm';
import { migrations } from '@/db/schema';
import { protectedProcedure } from '../trpc';

export const migrationsRouter = {
  // The migration engine arrives with its own issue; until then the list is honestly empty.
  list: protectedProcedure.query(({ ctx }) => ctx.db.select().from(migrations).orderBy(desc(migrations.createdAt)).limit(200)),
} satisfies TRPCRouterRecord;
