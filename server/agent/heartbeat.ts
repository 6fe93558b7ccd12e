import { heartbeatResponse, type HeartbeatRequest, type Inventory, type VolumeWriteRate } from '../protocol/agent-api';
import { hashInventory } from '../protocol/inventory-hash';
import { OutcomeLog, postToConsole } from './console-post';
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
  const stopping = new AbortController();

  const outcomes = new OutcomeLog(deps.log, REPEAT_FAILURE_LOG_EVERY, {
    ok: 'heartbeat accepted by the console',
    failed: (outcome) => (outcome.startsWith('refused') ? 'heartbeat refused by the console' : 'console unreachable for heartbeat'),
  });

  /** The inventory hash the console said it holds: while ours matches, heartbeats carry only the hash. */
  let held: string | null | undefined;

  async function send(): Promise<void> {
    const inventory = await deps.inventory();
    const inventoryHash = hashInventory(inventory);
    const sendsInventory = inventoryHash !== held;
    const body: HeartbeatRequest = {
      agentUrl: deps.agentUrl,
      agentVersion: deps.agentVersion,
      inventoryHash,
      ...(sendsInventory ? { inventory } : {}),
      writeRates: deps.writeRates?.(),
    };
    const answer = await postToConsole(url, deps, body, stopping.signal, Math.max(deps.intervalMs * 3, 10_000));
    if (!answer) return;
    outcomes.record(answer.outcome, { url });
    if (answer.outcome !== 'ok') return;
    const reply = heartbeatResponse.safeParse(answer.payload);
    // An older console answers without a hash: keep sending the inventory every time.
    held = reply.success ? reply.data.inventoryHash : undefined;
    if (reply.success && reply.data.inventoryWanted) {
      held = undefined;
      again = true;
    }
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
