import { setTimeout as sleep } from 'node:timers/promises';
import { apiError, enrolResponse, type EnrolRequest, type EnrolResponse } from '../protocol/agent-api';
import type { Logger } from './log';

/** The console said no (bad, used, expired or revoked token; hostname taken…): retrying would not help. */
export class EnrolmentRefused extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'EnrolmentRefused';
  }
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;
/** Statuses a proxy or a starting console answers with; anything else is the console's decision. */
const RETRYABLE = new Set([502, 503, 504]);

/**
 * Exchanges a one-time token for the host's identity. Retries with backoff only while the console
 * cannot be reached (it may not be up yet); a refusal throws EnrolmentRefused at once.
 */
export async function enrolWithConsole(consoleUrl: string, request: EnrolRequest, log: Logger, signal: AbortSignal): Promise<EnrolResponse> {
  const url = `${consoleUrl}/api/agent/v1/enrol`;
  for (let attempt = 1, delayMs = FIRST_RETRY_MS; ; attempt += 1, delayMs = Math.min(delayMs * 2, MAX_RETRY_MS)) {
    let response: Response | undefined;
    let problem: string;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request),
        signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]),
      });
      problem = `HTTP ${response.status}`;
    } catch (error) {
      if (signal.aborted) throw error;
      problem = describeFetchError(error);
    }
    if (response && !RETRYABLE.has(response.status)) {
      const payload: unknown = await response.json().catch(() => undefined);
      if (response.ok) {
        const parsed = enrolResponse.safeParse(payload);
        if (parsed.success) return parsed.data;
        throw new EnrolmentRefused(`the console at ${consoleUrl} answered enrolment with an unexpected body; is it a Tern console?`, response.status, 'bad-response');
      }
      const error = apiError.safeParse(payload);
      throw new EnrolmentRefused(
        error.success ? error.data.error : `the console at ${consoleUrl} answered enrolment with HTTP ${response.status}`,
        response.status,
        error.success ? error.data.code : 'http',
      );
    }
    log.warn('console not reachable for enrolment; retrying', { url, attempt, problem, retryInMs: delayMs });
    await sleep(delayMs, undefined, { signal });
  }
}

export function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
