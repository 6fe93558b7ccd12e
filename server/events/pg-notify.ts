import 'server-only';
/**
 * Owns the event bus across console replicas on one PostgreSQL database (docs/architecture.md): every
 * message published on this replica is sent with `NOTIFY tern_bus`, and what the other replicas
 * send is heard on a dedicated LISTEN connection and delivered to this replica's subscribers, so
 * a browser sees live updates whichever replica holds its subscription.
 *
 * - A notification is `{"r": replica id, "m": [message, …]}`: messages waiting to be sent go out
 *   together, in the order published, each whole (`{k, p}`, dates tagged so they come back as
 *   dates) or, when too big for NOTIFY's 8000 bytes, by reference (`{k, ref}`): the receiver
 *   loads the row. A replica ignores its own notifications.
 * - The LISTEN connection reconnects by itself (postgres-js). Notifications sent while it was
 *   down are lost to it, not to the browser: subscriptions resume by tracked id and replay what
 *   they missed from the database when the stream reconnects.
 */
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db, Notifications } from '@/db/open';
import { evacuations, events, migrationSamples } from '@/db/schema';
import { logger } from '@/server/log';
import { bus as processBus, type BusEvents, type BusKind } from './bus';

export const BUS_CHANNEL = 'tern_bus';
/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; keep room for the envelope. */
const MAX_NOTIFY_BYTES = 7_900;

type Ref = { id: number } | { id: string; state: string; eventId: number } | { id: string };
type Message = { k: BusKind; p: unknown } | { k: BusKind; ref: Ref };
interface Envelope {
  r: string;
  m: Message[];
}

/** Tags dates (`toJSON` has already turned them into strings by the time a replacer sees the value). */
function replacer(this: Record<string, unknown>, key: string, value: unknown) {
  const original = this[key];
  return original instanceof Date ? { $date: original.toISOString() } : value;
}

function reviver(_key: string, value: unknown) {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const tagged = value as { $date?: unknown };
    if (typeof tagged.$date === 'string' && Object.keys(value).length === 1) return new Date(tagged.$date);
  }
  return value;
}

/** A reference to the row behind a message too big to send whole, or undefined when it has none. */
function refOf<K extends BusKind>(kind: K, payload: BusEvents[K][0]): Ref | undefined {
  switch (kind) {
    case 'event':
    case 'sample':
      return { id: (payload as BusEvents['event' | 'sample'][0]).id };
    case 'migration': {
      const change = payload as BusEvents['migration'][0];
      return { id: change.id, state: change.state, eventId: change.event.id };
    }
    case 'evacuation':
      return { id: (payload as BusEvents['evacuation'][0]).id };
    default:
      return undefined;
  }
}

/** Loads what a reference names; undefined when the row is gone. */
async function load(db: Db, kind: BusKind, ref: Ref): Promise<unknown> {
  switch (kind) {
    case 'event':
      return (await db.select().from(events).where(eq(events.id, ref.id as number)))[0];
    case 'sample':
      return (await db.select().from(migrationSamples).where(eq(migrationSamples.id, ref.id as number)))[0];
    case 'migration': {
      const { id, state, eventId } = ref as { id: string; state: string; eventId: number };
      const [event] = await db.select().from(events).where(eq(events.id, eventId));
      return event ? { id, state, event } : undefined;
    }
    case 'evacuation':
      return (await db.select({ id: evacuations.id, state: evacuations.state, rollup: evacuations.rollup }).from(evacuations).where(eq(evacuations.id, ref.id as string)))[0];
    default:
      return undefined;
  }
}

export interface BusRelayHandle {
  replicaId: string;
  /** Stops relaying; resolves once what was published before has been sent. */
  stop(): Promise<void>;
}

/** Relays `bus` to and from the other replicas on the database; only for PostgreSQL. */
export async function startBusRelay(opened: { db: Db; notifications?: Notifications }, bus = processBus): Promise<BusRelayHandle> {
  const { db, notifications } = opened;
  if (!notifications) throw new Error('the bus relay needs PostgreSQL (DATABASE_URL); the embedded database has one console process');
  const replicaId = randomBytes(6).toString('hex');
  const head = `{"r":${JSON.stringify(replicaId)},"m":[`;
  const budget = MAX_NOTIFY_BYTES - Buffer.byteLength(head) - 2;

  const pending: string[] = [];
  let sending: Promise<void> | undefined;
  const send = async () => {
    while (pending.length) {
      const batch = [pending.shift()!];
      let bytes = Buffer.byteLength(batch[0]!);
      while (pending.length && bytes + 1 + Buffer.byteLength(pending[0]!) <= budget) {
        const next = pending.shift()!;
        bytes += 1 + Buffer.byteLength(next);
        batch.push(next);
      }
      try {
        await notifications.notify(BUS_CHANNEL, `${head}${batch.join(',')}]}`);
      } catch (error) {
        // Live streams elsewhere miss these; they catch up when their subscription resumes.
        logger.warn('could not notify other replicas', { messages: batch.length, error: (error as Error).message });
      }
    }
    sending = undefined;
  };
  const relay = <K extends BusKind>(kind: K, payload: BusEvents[K][0]) => {
    let message = JSON.stringify({ k: kind, p: payload }, replacer);
    if (Buffer.byteLength(message) > budget) {
      const ref = refOf(kind, payload);
      if (!ref) {
        logger.warn('bus message too big to send to other replicas; dropped', { kind, bytes: Buffer.byteLength(message) });
        return;
      }
      message = JSON.stringify({ k: kind, ref });
    }
    pending.push(message);
    sending ??= send();
  };

  // Delivered one notification at a time, so loads by reference cannot reorder messages.
  let receiving = Promise.resolve();
  const receive = async (text: string) => {
    const envelope = JSON.parse(text, reviver) as Envelope;
    if (envelope.r === replicaId) return;
    for (const message of envelope.m) {
      const payload = 'p' in message ? message.p : await load(db, message.k, message.ref);
      if (payload !== undefined) bus.deliver(message.k, payload as BusEvents[typeof message.k][0]);
    }
  };
  let listens = 0;
  const subscription = await notifications.listen(
    BUS_CHANNEL,
    (text) => {
      receiving = receiving.then(() => receive(text)).catch((error: unknown) => logger.warn('bad bus notification ignored', { error: (error as Error).message }));
    },
    () => {
      if (listens++ > 0) logger.info('bus listener reconnected to PostgreSQL; live streams resume from their last ids');
    },
  );
  bus.relayTo(relay);
  logger.info('bus relays to other replicas through PostgreSQL LISTEN/NOTIFY', { replicaId, channel: BUS_CHANNEL });
  return {
    replicaId,
    async stop() {
      bus.relayTo(undefined);
      await sending;
      await subscription.unlisten();
      await receiving;
    },
  };
}
