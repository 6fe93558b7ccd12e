import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { getDb } from '@/db/client';
import { appRouter } from '@/server/api/root';
import { refuseCrossSite } from '@/server/api/request-guard';
import { createContext } from '@/server/api/trpc';
import { isSecureOrigin } from '@/server/auth/cookies';
import { recordEvent } from '@/server/events/log';
import { logger } from '@/server/log';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

async function handler(request: Request) {
  const db = await getDb();
  const refusal = refuseCrossSite(request);
  if (refusal) {
    await recordEvent(db, {
      kind: 'api.request-refused',
      severity: 'warning',
      actor: { kind: 'system', name: 'console' },
      object: { kind: 'api', name: new URL(request.url).pathname },
      message: refusal,
    });
    return Response.json({ error: { message: refusal, code: 'FORBIDDEN' } }, { status: 403 });
  }
  const url = new URL(request.url);
  const secure = isSecureOrigin(url, request.headers.get('x-forwarded-proto'));
  return fetchRequestHandler({
    endpoint: '/api/trpc',
    req: request,
    router: appRouter,
    createContext: ({ resHeaders }) => createContext({ db, headers: request.headers, secure, resHeaders }),
    onError({ error, path }) {
      if (error.code === 'INTERNAL_SERVER_ERROR') logger.error('tRPC procedure failed', { path, error: error.cause?.message ?? error.message });
    },
  });
}

export { handler as GET, handler as POST };
