import { getDb } from '@/db/client';
import { agentRoutes } from '@/server/fleet/agent-routes';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export async function POST(request: Request): Promise<Response> {
  return agentRoutes(await getDb()).handleSamples(request);
}
