import 'server-only';
/** API tokens for automation: admins create (the secret is shown once), list and revoke them. */
import type { TRPCRouterRecord } from '@trpc/server';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { createApiToken, listApiTokens, revokeApiToken } from '@/server/auth/api-tokens';
import { userRole } from '@/db/schema';
import { adminProcedure } from '../trpc';
import { userActor } from './actor';

export const tokensRouter = {
  list: adminProcedure.query(({ ctx }) => listApiTokens(ctx.db)),
  create: adminProcedure
    .input(
      z.object({
        name: z.string().trim().min(1, 'name the token after what will use it').max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'use letters, digits, space, dot, dash and underscore'),
        role: z.enum(userRole.enumValues),
        ttlDays: z.number().int().min(1, 'a token lives at least a day').max(366, 'a token lives at most 366 days'),
      }),
    )
    .mutation(({ ctx, input }) => {
      // A leaked token must not be able to mint its own successors.
      if (ctx.apiTokenId) throw new TRPCError({ code: 'FORBIDDEN', message: 'API tokens are created from a signed-in session, not with another token' });
      return createApiToken(ctx.db, ctx.user, input);
    }),
  revoke: adminProcedure.input(z.object({ id: z.uuid() })).mutation(({ ctx, input }) => revokeApiToken(ctx.db, userActor(ctx.user), input.id)),
} satisfies TRPCRouterRecord;
