import 'server-only';
import type { Db } from '@/db/open';
import { z } from 'zod';
import {
  apiError,
  inventory as inventorySchema,
  LEASE_EPOCH_HEADER,
  migrationSample,
  migrationStatus,
  type CreateVolumeRequest,
  type MapLunRequest,
  type MigrationAction,
  type StartMigrationRequest,
  type StartWorkloadRequest,
  workloadStatus,
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

/**
 * Calls one host's agent over its authenticated HTTP API. A command about a migration passes the
 * lease epoch it is made under; the agent refuses it as `stale-epoch` (409) when it has seen a
 * newer one, i.e. another replica drives the migration now.
 */
export async function callAgent<T = z.infer<typeof inventorySchema>>(
  db: Db,
  host: AgentTarget,
  method: string,
  path: string,
  body?: unknown,
  schema: z.ZodType<T> = inventorySchema as unknown as z.ZodType<T>,
  leaseEpoch?: number,
): Promise<T> {
  if (!host.agentUrl) throw new AgentCallError(`host ${host.hostname} has not reported an agent URL yet`, 'no-agent-url');
  const key = await consoleKeyFor(db, host.id);
  let response: Response;
  try {
    response = await fetch(new URL(path, host.agentUrl), {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        ...(leaseEpoch === undefined ? {} : { [LEASE_EPOCH_HEADER]: String(leaseEpoch) }),
      },
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
  const parsed = schema.safeParse(payload);
  if (!parsed.success) throw new AgentCallError(`agent on ${host.hostname} answered ${method} ${path} with an unexpected body: ${z.prettifyError(parsed.error)}`, 'bad-reply');
  return parsed.data;
}

export const agentClient = {
  inventory: (db: Db, host: AgentTarget) => callAgent(db, host, 'GET', '/v1/inventory'),
  mapLun: (db: Db, host: AgentTarget, lunId: string, request: MapLunRequest) =>
    callAgent(db, host, 'PUT', `/v1/luns/${lunId}`, request),
  unmapLun: (db: Db, host: AgentTarget, lunId: string) => callAgent(db, host, 'DELETE', `/v1/luns/${lunId}`),
  createVolume: (db: Db, host: AgentTarget, request: CreateVolumeRequest) => callAgent(db, host, 'POST', '/v1/volumes', request),
  startMigration: (db: Db, host: AgentTarget, request: StartMigrationRequest, leaseEpoch: number) =>
    callAgent(db, host, 'POST', '/v1/migrations', request, migrationStatus, leaseEpoch),
  /** With `leaseEpoch`, the read also tells the agent the epoch this replica drives the migration under (never refused for it). */
  migration: (db: Db, host: AgentTarget, id: string, leaseEpoch?: number) =>
    callAgent(db, host, 'GET', `/v1/migrations/${encodeURIComponent(id)}`, undefined, migrationStatus, leaseEpoch),
  migrationSamples: (db: Db, host: AgentTarget, id: string, after?: string) =>
    callAgent(db, host, 'GET', `/v1/migrations/${encodeURIComponent(id)}/samples${after ? `?after=${encodeURIComponent(after)}` : ''}`, undefined, z.array(migrationSample)),
  migrationAction: (db: Db, host: AgentTarget, id: string, action: MigrationAction, leaseEpoch: number) =>
    callAgent(db, host, 'POST', `/v1/migrations/${encodeURIComponent(id)}/${action}`, {}, migrationStatus, leaseEpoch),
  startWorkload: (db: Db, host: AgentTarget, volume: string, request: StartWorkloadRequest) =>
    callAgent(db, host, 'PUT', workloadPath(volume), request, workloadStatus),
  workloads: (db: Db, host: AgentTarget) => callAgent(db, host, 'GET', '/v1/workloads', undefined, z.array(workloadStatus)),
  stopWorkload: (db: Db, host: AgentTarget, volume: string) => callAgent(db, host, 'DELETE', workloadPath(volume), undefined, workloadStatus),
  verifyWorkload: (db: Db, host: AgentTarget, volume: string) => callAgent(db, host, 'POST', `${workloadPath(volume)}/verify`, {}, workloadStatus),
  setMigrationThrottle: (db: Db, host: AgentTarget, id: string, bytesPerS: number | null, leaseEpoch: number) =>
    callAgent(db, host, 'PUT', `/v1/migrations/${encodeURIComponent(id)}/throttle`, { bytesPerS }, migrationStatus, leaseEpoch),
};

const workloadPath = (volume: string) => `/v1/workloads/${volume.split('/').map(encodeURIComponent).join('/')}`;
