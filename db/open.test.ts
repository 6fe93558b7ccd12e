/**
 * Schema migrations when several console replicas start together on one PostgreSQL database:
 * every replica opens, and each migration file is applied once. Runs only against a real server
 * (TERN_TEST_DATABASE_URL); PGlite is one process per data folder, so it cannot race itself.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type OpenDatabase } from './open';

const serverUrl = process.env.TERN_TEST_DATABASE_URL;
const name = `tern_test_open_${Date.now()}_${randomBytes(3).toString('hex')}`;

afterAll(async () => {
  if (!serverUrl) return;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
});

describe.skipIf(!serverUrl)('openDatabase on PostgreSQL (set TERN_TEST_DATABASE_URL to run)', () => {
  it('three replicas opening an empty database at once all succeed, and each migration is applied once', async () => {
    const admin = postgres(serverUrl!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(serverUrl!);
    url.pathname = `/${name}`;

    const opened: OpenDatabase[] = [];
    try {
      const results = await Promise.allSettled([0, 1, 2].map(() => openDatabase({ url: url.toString() })));
      for (const result of results) if (result.status === 'fulfilled') opened.push(result.value);
      const reasons = results.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
      expect(reasons, 'every replica opened').toEqual([]);

      const journal = JSON.parse(await readFile(path.join(process.cwd(), 'db', 'migrations', 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
      const check = postgres(url.toString(), { max: 1, onnotice: () => {} });
      try {
        const applied = await check<{ hash: string }[]>`select hash from drizzle.__drizzle_migrations`;
        expect(applied).toHaveLength(journal.entries.length);
        expect(new Set(applied.map((row) => row.hash)).size, 'no file applied twice').toBe(applied.length);
        const [tables] = await check<{ n: number }[]>`select count(*)::int as n from information_schema.tables where table_schema = 'public' and table_name = 'migrations'`;
        expect(tables?.n).toBe(1);
      } finally {
        await check.end();
      }
    } finally {
      await Promise.all(opened.map((db) => db.close()));
    }
  }, 60_000);
});
