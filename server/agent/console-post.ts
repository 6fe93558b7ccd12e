/**
 * What the agent's repeated calls to the console (heartbeats, sample pushes) share: one POST with
 * the host's credential, its outcome in words, and a log that says when the outcome changes (and
 * again every so many failures) rather than once per call, so an outage does not flood the log.
 */
import { apiError } from '../protocol/agent-api';
import { describeFetchError } from './enrol';
import type { Logger } from './log';

export interface ConsoleCredential {
  hostId: string;
  credential: string;
}

/** `ok` with the answer's JSON, or why not: `refused: HTTP 401 …`, `unreachable: …`; undefined when aborted by `stopping`. */
export async function postToConsole(
  url: string,
  from: ConsoleCredential,
  body: unknown,
  stopping: AbortSignal,
  timeoutMs: number,
): Promise<{ outcome: 'ok'; payload: unknown } | { outcome: string; payload?: undefined } | undefined> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${from.hostId}.${from.credential}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.any([stopping, AbortSignal.timeout(timeoutMs)]),
    });
    const payload: unknown = await response.json().catch(() => undefined);
    if (response.ok) return { outcome: 'ok', payload };
    const error = apiError.safeParse(payload);
    return { outcome: `refused: HTTP ${response.status} ${error.success ? error.data.error : ''}`.trim() };
  } catch (error) {
    if (stopping.aborted) return undefined;
    return { outcome: `unreachable: ${describeFetchError(error)}` };
  }
}

export class OutcomeLog {
  private last: string;
  private failures = 0;

  constructor(
    private readonly log: Logger,
    private readonly repeatEvery: number,
    private readonly say: { ok: string; failed: (outcome: string) => string },
    /** The outcome assumed before the first call: a first success is logged only if this is not 'ok'. */
    initial = '',
  ) {
    this.last = initial;
  }

  record(outcome: string, fields: Record<string, unknown>) {
    this.failures = outcome === 'ok' ? 0 : this.failures + 1;
    if (outcome !== this.last || (this.failures > 0 && this.failures % this.repeatEvery === 0)) {
      if (outcome === 'ok') this.log.info(this.say.ok, fields);
      else this.log.warn(this.say.failed(outcome), { ...fields, outcome, failures: this.failures });
    }
    this.last = outcome;
  }
}
