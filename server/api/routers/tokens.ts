import 'server-only';
/** API tokens for automation: admins create (the secret is shown once), list and revoke them. */
import type { TRPCRouterRecord } from '@trpc/server';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { apiTokenInput } from '@/server/auth/api-token-schema';
import { createApiToken, listApiTokens, revokeApiToken } from '@/server/auth/api-tokens';
import { adminProcedure } from '../trpc';
import { userActor } from './actor';

export const tokensRouter = {
  list: adminProcedure.query(({ ctx }) => listApiTokens(ctx.db)),
  create: adminProcedure
    .input(apiTokenInput)
    .mutation(({ ctx, input }) => {
      // A leaked token must not be able to mint its own successors.
      if (ctx.apiTokenId) throw new TRPCError({ code: 'FORBIDDEN', message: 'API tokens are created from a signed-in session, not with another token' });
      return createApiToken(ctx.db, ctx.user, input);
    }),
  revoke: adminProcedure.input(z.object({ id: z.uuid() })).mutation(({ ctx, input }) => revokeApiToken(ctx.db, userActor(ctx.user), input.id)),
} satisfies TRPCRouterRecord;
