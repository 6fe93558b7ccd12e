import 'server-only';
import { tracked, type TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { migrationState } from '@/db/schema';
import { bus, type MigrationChange } from '@/server/events/bus';
import { migrationAction, setThrottle, type JobAction } from '@/server/engine/actions';
import { createMigration } from '@/server/engine/create';
import { cutoverPolicySchema } from '@/server/engine/window';
import { getMigration, listMigrations, migrationEventsAfter, migrationSamplesAfter, migrationSamplesWindow } from '@/server/engine/queries';
import { queueReason } from '@/server/engine/tick-plan';
import { operatorProcedure, protectedProcedure } from '../trpc';
import { userActor } from './actor';

const byId = z.object({ id: z.uuid() });
const bytesPerS = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const lastEventId = z.string().regex(/^\d+$/).nullish();

const action = (name: JobAction) =>
  operatorProcedure.input(byId).mutation(({ ctx, input }) => migrationAction(ctx.db, userActor(ctx.user), input.id, name));

export const migrationsRouter = {
  create: operatorProcedure
    .input(
      z.object({
        volumeId: z.uuid(),
        targetArrayId: z.uuid(),
        strategy: z.enum(['mirror', 'precopy']),
        throttleBytesPerS: bytesPerS.nullish(),
        cutoverPolicy: cutoverPolicySchema,
      }),
    )
    .mutation(({ ctx, input }) => createMigration(ctx.db, userActor(ctx.user), input)),
  list: protectedProcedure
    .input(z.object({ states: z.array(z.enum(migrationState.enumValues)).max(20).optional(), limit: z.number().int().min(1).max(500).default(200) }).default({ limit: 200 }))
    .query(({ ctx, input }) => listMigrations(ctx.db, input)),
  /** The migration, and while it is queued, why the scheduler has not started it yet. */
  get: protectedProcedure.input(byId).query(async ({ ctx, input }) => {
    const migration = await getMigration(ctx.db, input.id);
    return { ...migration, queueReason: migration.state === 'queued' ? await queueReason(ctx.db, input.id) : null };
  }),
  /** Raw samples after `sinceId`; or, with `window`, the last `seconds` (null: all) downsampled to `maxPoints`. */
  samples: protectedProcedure
    .input(
      byId.extend({
        sinceId: z.number().int().nonnegative().optional(),
        window: z.object({ seconds: z.number().int().positive().max(366 * 86_400).nullable(), maxPoints: z.number().int().min(10).max(2_000).default(600) }).optional(),
      }),
    )
    .query(({ ctx, input }) =>
      input.window ? migrationSamplesWindow(ctx.db, { id: input.id, ...input.window }) : migrationSamplesAfter(ctx.db, input),
    ),
  pause: action('pause'),
  resume: action('resume'),
  cancel: action('cancel'),
  cutover: action('cutover'),
  commit: action('commit'),
  rollback: action('rollback'),
  setThrottle: operatorProcedure
    .input(byId.extend({ bytesPerS: bytesPerS.nullable() }))
    .mutation(({ ctx, input }) => setThrottle(ctx.db, userActor(ctx.user), input.id, input.bytesPerS)),
  /**
   * A migration's samples as they are stored. Subscribe to the bus first, then replay what the
   * database holds after `lastEventId` (a sample id), then stream live: a sample stored during
   * the replay arrives on both paths, and the id check drops the second copy.
   */
  onSample: protectedProcedure.input(byId.extend({ lastEventId })).subscription(async function* ({ ctx, input, signal }) {
    const live = bus.listen('sample', signal);
    let lastId = input.lastEventId ? Number(input.lastEventId) : 0;
    for (const sample of await migrationSamplesAfter(ctx.db, { id: input.id, sinceId: lastId })) {
      lastId = sample.id;
      yield tracked(String(sample.id), sample);
    }
    for await (const sample of live) {
      if (sample.migrationId !== input.id || sample.id <= lastId) continue;
      lastId = sample.id;
      yield tracked(String(sample.id), sample);
    }
  }),
  /** State changes (of one migration, or of all), tracked by event id; same ordering as onSample. */
  onState: protectedProcedure.input(z.object({ id: z.uuid().optional(), lastEventId })).subscription(async function* ({ ctx, input, signal }) {
    const live = bus.listen('migration', signal);
    let lastId = input.lastEventId ? Number(input.lastEventId) : 0;
    if (lastId > 0) {
      for (const event of await migrationEventsAfter(ctx.db, lastId, input.id)) {
        lastId = event.id;
        const state = event.after?.state as MigrationChange['state'] | undefined;
        // Only state changes are streamed; notes such as agent-unreachable go to events.onEvent.
        if (!state || !event.objectId) continue;
        yield tracked(String(event.id), { id: event.objectId, state, event } satisfies MigrationChange);
      }
    }
    for await (const change of live) {
      if ((input.id && change.id !== input.id) || change.event.id <= lastId) continue;
      lastId = change.event.id;
      yield tracked(String(change.event.id), change);
    }
  }),
} satisfies TRPCRouterRecord;
