/**
 * `GET /api/health` for load balancers and probes: no authentication, nothing secret. 200 when
 * the database answers a query within two seconds, 503 naming what is wrong otherwise.
 */
import { getDb } from '@/db/client';
import { pingDatabase } from '@/server/metrics';
import packageJson from '@/package.json';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

const DATABASE_TIMEOUT_MS = 2_000;

/** The error's first line, without any connection URL it might quote. */
function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? '').replace(/\b\w+:\/\/\S+/g, '(url)').slice(0, 200);
}

export async function GET(): Promise<Response> {
  const common = { version: packageJson.version, uptimeS: Math.round(process.uptime()) };
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${DATABASE_TIMEOUT_MS} ms`)), DATABASE_TIMEOUT_MS);
    });
    await Promise.race([getDb().then(pingDatabase), timeout]);
    return Response.json({ status: 'ok', database: 'ok', ...common }, { headers: { 'cache-control': 'no-store' } });
  } catch (error) {
    return Response.json({ status: 'error', database: `error: ${describe(error)}`, ...common }, { status: 503, headers: { 'cache-control': 'no-store' } });
  } finally {
    clearTimeout(timer);
  }
}
