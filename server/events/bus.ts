import 'server-only';
/** Owns the typed event bus that live subscriptions listen to, in this process and, through a relay, across replicas. */
import { EventEmitter, on } from 'node:events';
import type { evacuationState, events, hosts, migrationSamples, migrationState } from '@/db/schema';

export type EventRow = typeof events.$inferSelect;
export type HostRow = typeof hosts.$inferSelect;

/** A host's live fields, as pages show them. */
export interface HostChange {
  id: string;
  hostname: string;
  state: HostRow['state'];
  stateSince: Date;
  lastHeartbeatAt: Date | null;
  agentVersion: string | null;
  agentUrl: string | null;
  /** True when the host's inventory (disk groups, volumes, plexes, LUNs) changed. */
  inventoryChanged: boolean;
}

export type MigrationSampleRow = typeof migrationSamples.$inferSelect;

/** A migration's state change, with the event row that records it (its id is the stream position). */
export interface MigrationChange {
  id: string;
  state: (typeof migrationState.enumValues)[number];
  event: EventRow;
}

/** An evacuation's rollup refreshed by the engine, or its state changed by an action. */
export interface EvacuationChange {
  id: string;
  state: (typeof evacuationState.enumValues)[number];
  rollup: Record<string, unknown>;
}

export interface BusEvents {
  event: [EventRow];
  evacuation: [EvacuationChange];
  host: [HostChange];
  migration: [MigrationChange];
  sample: [MigrationSampleRow];
}

export type BusKind = keyof BusEvents;

/** Carries what this process publishes to other console replicas (server/events/pg-notify.ts). */
export type BusRelay = <K extends BusKind>(kind: K, payload: BusEvents[K][0]) => void;

/**
 * The in-process event bus. One per process, on `globalThis`, because instrumentation and
 * route handlers are separate module graphs in Next.js. With several replicas on PostgreSQL a
 * relay also sends every published message to the others (LISTEN/NOTIFY), and what they send
 * is `deliver`ed here to this process's subscribers only, so nothing echoes back.
 */
export class Bus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private relay: BusRelay | undefined;

  publish<K extends BusKind>(kind: K, ...payload: BusEvents[K]) {
    this.emitter.emit(kind, ...payload);
    this.relay?.(kind, payload[0]);
  }

  /** Hands a message another replica published to this process's subscribers. */
  deliver<K extends BusKind>(kind: K, payload: BusEvents[K][0]) {
    this.emitter.emit(kind, payload);
  }

  /** Sets (or, with undefined, removes) the relay to other replicas. */
  relayTo(relay: BusRelay | undefined) {
    this.relay = relay;
  }

  /** Calls listener synchronously with every payload of `kind` (for in-process caches); returns the unsubscribe. */
  subscribe<K extends BusKind>(kind: K, listener: (payload: BusEvents[K][0]) => void): () => void {
    this.emitter.on(kind, listener);
    return () => this.emitter.off(kind, listener);
  }

  /** Yields payloads until the signal aborts; subscribe before reading any backlog. */
  async *listen<K extends BusKind>(kind: K, signal?: AbortSignal): AsyncGenerator<BusEvents[K][0]> {
    try {
      for await (const [payload] of on(this.emitter, kind, { signal })) yield payload as BusEvents[K][0];
    } catch (error) {
      if (!(error instanceof Error && error.name === 'AbortError')) throw error;
    }
  }
}

const holder = globalThis as unknown as { ternBus?: Bus };
export const bus = (holder.ternBus ??= new Bus());
