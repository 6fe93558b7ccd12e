import 'server-only';
/** Evacuations: plan (a dry run), approve, follow, control and report (docs/architecture.md, docs/ui.md §3.11). */
import { tracked, type TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { evacuationState } from '@/db/schema';
import { cancelEvacuation, commitAll, pauseEvacuation, resumeEvacuation, rollbackAll, setEvacuationLimits } from '@/server/evacuation/actions';
import { createEvacuation, planEvacuation } from '@/server/evacuation/create';
import { constraintsInputSchema, createEvacuationSchema, limitsOverrideSchema } from '@/server/evacuation/options';
import { evacuationById, evacuationEventsAfter, evacuationReport, getEvacuation, listEvacuations, newestEventId } from '@/server/evacuation/queries';
import { bus } from '@/server/events/bus';
import { operatorProcedure, protectedProcedure } from '../trpc';
import { userActor } from './actor';

const byId = z.object({ id: z.uuid() });
/** `<event id>` or `<event id>.<rollup ms>`: the event position, and which rollup of it was sent. */
const lastEventId = z.string().regex(/^\d+(\.\d+)?$/).nullish();

/** The subscriber's position: the newest event about the evacuation, and when its rollup was computed. */
const position = (eventId: number) => `${eventId}.${Date.now()}`;

export const evacuationsRouter = {
  plan: protectedProcedure
    .input(z.object({ constraints: constraintsInputSchema, limits: limitsOverrideSchema.optional() }))
    .query(({ ctx, input }) => planEvacuation(ctx.db, input)),
  create: operatorProcedure.input(createEvacuationSchema).mutation(({ ctx, input }) => createEvacuation(ctx.db, userActor(ctx.user), ctx.user.role, input)),
  list: protectedProcedure
    .input(z.object({ states: z.array(z.enum(evacuationState.enumValues)).max(10).optional(), limit: z.number().int().min(1).max(500).default(100) }).default({ limit: 100 }))
    .query(({ ctx, input }) => listEvacuations(ctx.db, input)),
  get: protectedProcedure.input(byId).query(({ ctx, input }) => getEvacuation(ctx.db, input.id)),
  report: protectedProcedure.input(byId).query(({ ctx, input }) => evacuationReport(ctx.db, input.id)),
  pause: operatorProcedure.input(byId).mutation(({ ctx, input }) => pauseEvacuation(ctx.db, userActor(ctx.user), input.id)),
  resume: operatorProcedure.input(byId).mutation(({ ctx, input }) => resumeEvacuation(ctx.db, userActor(ctx.user), input.id)),
  cancel: operatorProcedure.input(byId).mutation(({ ctx, input }) => cancelEvacuation(ctx.db, userActor(ctx.user), input.id)),
  commitAll: operatorProcedure
    .input(byId.extend({ confirm: z.string().max(300) }))
    .mutation(({ ctx, input }) => commitAll(ctx.db, userActor(ctx.user), input.id, input.confirm)),
  rollbackAll: operatorProcedure.input(byId).mutation(({ ctx, input }) => rollbackAll(ctx.db, userActor(ctx.user), input.id)),
  setLimits: operatorProcedure
    .input(byId.extend({ limits: limitsOverrideSchema }))
    .mutation(({ ctx, input }) => setEvacuationLimits(ctx.db, userActor(ctx.user), input.id, input.limits)),
  /**
   * `{ id, state, rollup }` whenever the evacuation or one of its migrations changes (the engine
   * refreshes the rollup at most once a second). Subscribe to the bus first, then replay the
   * evacuation's own events after `lastEventId` (each with the state it recorded) and send the
   * current rollup, then stream live; the position is the newest event about the evacuation, so
   * a reconnect resumes after what it saw, and a rollup older than the last one sent is dropped.
   */
  onProgress: protectedProcedure.input(byId.extend({ lastEventId })).subscription(async function* ({ ctx, input, signal }) {
    const live = bus.listen('evacuation', signal);
    const after = input.lastEventId ? Number(input.lastEventId.split('.')[0]) : 0;
    const row = await evacuationById(ctx.db, input.id);
    if (after > 0) {
      for (const event of await evacuationEventsAfter(ctx.db, input.id, after)) {
        const state = (event.after?.state as typeof row.state | undefined) ?? row.state;
        yield tracked(`${event.id}`, { id: input.id, state, rollup: row.rollup, event });
      }
    }
    let sentAt = Date.now();
    yield tracked(position(await newestEventId(ctx.db, input.id)), { id: input.id, state: row.state, rollup: row.rollup, event: null });
    for await (const change of live) {
      if (change.id !== input.id) continue;
      // At most one a second: the engine's tick sets the pace, actions may add one between ticks.
      if (Date.now() - sentAt < 1_000 && change.state === row.state) continue;
      sentAt = Date.now();
      row.state = change.state;
      yield tracked(position(await newestEventId(ctx.db, input.id)), { id: input.id, state: change.state, rollup: change.rollup, event: null });
    }
  }),
} satisfies TRPCRouterRecord;
