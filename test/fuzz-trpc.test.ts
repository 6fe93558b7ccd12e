/**
 * Hostile input for every tRPC procedure (docs/testing.md item 10). Each procedure of the router, as
 * an admin, gets random and adversarial inputs from fast-check: wrong types, huge and unicode
 * strings, negative, fractional, huge and non-finite numbers, unknown and prototype-polluting
 * keys, deep objects, and near-valid objects built from the procedure's own zod shape. No call
 * may end in INTERNAL_SERVER_ERROR (a 500 is a bug in the procedure), and a refused mutation
 * leaves every table as it was, apart from the audit rows that record refusals.
 * TERN_FUZZ_RUNS sets the runs per procedure (30 by default).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenDatabase } from '@/db/open';
import { diskGroups, migrations, sessions, volumes } from '@/db/schema';
import { appRouter } from '@/server/api/root';
import { createContext, type Meta } from '@/server/api/trpc';
import { SECURE_COOKIE } from '@/server/auth/cookies';
import { randomSecret, sha256 } from '@/server/auth/secrets';
import { createUser } from '@/server/auth/sessions';
import { createArray } from '@/server/fleet/arrays';
import { createEnrolmentToken, enrolHost } from '@/server/fleet/enrolment';
import { freshDatabase } from './db';

const RUNS = Number(process.env.TERN_FUZZ_RUNS ?? 30);

interface ProcedureDef {
  _def: { meta?: Meta; type: 'query' | 'mutation' | 'subscription'; inputs: unknown[] };
}
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, ProcedureDef>);

let database: OpenDatabase;
let adminId: string;
let tokenId: string;
let tablesDigestSql: string;
/** Every folder an input names is moved under here, so the fuzz cannot create folders elsewhere. */
let sandbox: string;
/** Ids of the seeded fleet, so inputs reach past "not found". */
const seeded: string[] = [];

