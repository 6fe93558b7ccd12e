/**
 * Opens a database and applies the committed schema migrations. This file has no `server-only`
 * guard so that scripts and tests can use it; the console reaches it through `db/client.ts`.
 *
 * Embedded: PGlite (PostgreSQL compiled to WASM) in a data folder, or in memory for tests. It
 * allows one process per folder and runs one query at a time, so inside `db.transaction()` use
 * only `tx`: the outer handle would wait on the transaction that waits on it.
 * Server: PostgreSQL through postgres-js when a `postgres://` URL is given. Several console
 * replicas may share it: the schema migrations run under a session advisory lock, so replicas
 * starting together apply them once (the first migrates, the others wait, then find nothing to do).
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from './schema';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** PostgreSQL LISTEN/NOTIFY, for the event bus across replicas (server/events/pg-notify.ts). */
export interface Notifications {
  /** Listens on a dedicated connection that reconnects by itself; `onListen` runs on every (re)subscription. */
  listen(channel: string, onNotify: (payload: string) => void, onListen?: () => void): Promise<{ unlisten(): Promise<void> }>;
  notify(channel: string, payload: string): Promise<void>;
}

export interface OpenDatabase {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** Present on PostgreSQL only: PGlite is one process, so it has no one to notify. */
  notifications?: Notifications;
  /** Where the data lives, for logs: a folder, `memory`, or the URL without its password. */
  location: string;
  close(): Promise<void>;
}

/** `template` is a PGlite data-folder dump (tests load one made by the real migrations). */
export type DatabaseTarget = { url: string } | { dataDir: string } | { memory: true; template?: Blob };

const migrationsFolder = path.join(process.cwd(), 'db', 'migrations');

/** The advisory lock key the schema migrations run under ('tern' in ASCII, then 1). */
export const MIGRATION_LOCK_KEY = 0x7465726e01;

export async function openDatabase(target: DatabaseTarget): Promise<OpenDatabase> {
  if ('url' in target) {
    const client = postgres(target.url, { max: 10, onnotice: () => {} });
    const db = drizzlePostgres({ client, schema });
    await migrateUnderLock(client, () => migratePostgres(db, { migrationsFolder }));
    return {
      db: db as unknown as Db,
      kind: 'postgres',
      notifications: {
        listen: (channel, onNotify, onListen) => client.listen(channel, onNotify, onListen),
        notify: async (channel, payload) => {
          await client.notify(channel, payload);
        },
      },
      location: redactUrl(target.url),
      close: () => client.end({ timeout: 5 }),
    };
  }
  const dataDir = 'dataDir' in target ? target.dataDir : undefined;
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const template = 'template' in target ? target.template : undefined;
  const client = template ? new PGlite({ loadDataDir: template }) : new PGlite(dataDir);
  const db = drizzlePglite({ client, schema });
  await migratePglite(db, { migrationsFolder });
  return {
    db: db as unknown as Db,
    kind: 'pglite',
    location: dataDir ?? 'memory',
    close: () => client.close(),
  };
}

/**
 * Runs `migrate` while holding a session advisory lock on a connection of its own: drizzle's
 * migrator creates its schema and table and applies each file without coordinating with other
 * processes, so two replicas migrating at once would collide or apply a file twice.
 */
async function migrateUnderLock(client: postgres.Sql, migrate: () => Promise<void>) {
  const lock = await client.reserve();
  try {
    await lock`select pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`;
    try {
      await migrate();
    } finally {
      await lock`select pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`;
    }
  } finally {
    lock.release();
  }
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparseable url)';
  }
}
