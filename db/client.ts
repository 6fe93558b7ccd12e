import 'server-only';
import path from 'node:path';
import { openDatabase, type OpenDatabase } from './open';
import { config } from '@/server/config';

/**
 * The one database handle of this process. It lives on `globalThis` because Next.js loads
 * `instrumentation.ts` and the route handlers as separate module graphs.
 */
const holder = globalThis as unknown as { ternDatabase?: Promise<OpenDatabase> };

export function database(): Promise<OpenDatabase> {
  holder.ternDatabase ??= openDatabase(
    config.databaseUrl ? { url: config.databaseUrl } : { dataDir: path.join(config.dataDir, 'db') },
  );
  return holder.ternDatabase;
}

export async function getDb() {
  return (await database()).db;
}
