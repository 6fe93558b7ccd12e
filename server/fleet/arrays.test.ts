import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenDatabase } from '@/db/open';
import { arrays, events, luns } from '@/db/schema';
import { ArrayError } from '@/server/arrays';
import type { Actor } from '@/server/events/log';
import { freshDatabase } from '@/test/db';
import { createArray, createLun } from './arrays';
import { FleetError } from './errors';
import { listArrays } from './queries';

const MiB = 1024 ** 2;
const admin: Actor = { kind: 'system', name: 'test' };
let database: OpenDatabase;
let root: string;

beforeAll(async () => {
  database = await freshDatabase();
  root = await mkdtemp(path.join(os.tmpdir(), 'tern-fleet-arrays-'));
});
afterAll(async () => {
  await database?.close();
  await rm(root, { recursive: true, force: true });
});

const spec = (name: string, folder = name) => ({ name, vendor: 'Kestrel', model: 'KX', tier: 1, capacityBytes: 512 * MiB, driver: { kind: 'directory' as const, path: path.join(root, folder) } });

async function counts() {
  const { db } = database;
  return { arrays: (await db.select().from(arrays)).length, luns: (await db.select().from(luns)).length, events: (await db.select().from(events)).length };
}

describe('arrays service', () => {
  it('registers an array and its LUNs, with an audit event for each', async () => {
    const array = await createArray(database.db, admin, spec('A1'));
    await createLun(database.db, admin, { arrayId: array.id, name: 'l1', sizeBytes: 128 * MiB });
    const [listed] = (await listArrays(database.db)).filter((row) => row.name === 'A1');
    expect(listed).toMatchObject({ capacityBytes: 512 * MiB, provisionedBytes: 128 * MiB, freeBytes: 384 * MiB, lunCount: 1 });
    const kinds = (await database.db.select().from(events)).map((event) => event.kind);
    expect(kinds).toEqual(expect.arrayContaining(['array.created', 'lun.created']));
  });

  it('refuses a duplicate name, naming it, and changes nothing', async () => {
    const before = await counts();
    const error = await createArray(database.db, admin, spec('A1', 'other-folder')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FleetError);
    expect((error as Error).message).toBe('an array named A1 already exists; choose another name');
    expect(await counts()).toEqual(before);
  });

  it('refuses a folder that cannot be written and changes nothing', async () => {
    await writeFile(path.join(root, 'plain-file'), 'x');
    const before = await counts();
    const error = await createArray(database.db, admin, spec('A2', 'plain-file/array')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ArrayError);
    expect((error as Error).message).toContain('cannot be written');
    expect(await counts()).toEqual(before);
  });

  it('refuses a LUN larger than the free capacity and changes nothing', async () => {
    const [array] = (await listArrays(database.db)).filter((row) => row.name === 'A1');
    const before = await counts();
    const error = await createLun(database.db, admin, { arrayId: array!.id, name: 'huge', sizeBytes: 400 * MiB }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ArrayError);
    expect((error as Error).message).toBe('LUN huge needs 400 MiB but the array has 384 MiB free of 512 MiB');
    expect(await counts()).toEqual(before);
  });
});
