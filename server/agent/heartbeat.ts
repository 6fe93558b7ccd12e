import { apiError, type Inventory, type VolumeWriteRate } from '../protocol/agent-api';
import { describeFetchError } from './enrol';
import type { Logger } from './log';

export interface HeartbeatDeps {
  consoleUrl: string;
  hostId: string;
  credential: string;
  agentUrl: string;
  agentVersion: string;
  intervalMs: number;
  inventory: () => Promise<Inventory>;
  /** Each volume's measured write rate, sent beside the inventory (not in it). */
  writeRates?: () => VolumeWriteRate[];
  log: Logger;
}

export interface Heartbeats {
  /** Sends one as soon as possible (after an inventory change), then resumes the interval. */
  now(): void;
  stop(): Promise<void>;
}

/** How often a repeated failure is logged again, in heartbeats, so an outage does not flood the log. */
const REPEAT_FAILURE_LOG_EVERY = 20;

/**
 * Reports to the console every intervalMs, forever: a refusal (401, e.g. the host was fenced) or
 * an unreachable console is logged and the next heartbeat goes at the normal interval. The agent
 * never exits over heartbeats; it keeps serving its volumes while the console is away.
 */
export function startHeartbeats(deps: HeartbeatDeps): Heartbeats {
  const url = `${deps.consoleUrl}/api/agent/v1/heartbeat`;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let lastOutcome = '';
  let failures = 0;
  const stopping = new AbortController();

  async function send(): Promise<void> {
    let outcome = 'ok';
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${deps.hostId}.${deps.credential}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agentUrl: deps.agentUrl, agentVersion: deps.agentVersion, inventory: await deps.inventory(), writeRates: deps.writeRates?.() }),
        signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(Math.max(deps.intervalMs * 3, 10_000))]),
      });
      const payload: unknown = await response.json().catch(() => undefined);
      if (!response.ok) {
        const error = apiError.safeParse(payload);
        outcome = `refused: HTTP ${response.status} ${error.success ? error.data.error : ''}`.trim();
      }
    } catch (error) {
      if (stopping.signal.aborted) return;
      outcome = `unreachable: ${describeFetchError(error)}`;
    }
    failures = outcome === 'ok' ? 0 : failures + 1;
    if (outcome !== lastOutcome || (failures > 0 && failures % REPEAT_FAILURE_LOG_EVERY === 0)) {
      if (outcome === 'ok') deps.log.info('heartbeat accepted by the console', { url });
      else deps.log.warn(outcome.startsWith('refused') ? 'heartbeat refused by the console' : 'console unreachable for heartbeat', { url, outcome, failures });
    }
    lastOutcome = outcome;
  }

  function tick() {
    clearTimeout(timer);
    if (stopped) return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = send().finally(() => {
      inFlight = undefined;
      if (stopped) return;
      if (again) {
        again = false;
        tick();
      } else {
        timer = setTimeout(tick, deps.intervalMs);
      }
    });
  }

  tick();
  return {
    now: tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      stopping.abort();
      await inFlight;
    },
  };
}
