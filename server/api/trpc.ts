import 'server-only';
import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { z } from 'zod';
import type { Db } from '@/db/open';
import { ArrayError } from '@/server/arrays/driver';
import { AgentCallError } from '@/server/fleet/agent-client';
import { FleetError } from '@/server/fleet/errors';
import { apiTokenCaller, bearerToken } from '@/server/auth/api-tokens';
import { readSessionToken } from '@/server/auth/cookies';
import { clientAddress } from '@/server/auth/rate-limit';
import { ROLE_RANK, sessionUser, type Role, type SessionUser } from '@/server/auth/sessions';
import { logger } from '@/server/log';
import { recordApiRequest } from '@/server/metrics';

/** Every procedure declares who may call it; `test/authorization.test.ts` checks the whole router. */
export type Access = 'public' | Role;
export interface Meta {
  access: Access;
}

export interface Context {
  db: Db;
  user: SessionUser | null;
  sessionToken: string | undefined;
  /** Set when the caller authenticated with an API token (`Authorization: Bearer`) instead of a session. */
  apiTokenId?: string;
  /** Whether the browser sees this origin as secure (decides the cookie's name and flags). */
  secure: boolean;
  /** Response headers, for Set-Cookie; absent for server-side callers. */
  resHeaders?: Headers;
  /** The caller's address as the nearest proxy saw it, for sign-in rate limits and the audit log. */
  clientAddress?: string;
}

/** Builds the context from request headers, so the route handler, server code and tests share it. */
export async function createContext(opts: { db: Db; headers: Headers; secure: boolean; resHeaders?: Headers }): Promise<Context> {
  // A bearer token replaces the cookie: an invalid one means no user, never a fallback to a session.
  const bearer = bearerToken(opts.headers.get('authorization'));
  if (bearer !== undefined) {
    const caller = await apiTokenCaller(opts.db, bearer);
    return { db: opts.db, user: caller?.user ?? null, sessionToken: undefined, apiTokenId: caller?.tokenId, secure: opts.secure, resHeaders: opts.resHeaders, clientAddress: clientAddress(opts.headers) };
  }
  const sessionToken = readSessionToken(opts.headers.get('cookie'));
  const user = await sessionUser(opts.db, sessionToken);
  return { db: opts.db, user, sessionToken, secure: opts.secure, resHeaders: opts.resHeaders, clientAddress: clientAddress(opts.headers) };
}

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    transformer: superjson,
    errorFormatter({ shape, error }) {
      return {
        ...shape,
        data: {
          ...shape.data,
          zodError: error.cause instanceof z.ZodError ? z.flattenError(error.cause) : null,
        },
      };
    },
    sse: {
      ping: { enabled: true, intervalMs: 3_000 },
      client: { reconnectAfterInactivityMs: 8_000 },
    },
  });

/**
 * Domain refusals become client errors with their message intact ("array A2 has 40 GiB free,
 * 120 GiB needed"); anything else stays an internal error.
 */
const domainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (result.ok) return result;
  const cause = result.error.cause;
  if (cause instanceof FleetError) {
    const code = ({ 'not-found': 'NOT_FOUND', conflict: 'CONFLICT', invalid: 'BAD_REQUEST', unavailable: 'PRECONDITION_FAILED', forbidden: 'FORBIDDEN' } as const)[cause.code];
    throw new TRPCError({ code, message: cause.message, cause });
  }
  if (cause instanceof ArrayError) {
    const code = cause.code === 'not-found' ? 'NOT_FOUND' : cause.code === 'invalid' ? 'BAD_REQUEST' : cause.code === 'not-writable' ? 'PRECONDITION_FAILED' : 'CONFLICT';
    throw new TRPCError({ code, message: cause.message, cause });
  }
  if (cause instanceof AgentCallError) {
    throw new TRPCError({ code: cause.status && cause.status < 500 ? 'CONFLICT' : 'BAD_GATEWAY', message: cause.message, cause });
  }
  return result;
});

/**
 * Counts and times every call by procedure for `/api/metrics`, and logs it: mutations and
 * failures at info, successful reads only with TERN_DEBUG. Outermost, so refusals count too.
 */
const observed = t.middleware(async ({ path, type, ctx, next }) => {
  const started = performance.now();
  const result = await next();
  const durationMs = performance.now() - started;
  const code = result.ok ? 'OK' : result.error.code;
  recordApiRequest(path, type, code, durationMs / 1000);
  const fields = { procedure: path, type, code, durationMs: Math.round(durationMs * 10) / 10, user: ctx.user?.username ?? null, via: ctx.apiTokenId ? 'token' : ctx.user ? 'session' : 'anonymous' };
  if (!result.ok || type === 'mutation') logger.info('api request', fields);
  else logger.debug('api request', fields);
  return result;
});

/** The first string in an input that holds a NUL character, by its path ("label"), or null. */
function nulPath(value: unknown, path = '', depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path || 'input' : null;
  if (depth > 32 || value === null || typeof value !== 'object') return null;
  for (const [key, inner] of Object.entries(value)) {
    const found = nulPath(inner, path ? `${path}.${key}` : key, depth + 1);
    if (found) return found;
  }
  return null;
}

/**
 * Text with a NUL character is refused before any procedure sees it: PostgreSQL cannot store
 * it in a text column, so it would otherwise surface as an internal error halfway through.
 */
const noNulText = t.middleware(async ({ getRawInput, next }) => {
  const found = nulPath(await getRawInput());
  if (found) throw new TRPCError({ code: 'BAD_REQUEST', message: `${found} contains a NUL character; text must not` });
  return next();
});

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Only sign-in is public. */
export const publicProcedure = t.procedure.meta({ access: 'public' }).use(observed).use(noNulText).use(domainErrors);

function requireRole(role: Role) {
  // Registered before `.input()`, so it runs before the input is parsed: an anonymous caller
  // learns nothing about the procedure's input from its validation errors.
  return t.procedure
    .meta({ access: role })
    .use(observed)
    .use(({ ctx, next }) => {
    if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Sign in to continue' });
    if (ROLE_RANK[ctx.user.role] < ROLE_RANK[role]) {
      throw new TRPCError({ code: 'FORBIDDEN', message: `This action requires the ${role} role; you are ${ctx.user.role}` });
    }
    return next({ ctx: { ...ctx, user: ctx.user } });
    })
    .use(noNulText)
    .use(domainErrors);
}

/** Any signed-in user (viewer and up). */
export const protectedProcedure = requireRole('viewer');
export const operatorProcedure = requireRole('operator');
export const adminProcedure = requireRole('admin');
