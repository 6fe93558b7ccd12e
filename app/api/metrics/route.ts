/**
 * `GET /api/metrics`: Prometheus text format (server/metrics.ts). Readable by any viewer: a
 * session cookie or, for a scraper, `Authorization: Bearer <API token>` (a viewer-role token is
 * enough and is what docs/operations.md recommends).
 */
import { getDb } from '@/db/client';
import { createContext } from '@/server/api/trpc';
import { collectMetrics } from '@/server/metrics';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export async function GET(request: Request): Promise<Response> {
  const db = await getDb();
  const { user } = await createContext({ db, headers: request.headers, secure: false });
  if (!user) {
    return Response.json(
      { error: 'metrics need a session or an API token: send Authorization: Bearer tern_…' },
      { status: 401, headers: { 'www-authenticate': 'Bearer realm="tern"', 'cache-control': 'no-store' } },
    );
  }
  return new Response(await collectMetrics(db), {
    headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' },
  });
}
