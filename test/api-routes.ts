/**
 * The console's real Next.js route handlers (tRPC, metrics, health) bound to a test database,
 * and a tRPC client that calls the tRPC route function directly, as an HTTP client would.
 */
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import type { OpenDatabase } from '@/db/open';
import type { AppRouter } from '@/server/api/root';

export const CONSOLE_URL = 'http://127.0.0.1:3999';

/** `db/client.ts` keeps the process's database on `globalThis`; the routes then use this one. */
export async function bindRoutes(database: Pick<OpenDatabase, 'db'>) {
  (globalThis as unknown as { ternDatabase?: Promise<Pick<OpenDatabase, 'db'>> }).ternDatabase = Promise.resolve(database);
  const trpc = await import('@/app/api/trpc/[trpc]/route');
  const metrics = await import('@/app/api/metrics/route');
  const health = await import('@/app/api/health/route');
  return { trpc: (request: Request) => trpc.POST(request), metrics: metrics.GET, health: health.GET };
}

export function unbindRoutes() {
  delete (globalThis as unknown as { ternDatabase?: unknown }).ternDatabase;
}

/** A tRPC client whose requests carry `headers` and go straight to `handler`. */
export function routeClient(handler: (request: Request) => Promise<Response>, headers: Record<string, string> = {}) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${CONSOLE_URL}/api/trpc`,
        transformer: superjson,
        headers,
        fetch: (url, init) => handler(new Request(url, init as RequestInit)),
      }),
    ],
  });
}

/** The tRPC error code of a refused call (`UNAUTHORIZED`, `FORBIDDEN`, …), or 'OK'. */
export async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'OK';
  } catch (error) {
    if (error instanceof TRPCClientError) return (error.data as { code?: string } | undefined)?.code ?? 'UNKNOWN';
    throw error;
  }
}
