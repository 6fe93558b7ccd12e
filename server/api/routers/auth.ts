import 'server-only';
import { TRPCError, type TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { config } from '@/server/config';
import { clearedSessionCookies, sessionCookie } from '@/server/auth/cookies';
import { signIn, signOut, SignInError, SignInRateLimitedError } from '@/server/auth/sessions';
import { protectedProcedure, publicProcedure } from '../trpc';

export const authRouter = {
  signIn: publicProcedure
    .input(z.object({ username: z.string().trim().min(1, 'enter your username').max(64), password: z.string().min(1, 'enter your password').max(256) }))
    .mutation(async ({ ctx, input }) => {
      try {
        const { token, user } = await signIn(ctx.db, input.username, input.password, config.sessionTtlMs, ctx.clientAddress);
        ctx.resHeaders?.append('set-cookie', sessionCookie(token, Math.floor(config.sessionTtlMs / 1000), ctx.secure));
        return user;
      } catch (error) {
        if (error instanceof SignInError) throw new TRPCError({ code: 'UNAUTHORIZED', message: error.message });
        if (error instanceof SignInRateLimitedError) {
          // tRPC answers TOO_MANY_REQUESTS with HTTP 429 and keeps the response headers set here.
          ctx.resHeaders?.set('retry-after', String(error.refusal.retryAfterS));
          throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: error.message });
        }
        throw error;
      }
    }),
  signOut: protectedProcedure.mutation(async ({ ctx }) => {
    if (ctx.sessionToken) await signOut(ctx.db, ctx.sessionToken, ctx.user);
    for (const cookie of clearedSessionCookies(ctx.secure)) ctx.resHeaders?.append('set-cookie', cookie);
    return { signedOut: true };
  }),
  me: protectedProcedure.query(({ ctx }) => ctx.user),
} satisfies TRPCRouterRecord;
