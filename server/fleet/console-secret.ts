import 'server-only';
import { createHmac } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { settings } from '@/db/schema';
import { randomSecret } from '@/server/auth/secrets';

const KEY = 'console-secret';
const holder = globalThis as unknown as { ternConsoleSecrets?: WeakMap<Db, Promise<string>> };

/**
 * The console's master secret, shared by every replica through the database. The key the
 * console presents to an agent is derived from it (HMAC of the host id), so no per-agent
 * secret is stored anywhere on the console side.
 */
export function consoleSecret(db: Db): Promise<string> {
  const cache = (holder.ternConsoleSecrets ??= new WeakMap());
  let secret = cache.get(db);
  if (secret) return secret;
  secret = (async () => {
    await db.insert(settings).values({ key: KEY, value: randomSecret() }).onConflictDoNothing();
    const [row] = await db.select().from(settings).where(eq(settings.key, KEY));
    if (typeof row?.value !== 'string') throw new Error('console secret missing from settings');
    return row.value;
  })();
  cache.set(db, secret);
  return secret;
}

export async function consoleKeyFor(db: Db, hostId: string): Promise<string> {
  return createHmac('sha256', await consoleSecret(db)).update(`agent-key:${hostId}`).digest('base64url');
}
