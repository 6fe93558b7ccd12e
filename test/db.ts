/**
 * A fresh database with the real schema migrations for one test file: in-memory PGlite by
 * default, or a new database on the PostgreSQL server named by TERN_TEST_DATABASE_URL.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inject } from 'vitest';
import postgres from 'postgres';
import { openDatabase, type OpenDatabase } from '@/db/open';

export const testDatabaseKind = process.env.TERN_TEST_DATABASE_URL ? 'postgres' : 'pglite';

export async function freshDatabase(): Promise<OpenDatabase> {
  const serverUrl = process.env.TERN_TEST_DATABASE_URL;
  if (!serverUrl) {
    const template = inject('pgliteTemplate');
    return openDatabase({ memory: true, template: template ? new Blob([await readFile(template)]) : undefined });
  }
  const name = `tern_test_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const opened = await openDatabase({ url: url.toString() });
  return {
    ...opened,
    async close() {
      await opened.close();
      const cleanup = postgres(serverUrl, { max: 1, onnotice: () => {} });
      await cleanup.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}
