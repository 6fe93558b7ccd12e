import 'server-only';
import { z } from 'zod';
import type { Db } from '@/db/open';
import { logger } from '@/server/log';
import { recordPushedSamples } from '@/server/engine/samples';
import { enrolRequest, heartbeatRequest, sampleReport, type ApiError } from '@/server/protocol/agent-api';
import { AgentRefusedError } from './agent-refused';
import { enrolHost } from './enrolment';
import { recordHeartbeat } from './heartbeat';

export const MAX_AGENT_BODY_BYTES = 4 * 1024 * 1024;

export type RouteHandler = (request: Request) => Promise<Response>;

/**
 * The console routes agents call (`/api/agent/v1/…`), as plain Request → Response functions over
 * a given database, so the Next.js route files and the tests serve the same code.
 */
export function agentRoutes(db: Db): { handleEnrol: RouteHandler; handleHeartbeat: RouteHandler; handleSamples: RouteHandler } {
  return {
    handleEnrol: (request) =>
      respond(async () => {
        const body = await readBody(request, enrolRequest);
        return enrolHost(db, body, { remoteAddress: request.headers.get('x-forwarded-for') ?? undefined });
      }),
    handleHeartbeat: (request) =>
      respond(async () => {
        const body = await readBody(request, heartbeatRequest);
        return recordHeartbeat(db, request.headers.get('authorization'), body);
      }),
    handleSamples: (request) =>
      respond(async () => {
        const body = await readBody(request, sampleReport);
        return recordPushedSamples(db, request.headers.get('authorization'), body);
      }),
  };
}

/** The same routes keyed by `METHOD /path`, for servers that are not Next.js (tests, the fleet bench). */
export function agentRouteTable(db: Db): Record<string, RouteHandler> {
  const routes = agentRoutes(db);
  return { 'POST /api/agent/v1/enrol': routes.handleEnrol, 'POST /api/agent/v1/heartbeat': routes.handleHeartbeat, 'POST /api/agent/v1/samples': routes.handleSamples };
}

async function respond(run: () => Promise<unknown>): Promise<Response> {
  try {
    return Response.json(await run(), { headers: { 'cache-control': 'no-store' } });
  } catch (error) {
    if (error instanceof AgentRefusedError) return fail(error.status, error.message, error.code);
    logger.error('agent route failed', { error: (error as Error).message });
    return fail(500, 'internal error in the console; see its log', 'internal');
  }
}

function fail(status: number, error: string, code: string): Response {
  return Response.json({ error, code } satisfies ApiError, { status, headers: { 'cache-control': 'no-store' } });
}

/** Reads at most MAX_AGENT_BODY_BYTES, whatever Content-Length claims, then parses and validates. */
async function readBody<T>(request: Request, schema: z.ZodType<T>): Promise<T> {
  const tooLarge = () => new AgentRefusedError(`request body is over ${MAX_AGENT_BODY_BYTES} bytes`, 413, 'too-large');
  if (Number(request.headers.get('content-length') ?? 0) > MAX_AGENT_BODY_BYTES) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      size += chunk.value.byteLength;
      if (size > MAX_AGENT_BODY_BYTES) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(chunk.value);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new AgentRefusedError(`request body is not valid JSON: ${(error as Error).message}`, 400, 'bad-json');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new AgentRefusedError(`invalid request: ${z.prettifyError(parsed.error)}`, 400, 'invalid-request');
  return parsed.data;
}
