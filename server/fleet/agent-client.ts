import 'server-only';
import type { Db } from '@/db/open';
import {
  apiError,
  inventory as inventorySchema,
  type CreateVolumeRequest,
  type Inventory,
  type MapLunRequest,
} from '@/server/protocol/agent-api';
import { consoleKeyFor } from './console-secret';

/** An agent call that failed; `message` says which host and why. */
export class AgentCallError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'AgentCallError';
  }
}

export interface AgentTarget {
  id: string;
  hostname: string;
  agentUrl: string | null;
}

const TIMEOUT_MS = 15_000;

/** Calls one host's agent over its authenticated HTTP API. */
export async function callAgent(db: Db, host: AgentTarget, method: string, path: string, body?: unknown): Promise<Inventory> {
  if (!host.agentUrl) throw new AgentCallError(`host ${host.hostname} has not reported an agent URL yet`, 'no-agent-url');
  const key = await consoleKeyFor(db, host.id);
  let response: Response;
  try {
    response = await fetch(new URL(path, host.agentUrl), {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw new AgentCallError(`agent on ${host.hostname} is unreachable at ${host.agentUrl}: ${(error as Error).message}`, 'unreachable');
  }
  const payload: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const parsed = apiError.safeParse(payload);
    const reason = parsed.success ? parsed.data.error : `HTTP ${response.status}`;
    throw new AgentCallError(`agent on ${host.hostname} refused ${method} ${path}: ${reason}`, parsed.success ? parsed.data.code : 'http', response.status);
  }
  return inventorySchema.parse(payload);
}

export const agentClient = {
  inventory: (db: Db, host: AgentTarget) => callAgent(db, host, 'GET', '/v1/inventory'),
  mapLun: (db: Db, host: AgentTarget, lunId: string, request: MapLunRequest) =>
    callAgent(db, host, 'PUT', `/v1/luns/${lunId}`, request),
  unmapLun: (db: Db, host: AgentTarget, lunId: string) => callAgent(db, host, 'DELETE', `/v1/luns/${lunId}`),
  createVolume: (db: Db, host: AgentTarget, request: CreateVolumeRequest) => callAgent(db, host, 'POST', '/v1/volumes', request),
};
