/**
 * Telemetry pushed by the agent (server/agent/sample-push.ts → POST /api/agent/v1/samples): with
 * a real agent process and a real copy, samples reach the database and the bus while the engine
 * does not tick at all, each is stored once whichever path brings it, and the route stores only
 * what the calling host may report.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { asc, count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationSamples } from '@/db/schema';
import { bus, type MigrationSampleRow } from '@/server/events/bus';
import { agentRoutes } from '@/server/fleet/agent-routes';
import { enrolHost } from '@/server/fleet/enrolment';
import { createEnrolmentToken } from '@/server/fleet/hosts';
import type { MigrationSample } from '@/server/protocol/agent-api';
import { actor, MiB, startEngineFixture, type EngineFixture } from '@/test/engine-fixture';
import { waitFor } from '@/test/wait-for';
import { migrationAction } from './actions';
import { reconcileOnce } from './reconciler';
import { takeNudges } from './samples';

let fx: EngineFixture;

beforeAll(async () => {
  fx = await startEngineFixture();
}, 30_000);

afterAll(async () => {
  await fx?.close();
});

const storedCount = async (migrationId: string) =>
  (await fx.db.select({ n: count() }).from(migrationSamples).where(eq(migrationSamples.migrationId, migrationId)))[0]!.n;

function sample(at: Date, over: Partial<MigrationSample> = {}): MigrationSample {
  return {
    at: at.toISOString(),
    phase: 'copying',
    pass: 1,
    paused: false,
    regionsTotal: 256,
    regionsSynced: 10,
    regionsDirty: 246,
    leftBytes: 15 * MiB,
    thresholdBytes: null,
    bytesCopied: MiB,
    copyRateBytesPerS: MiB,
    writeRateBytesPerS: 0,
    writeLatencyP50Ms: null,
    writeLatencyP99Ms: null,
    throttleBytesPerS: MiB,
    predictedConvergeS: null,
    ...over,
  };
}

async function push(authorization: string, body: unknown) {
  const response = await agentRoutes(fx.db).handleSamples(
    new Request('http://console/api/agent/v1/samples', { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  );
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('nudges', () => {
  it('a sample leaving steady copying, stored here or relayed from another replica, nudges the engine; a copying one does not', () => {
    takeNudges();
    const row = (migrationId: string, phase: string) => ({ id: 1, migrationId, at: new Date(), phase, pass: 1, leftBytes: 0, thresholdBytes: null, copiedBytes: 0, copyRateBytesPerS: 0, writeRateBytesPerS: 0, writeLatencyP50Us: null, writeLatencyP99Us: null, throttleBytesPerS: null });
    bus.publish('sample', row('m-local-ready', 'ready'));
    bus.deliver('sample', row('m-relayed-verifying', 'verifying'));
    bus.deliver('sample', row('m-copying', 'copying'));
    bus.publish('sample', row('m-converging', 'converging'));
    expect([...takeNudges()].sort()).toEqual(['m-local-ready', 'm-relayed-verifying']);
    expect(takeNudges().size).toBe(0);
  });
});

describe('pushed telemetry', () => {
  let migrationId: string;

  it('reaches the database and subscribers while the engine does not tick, and the engine does not store it again', async () => {
    const { volume } = await fx.volumeOnArray1('vol-pushed');
    const created = await fx.create(volume.id, { throttleBytesPerS: MiB, cutoverPolicy: { mode: 'manual', commit: 'manual' } });
    migrationId = created.id;
    await fx.reconcileUntil(created.id, ['copying']);

    const published: MigrationSampleRow[] = [];
    const listening = new AbortController();
    void (async () => {
      for await (const row of bus.listen('sample', listening.signal)) if (row.migrationId === created.id) published.push(row);
    })();
    const before = await storedCount(created.id);
    // No reconcileOnce from here: only the agent's push can bring new samples.
    await waitFor('three pushed samples', async () => (await storedCount(created.id)) >= before + 3, 10_000);
    listening.abort();
    expect(published.length).toBeGreaterThanOrEqual(3);
    const stored = await fx.db.select().from(migrationSamples).where(eq(migrationSamples.migrationId, created.id)).orderBy(asc(migrationSamples.at));
    expect(stored.map((row) => row.id)).toEqual(expect.arrayContaining(published.map((row) => row.id)));
    expect(stored.at(-1)!.copiedBytes).toBeGreaterThan(stored[0]!.copiedBytes);

    // The engine's step finds what is stored in step with the agent and pulls nothing twice.
    await reconcileOnce(fx.db);
    await reconcileOnce(fx.db);
    const after = await fx.db.select({ at: migrationSamples.at }).from(migrationSamples).where(eq(migrationSamples.migrationId, created.id));
    const seconds = after.map((row) => Math.floor(row.at.getTime() / 1000));
    expect(new Set(seconds).size).toBe(seconds.length);
  }, 60_000);

  it('stores a resent sample once, ignores migrations that are not the host’s, and refuses a wrong credential or a malformed sample', async () => {
    const [own] = await fx.db.select({ at: migrationSamples.at }).from(migrationSamples).where(eq(migrationSamples.migrationId, migrationId)).limit(1);
    const identity = JSON.parse(await readFile(path.join(fx.root, 'agent', 'identity.json'), 'utf8')) as { hostId: string; credential: string };
    const authorization = `Bearer ${identity.hostId}.${identity.credential}`;
    const later = new Date(Date.now() + 3_600_000);

    const first = await push(authorization, { migrations: [{ id: migrationId, samples: [sample(later), sample(own!.at)] }] });
    expect(first).toEqual({ status: 200, body: { stored: 1, ignored: [] } });
    const again = await push(authorization, { migrations: [{ id: migrationId, samples: [sample(later)] }] });
    expect(again).toEqual({ status: 200, body: { stored: 0, ignored: [] } });

    // Another enrolled host may not report this host's migration; unknown ids are ignored too.
    const { token } = await createEnrolmentToken(fx.db, { label: 'other', createdBy: 'tester', ttlMs: 60_000 });
    const other = await enrolHost(fx.db, { token, hostname: 'other-host', agentUrl: 'http://127.0.0.1:9', agentVersion: 'test' });
    const stranger = await push(`Bearer ${other.hostId}.${other.credential}`, {
      migrations: [
        { id: migrationId, samples: [sample(new Date(later.getTime() + 5_000))] },
        { id: 'job-not-a-migration', samples: [sample(later)] },
      ],
    });
    expect(stranger).toEqual({ status: 200, body: { stored: 0, ignored: [migrationId, 'job-not-a-migration'] } });

    // Pushes that arrive together share one INSERT, and each is answered with its own count.
    const together = await Promise.all(
      [20, 21, 22, 22].map((hours) => push(authorization, { migrations: [{ id: migrationId, samples: [sample(new Date(later.getTime() + hours * 3_600_000))] }] })),
    );
    expect(together.map((answer) => answer.body.stored).sort()).toEqual([0, 1, 1, 1]);

    const countBefore = await storedCount(migrationId);
    const wrong = await push(`Bearer ${identity.hostId}.not-the-credential`, { migrations: [{ id: migrationId, samples: [sample(new Date(later.getTime() + 9_000))] }] });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toMatch(/wrong credential for host engine-host/);
    const malformed = await push(authorization, { migrations: [{ id: migrationId, samples: [{ ...sample(later), at: 'yesterday' }] }] });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatch(/migrations\[0\]\.samples\[0\]\.at/);
    expect(await storedCount(migrationId)).toBe(countBefore);

    await migrationAction(fx.db, actor, migrationId, 'cancel');
  }, 30_000);
});
