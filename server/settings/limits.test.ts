/**
 * Settings limits through the tRPC router: defaults, an admin's change audited with before and
 * after, every refusal naming the problem and changing nothing, and which running evacuations
 * pick a change up.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenDatabase } from '@/db/open';
import { evacuations, events } from '@/db/schema';
import { createCaller } from '@/server/api/root';
import type { Role } from '@/server/auth/sessions';
import { DEFAULT_LIMITS } from '@/server/evacuation/plan-types';
import { createArray } from '@/server/fleet/arrays';
import { freshDatabase } from '@/test/db';
import { getLimits } from './limits';

const MiB = 1024 * 1024;
let database: OpenDatabase;
let root: string;
let arrayId: string;

const caller = (role: Role) => createCaller({ db: database.db, user: { id: `u-${role}`, username: role, role }, sessionToken: undefined, secure: false });
const limitEvents = async () => database.db.select().from(events).where(eq(events.kind, 'settings.limits-changed'));

beforeAll(async () => {
  database = await freshDatabase();
  root = await mkdtemp(path.join(os.tmpdir(), 'tern-settings-'));
  const array = await createArray(database.db, { kind: 'system', name: 'test' }, { name: 'ARR-03', vendor: 'Tern', model: 'directory', tier: 1, capacityBytes: 256 * MiB, driver: { kind: 'directory', path: path.join(root, 'a') } });
  arrayId = array.id;
});

afterAll(async () => {
  await database?.close();
  await rm(root, { recursive: true, force: true });
});

describe('settings limits', () => {
  it('starts from the defaults, readable by a viewer', async () => {
    expect(await caller('viewer').settings.get()).toEqual({ limits: DEFAULT_LIMITS, pauseBudgetMs: 100, evacuations: [] });
  });

  it('refuses bad limits with the reason and changes nothing', async () => {
    const admin = caller('admin');
    const cases: [object, RegExp][] = [
      [{ ...DEFAULT_LIMITS, perHost: 20 }, /concurrency per host \(20\) cannot exceed global concurrency \(16\)/],
      [{ ...DEFAULT_LIMITS, perTargetArray: 0 }, /concurrency per target array must be at least 1/],
      [{ ...DEFAULT_LIMITS, global: 2.5 }, /global concurrency must be a whole number/],
      [{ ...DEFAULT_LIMITS, arrayBandwidthBytesPerS: { [arrayId]: 0 } }, /more than 0 bytes\/s/],
      [{ ...DEFAULT_LIMITS, arrayBandwidthBytesPerS: { [crypto.randomUUID()]: MiB } }, /no array with id .*; a bandwidth budget needs an existing array/],
    ];
    for (const [input, message] of cases) {
      await expect(admin.settings.setLimits(input as never)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(message) });
    }
    expect(await getLimits(database.db)).toEqual(DEFAULT_LIMITS);
    expect(await limitEvents()).toHaveLength(0);
  });

  it('an operator cannot change them', async () => {
    await expect(caller('operator').settings.setLimits({ ...DEFAULT_LIMITS, perHost: 1 })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await getLimits(database.db)).toEqual(DEFAULT_LIMITS);
  });

  it('an admin changes them, audited with before and after, and learns which running evacuations pick the change up', async () => {
    const [overriding] = await database.db
      .insert(evacuations)
      .values({ sourceArrayIds: [arrayId], constraints: {}, placement: {}, limits: { perHost: 1, arrayBandwidthBytesPerS: { [arrayId]: MiB } }, state: 'running', createdBy: 'tester' })
      .returning();
    await database.db.insert(evacuations).values({ sourceArrayIds: [arrayId], constraints: {}, placement: {}, limits: {}, state: 'completed', createdBy: 'tester' });

    const next = { global: 8, perHost: 3, perSourceArray: 4, perTargetArray: 6, arrayBandwidthBytesPerS: { [arrayId]: 200 * MiB } };
    const saved = await caller('admin').settings.setLimits(next);
    expect(saved.limits).toEqual(next);
    expect(saved.evacuations).toEqual([{ id: overriding!.id, state: 'running', sources: ['ARR-03'], overridden: ['perHost', 'bandwidth ARR-03'] }]);
    expect((await caller('viewer').settings.get()).limits).toEqual(next);

    const [event] = await limitEvents();
    expect(event).toMatchObject({ actorName: 'admin', before: DEFAULT_LIMITS, after: next });
    expect(event!.message).toMatch(/global 8, per host 3, per source array 4, per target array 6, 1 array bandwidth budget; running work picks them up at the next engine tick/);
  });
});
