/**
 * The bus across replicas on real PostgreSQL (TERN_TEST_DATABASE_URL): two database handles and
 * two buses stand for two console replicas. What one publishes reaches the other's subscribers
 * in order, dates as dates, a message too big for NOTIFY by reference to its row, and never
 * echoes back to the replica that published it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type OpenDatabase } from '@/db/open';
import { freshDatabase, testDatabaseKind } from '@/test/db';
import { waitFor } from '@/test/wait-for';
import { Bus, type EventRow } from './bus';
import { appendEvent, systemActor } from './log';
import { startBusRelay, type BusRelayHandle } from './pg-notify';

const onPostgres = testDatabaseKind === 'postgres';
let replicaA: OpenDatabase;
let replicaB: OpenDatabase;
const relays: BusRelayHandle[] = [];

beforeAll(async () => {
  if (!onPostgres) return;
  replicaA = await freshDatabase();
  replicaB = await openDatabase({ url: replicaA.location });
});

afterAll(async () => {
  for (const relay of relays) await relay.stop();
  await replicaB?.close();
  await replicaA?.close();
});

/** Collects what `bus` delivers of `kind` until the returned stop is called. */
function collect<K extends 'event' | 'migration'>(bus: Bus, kind: K) {
  const seen: unknown[] = [];
  const stopped = new AbortController();
  void (async () => {
    for await (const payload of bus.listen(kind, stopped.signal)) seen.push(payload);
  })();
  return { seen, stop: () => stopped.abort() };
}

describe.skipIf(!onPostgres)('bus relay over LISTEN/NOTIFY (set TERN_TEST_DATABASE_URL to run)', () => {
  it('delivers what replica A publishes to replica B’s subscribers, in order and only once', async () => {
    const busA = new Bus();
    const busB = new Bus();
    relays.push(await startBusRelay(replicaA, busA), await startBusRelay(replicaB, busB));
    const onA = collect(busA, 'event');
    const onB = collect(busB, 'event');
    const migrationsOnB = collect(busB, 'migration');

    const small = await appendEvent(replicaA.db, { kind: 'test.small', actor: systemActor, object: { kind: 'test' }, message: 'small' });
    // Too big for one NOTIFY: it travels as a reference and replica B loads the row.
    const big = await appendEvent(replicaA.db, { kind: 'test.big', actor: systemActor, object: { kind: 'test' }, message: 'big', after: { blob: 'x'.repeat(20_000) } });
    const rows: EventRow[] = [small, big];
    for (let i = 0; i < 20; i++) rows.push(await appendEvent(replicaA.db, { kind: 'test.burst', actor: systemActor, object: { kind: 'test' }, message: `burst ${i}` }));
    for (const row of rows) busA.publish('event', row);
    busA.publish('migration', { id: 'm-1', state: 'copying', event: small });

    await waitFor('replica B to receive every event', async () => onB.seen.length >= rows.length && migrationsOnB.seen.length >= 1);
    const received = onB.seen as EventRow[];
    expect(received.map((row) => row.id)).toEqual(rows.map((row) => row.id));
    expect(received[0]!.at).toBeInstanceOf(Date);
    expect(received[0]!.at.getTime()).toBe(small.at.getTime());
    expect((received[1]!.after as { blob: string }).blob).toHaveLength(20_000);
    expect(migrationsOnB.seen).toEqual([{ id: 'm-1', state: 'copying', event: small }]);

    // Give a would-be echo time to arrive: A's subscribers saw each event once, from A itself.
    await sleep(300);
    expect((onA.seen as EventRow[]).map((row) => row.id)).toEqual(rows.map((row) => row.id));
    expect(onB.seen).toHaveLength(rows.length);
    for (const c of [onA, onB, migrationsOnB]) c.stop();
  });

  it('refuses to start on the embedded database, which has no other replica', async () => {
    await expect(startBusRelay({ db: replicaA.db })).rejects.toThrow(/needs PostgreSQL/);
  });
});