beforeAll(async () => {
  database = await freshDatabase();
  const { db } = database;
  adminId = (await createUser(db, { username: 'fuzz-admin', password: 'fuzz-admin-password', role: 'admin' }, null)).id;
  tokenId = (await createEnrolmentToken(db, { label: 'fuzz', createdBy: 'fuzz-admin' })).id;
  // A small fleet with no agent behind it: one array, one host, one volume, two migrations.
  sandbox = await mkdtemp(path.join(tmpdir(), 'tern-fuzz-'));
  const actor = { kind: 'user' as const, id: adminId, name: 'fuzz-admin' };
  const array = await createArray(db, actor, { name: 'FUZZ-A', vendor: 'Tern', model: 'dir', tier: 1, capacityBytes: 2 ** 30, driver: { kind: 'directory', path: path.join(sandbox, 'array') } });
  const { token } = await createEnrolmentToken(db, { label: 'fuzz-host', createdBy: 'fuzz-admin' });
  const { hostId } = await enrolHost(db, { token, hostname: 'fuzz-host', agentUrl: 'http://127.0.0.1:9', agentVersion: '0.0.0' });
  const [group] = await db.insert(diskGroups).values({ hostId, name: 'dg' }).returning();
  const [volume] = await db.insert(volumes).values({ hostId, diskGroupId: group!.id, name: 'data', sizeBytes: 2 ** 20, regionSizeBytes: 65536, nbdExport: 'dg/data' }).returning();
  const rows = await db
    .insert(migrations)
    .values([
      { volumeId: volume!.id, targetArrayId: array.id, strategy: 'mirror', state: 'queued', createdBy: 'fuzz-admin' },
      { volumeId: volume!.id, targetArrayId: array.id, strategy: 'precopy', state: 'verified', createdBy: 'fuzz-admin' },
    ])
    .returning();
  seeded.push(array.id, hostId, volume!.id, ...rows.map((row) => row.id));
  const tables = rowsOf<{ table_name: string }>(await db.execute(sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`));
  const names = tables.map((row) => row.table_name).filter((name) => name !== 'sessions');
  expect(names).toContain('events');
  // One statement for the whole database. Sessions are left out (each run gets a fresh one) and
  // so are the audit rows that record a refusal, which a refused call is meant to write.
  tablesDigestSql = names
    .map((name) => {
      const where = name === 'events' ? ` where t.kind !~ '(refused|rate-limited)$'` : '';
      return `select '${name}' as name, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest from "${name}" t${where}`;
    })
    .join(' union all ');
});

afterAll(async () => {
  await database?.close();
  if (sandbox) await rm(sandbox, { recursive: true, force: true });
});

/** Rewrites every absolute folder in an input to a folder inside the sandbox. */
function confined(input: unknown, depth = 0): unknown {
  if (depth > 500 || !input || typeof input !== 'object' || input instanceof Date) return input;
  if (Array.isArray(input)) return input.map((item) => confined(item, depth + 1));
  if (Object.getPrototypeOf(input) !== Object.prototype && Object.getPrototypeOf(input) !== null) return input;
  const copy = Object.assign(Object.create(Object.getPrototypeOf(input) as object | null) as Record<string, unknown>, input);
  for (const [key, value] of Object.entries(copy)) {
    copy[key] = key === 'path' && typeof value === 'string' && value.startsWith('/') ? `${sandbox}/${value.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100)}` : confined(value, depth + 1);
  }
  return copy;
}

/** PGlite answers `execute` with `{ rows }`, postgres-js with the rows themselves. */
function rowsOf<T>(result: unknown): T[] {
  return (result && typeof result === 'object' && 'rows' in result ? (result as { rows: T[] }).rows : result) as T[];
}

async function digest(): Promise<string> {
  const rows = rowsOf<{ name: string; digest: string }>(await database.db.execute(sql.raw(tablesDigestSql)));
  return rows.map((row) => `${row.name}:${row.digest}`).join(',');
}

async function adminCaller() {
  const token = randomSecret();
  await database.db.insert(sessions).values({ idHash: sha256(token), userId: adminId, expiresAt: new Date(Date.now() + 3_600_000) });
  const ctx = await createContext({ db: database.db, headers: new Headers({ cookie: `${SECURE_COOKIE}=${token}`, 'x-forwarded-for': '192.0.2.1' }), secure: true, resHeaders: new Headers() });
  return appRouter.createCaller(ctx);
}

// ---- input arbitraries ----------------------------------------------------------------------

const hugeString = fc.integer({ min: 1, max: 200 }).chain((kib) => fc.constantFrom('a', 'é', '\u{1F4A9}', '\0', '%', "'").map((c) => c.repeat(kib * 1024)));
const weirdString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.constantFrom('', ' ', '\u0000', '../../etc/passwd', "'; drop table hosts; --", '%s%n', '__proto__', 'constructor', '\u202e', 'NaN', '-1', '1e309', 'a/b', '/'),
  fc.uuid(),
  hugeString,
);
const weirdNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, -1, 1, 0.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, -Number.MAX_SAFE_INTEGER, 2 ** 31, 2 ** 32, 2 ** 63, 1e308, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity, NaN),
  fc.bigInt().map(Number),
);
/** Nested objects and arrays up to a few hundred levels. */
const deep = fc.integer({ min: 1, max: 400 }).map((depth) => {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { nested: value };
  return value;
});

function idPool() {
  return fc.constantFrom(...seeded, ...seeded, adminId, tokenId, randomUUID(), '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff');
}

function scalar(): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: weirdString },
    { weight: 3, arbitrary: weirdNumber },
    { weight: 2, arbitrary: idPool() },
    { weight: 1, arbitrary: fc.constantFrom(null, undefined, true, false, new Date(Number.NaN), new Date(8.64e15)) },
    { weight: 1, arbitrary: fc.date() },
    { weight: 1, arbitrary: fc.array(fc.oneof(weirdString, weirdNumber, idPool()), { maxLength: 5 }) },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: fc.dictionary(weirdString, fc.oneof(weirdNumber, weirdString), { maxKeys: 4 }) },
  );
}

interface ZodLike {
  def?: { type?: string; shape?: Record<string, ZodLike>; innerType?: ZodLike; element?: ZodLike; options?: ZodLike[]; entries?: Record<string, unknown>; values?: unknown[]; in?: ZodLike; valueType?: ZodLike; format?: string };
  shape?: Record<string, ZodLike>;
}

/**
 * Values that follow the schema's types (enum members, UUIDs from the pool, small and huge
 * numbers) mixed with hostile ones at every level, so inputs get past validation to the code
 * behind it, where a 500 would hide.
 */
function fromZod(schema: ZodLike | undefined, depth = 0): fc.Arbitrary<unknown> {
  const def = schema?.def;
  if (!def || depth > 6) return scalar();
  const hostile = (typed: fc.Arbitrary<unknown>) => fc.oneof({ weight: 5, arbitrary: typed }, { weight: 1, arbitrary: scalar() });
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return fc.oneof({ weight: 4, arbitrary: fromZod(def.innerType, depth + 1) }, { weight: 1, arbitrary: fc.constantFrom(undefined, null) });
    case 'pipe':
      return fromZod(def.in, depth + 1);
    case 'object': {
      const shape = def.shape ?? schema?.shape ?? {};
      const keys = Object.keys(shape);
      return hostile(
        fc
          .tuple(fc.record(Object.fromEntries(keys.map((key) => [key, fromZod(shape[key], depth + 1)])), { requiredKeys: [] }), fc.dictionary(fc.string({ maxLength: 12 }), scalar(), { maxKeys: 2 }))
          .map(([known, extra]) => ({ ...extra, ...known })),
      );
    }
    case 'array':
      return hostile(fc.array(fromZod(def.element, depth + 1), { maxLength: depth > 2 ? 2 : 6 }));
    case 'record':
      return hostile(fc.dictionary(fc.oneof(idPool(), weirdString), fromZod(def.valueType, depth + 1), { maxKeys: 3 }));
    case 'union':
      return fc.oneof(...(def.options ?? []).map((option) => fromZod(option, depth + 1)));
    case 'enum':
      return hostile(fc.constantFrom(...Object.values(def.entries ?? { x: 'x' })));
    case 'literal':
      return hostile(fc.constantFrom(...(def.values ?? [null])));
    case 'boolean':
      return hostile(fc.boolean());
    case 'date':
      return hostile(fc.date());
    case 'number':
    case 'int':
      return hostile(fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 2 ** 40 }).map((n) => n * 4096), weirdNumber));
    case 'string':
      return hostile(
        def.format === 'uuid' || def.format === 'guid'
          ? idPool()
          : fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/), fc.stringMatching(/^[a-z0-9]{1,8}\/[a-z0-9]{1,8}$/), fc.constantFrom('ARR-01', 'admin', 'dg/data', '22:00', 'mirror', 'precopy'), weirdString),
      );
    default:
      return scalar();
  }
}

/** Random values, near-valid objects from the procedure's own zod schema, and anything at all. */
function inputFor(procedure: ProcedureDef): fc.Arbitrary<unknown> {
  const schema = procedure._def.inputs[0] as ZodLike | undefined;
  const pollution = fc.constantFrom({}, JSON.parse('{"__proto__": {"polluted": true}}') as object, { constructor: { prototype: { polluted: true } } }, { toString: 'x', valueOf: 1 });
  const nearValid = fromZod(schema).chain((value) =>
    value && typeof value === 'object' && !Array.isArray(value) ? pollution.map((polluted) => Object.assign({}, polluted, value)) : fc.constant(value),
  );
  return fc.oneof(
    { weight: 6, arbitrary: nearValid },
    { weight: 1, arbitrary: scalar() },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 4, withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true, withUnicodeString: true }) },
  );
}

// ---- the property ---------------------------------------------------------------------------

function call(caller: Awaited<ReturnType<typeof adminCaller>>, path: string, input: unknown) {
  const procedure = path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as (input: unknown) => Promise<unknown>;
  return procedure(input);
}

describe('fuzzing every tRPC procedure as an admin', () => {
  it('walks the whole router', () => {
    expect(procedures.length).toBeGreaterThan(30);
  });

  // Found by this fuzzer on PostgreSQL (seed 1458885831): a NUL in a label was a 500 from the database.
  it('refuses text with a NUL character before any procedure runs, naming the field', async () => {
    const caller = await adminCaller();
    const before = await digest();
    await expect(call(caller, 'hosts.createEnrolmentToken', { label: '\u0000', ttlHours: 29 })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: 'label contains a NUL character; text must not' });
    expect(await digest()).toBe(before);
  });

  it.each(procedures.map(([path, procedure]) => [path, procedure] as const))('%s: no 500, and a refused mutation changes nothing', async (path, procedure) => {
    const caller = await adminCaller();
    const isMutation = procedure._def.type === 'mutation';
    await fc.assert(
      fc.asyncProperty(inputFor(procedure), async (input) => {
        const before = isMutation ? await digest() : '';
        let code = 'OK';
        let message = '';
        try {
          const result = await call(caller, path, confined(input));
          if (result && typeof result === 'object' && Symbol.asyncIterator in result) await (result as AsyncGenerator).return?.(undefined);
        } catch (error) {
          code = (error as { code?: string }).code ?? 'THROWN';
          message = (error as Error).message;
        }
        expect(code, `${path} answered ${code}: ${message.slice(0, 500)}`).not.toMatch(/INTERNAL_SERVER_ERROR|THROWN/);
        if (isMutation && code !== 'OK') expect(await digest(), `${path} refused with ${code} but changed the database`).toBe(before);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  }, 120_000);
});
