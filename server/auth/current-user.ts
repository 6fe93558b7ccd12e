import 'server-only';
import { cookies } from 'next/headers';
import { getDb } from '@/db/client';
import { PLAIN_COOKIE, SECURE_COOKIE } from './cookies';
import { sessionUser } from './sessions';

/** The signed-in user of the current request, for server components and layouts. */
export async function currentUser() {
  const jar = await cookies();
  const token = jar.get(SECURE_COOKIE)?.value ?? jar.get(PLAIN_COOKIE)?.value;
  return sessionUser(await getDb(), token);
}
