import 'server-only';
/**
 * API tokens for automation and the `tern` command: `Authorization: Bearer tern_<secret>`.
 * The secret is 256 random bits, shown once and stored as its SHA-256. A token acts as the user
 * who created it with the token's own role, never above that user's current role; a disabled
 * user, a revoked or an expired token authenticates nobody. Agent routes do not accept them.
 */
import { and, desc, eq, gt, isNull } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { apiTokens, users } from '@/db/schema';
import { appendEvent, publishEvents, recordEvent, type Actor } from '@/server/events/log';
import { FleetError } from '@/server/fleet/errors';
import { randomSecret, sha256 } from './secrets';
import { ROLE_RANK, type Role, type SessionUser } from './sessions';

export const API_TOKEN_PREFIX = 'tern_';
/** How much of the token a listing shows: the fixed prefix and 6 characters of the secret. */
const SHOWN_CHARS = API_TOKEN_PREFIX.length + 6;
/** Last-use time is written at most this often per token, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface ApiTokenCaller {
  user: SessionUser;
  tokenId: string;
}

/** The bearer token of an `Authorization` header, or undefined when there is none. */
export function bearerToken(authorization: string | null): string | undefined {
  const match = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

export async function createApiToken(db: Db, creator: SessionUser, input: { name: string; role: Role; ttlDays: number }) {
  if (ROLE_RANK[input.role] > ROLE_RANK[creator.role]) {
    throw new FleetError('forbidden', `a token cannot have the ${input.role} role: you are ${creator.role}`);
  }
  const token = `${API_TOKEN_PREFIX}${randomSecret()}`;
  const expiresAt = new Date(Date.now() + input.ttlDays * 86_400_000);
  const actor: Actor = { kind: 'user', id: creator.id, name: creator.username };
  const { row, event } = await db.transaction(async (tx) => {
    const [row] = await tx
      .insert(apiTokens)
      .values({ tokenHash: sha256(token), prefix: token.slice(0, SHOWN_CHARS), name: input.name, userId: creator.id, role: input.role, createdBy: creator.username, expiresAt })
      .returning();
    if (!row) throw new Error('api token insert returned no row');
    const event = await appendEvent(tx, {
      kind: 'api-token.created',
      actor,
      object: { kind: 'api-token', id: row.id, name: input.name },
      message: `API token "${input.name}" (${row.prefix}…) created with the ${input.role} role, valid until ${expiresAt.toISOString()}`,
      after: { name: input.name, role: input.role, prefix: row.prefix, expiresAt: expiresAt.toISOString() },
    });
    return { row, event };
  });
  publishEvents(event);
  return { token, ...listRow(row) };
}

function listRow(row: typeof apiTokens.$inferSelect) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    role: row.role,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
  };
}

export type ApiTokenRow = ReturnType<typeof listRow>;

/** Every token, newest first, without its hash. */
export async function listApiTokens(db: Db): Promise<ApiTokenRow[]> {
  const rows = await db.select().from(apiTokens).orderBy(desc(apiTokens.createdAt));
  return rows.map(listRow);
}

/** Revokes a token at once; revoking a revoked token changes nothing and is refused. */
export async function revokeApiToken(db: Db, actor: Actor, id: string): Promise<ApiTokenRow> {
  const { row, event } = await db.transaction(async (tx) => {
    const [current] = await tx.select().from(apiTokens).where(eq(apiTokens.id, id));
    if (!current) throw new FleetError('not-found', `no API token with id ${id}`);
    if (current.revokedAt) throw new FleetError('conflict', `API token "${current.name}" was already revoked at ${current.revokedAt.toISOString()}`);
    const [row] = await tx.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, id)).returning();
    if (!row) throw new Error('api token update returned no row');
    const event = await appendEvent(tx, {
      kind: 'api-token.revoked',
      actor,
      object: { kind: 'api-token', id: row.id, name: row.name },
      message: `API token "${row.name}" (${row.prefix}…) revoked`,
      before: { revokedAt: null },
      after: { revokedAt: row.revokedAt?.toISOString() ?? null },
    });
    return { row, event };
  });
  publishEvents(event);
  return listRow(row);
}

/**
 * The caller a bearer token stands for, or null (recorded as a refused request) when the token
 * is unknown, revoked, expired, or its user is disabled.
 */
export async function apiTokenCaller(db: Db, token: string, now = new Date()): Promise<ApiTokenCaller | null> {
  const [row] = token.startsWith(API_TOKEN_PREFIX)
    ? await db
        .select({ id: apiTokens.id, name: apiTokens.name, role: apiTokens.role, lastUsedAt: apiTokens.lastUsedAt, userId: users.id, username: users.username, userRole: users.role, disabled: users.disabled })
        .from(apiTokens)
        .innerJoin(users, eq(users.id, apiTokens.userId))
        .where(and(eq(apiTokens.tokenHash, sha256(token)), isNull(apiTokens.revokedAt), gt(apiTokens.expiresAt, now)))
    : [];
  if (!row || row.disabled) {
    await recordEvent(db, {
      kind: 'auth.api-token-refused',
      severity: 'warning',
      actor: { kind: 'system', name: 'console' },
      object: { kind: 'api-token', id: row?.id, name: row?.name },
      // The first characters only: enough to tell which token, nothing to replay.
      message: row ? `API token "${row.name}" refused: user ${row.username} is disabled` : `unknown, revoked or expired API token "${token.slice(0, SHOWN_CHARS)}…" refused`,
    });
    return null;
  }
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
    await db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.id));
  }
  const role = ROLE_RANK[row.role] <= ROLE_RANK[row.userRole] ? row.role : row.userRole;
  return { tokenId: row.id, user: { id: row.userId, username: `${row.username} [token ${row.name}]`, role } };
}
