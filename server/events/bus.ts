import 'server-only';
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

interface BusEvents {
  event: [EventRow];
  evacuation: [EvacuationChange];
  host: [HostChange];
  migration: [MigrationChange];
  sample: [MigrationSampleRow];
}

/**
 * The in-process event bus. One per process, on `globalThis`, because instrumentation and
 * route handlers are separate module graphs in Next.js. (Scale-out adds PostgreSQL
 * LISTEN/NOTIFY behind the same interface.)
 */
class Bus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  publish<K extends keyof BusEvents>(kind: K, ...payload: BusEvents[K]) {
    this.emitter.emit(kind, ...payload);
  }

  /** Yields payloads until the signal aborts; subscribe before reading any backlog. */
  async *listen<K extends keyof BusEvents>(kind: K, signal?: AbortSignal): AsyncGenerator<BusEvents[K][0]> {
    try {
      for await (const [payload] of on(this.emitter, kind, { signal })) yield payload as BusEvents[K][0];
    } catch (error) {
      if (!(error instanceof Error && error.name === 'AbortError')) throw error;
    }
  }
}

const holder = globalThis as unknown as { ternBus?: Bus };
export const bus = (holder.ternBus ??= new Bus());
