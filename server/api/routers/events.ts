import 'server-only';
import { tracked, type TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { bus } from '@/server/events/bus';
import { eventKinds, eventsAfter, listEvents } from '@/server/fleet/queries';
import { protectedProcedure } from '../trpc';

const filter = z.object({
  kind: z.string().max(100).optional(),
  objectKind: z.string().max(50).optional(),
  objectId: z.string().max(100).optional(),
  severity: z.enum(['info', 'warning', 'error']).optional(),
  q: z.string().max(200).optional(),
});
type Filter = z.infer<typeof filter>;

function matches(event: { kind: string; objectKind: string; objectId: string | null; severity: string; message: string; objectName: string | null; actorName: string }, f: Filter) {
  if (f.kind && event.kind !== f.kind && !event.kind.startsWith(`${f.kind}.`)) return false;
  if (f.objectKind && event.objectKind !== f.objectKind) return false;
  if (f.objectId && event.objectId !== f.objectId) return false;
  if (f.severity && event.severity !== f.severity) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    if (![event.message, event.objectName ?? '', event.actorName].some((text) => text.toLowerCase().includes(q))) return false;
  }
  return true;
}

export const eventsRouter = {
  list: protectedProcedure
    .input(filter.extend({ beforeId: z.number().int().positive().optional(), limit: z.number().int().min(1).max(200).default(50) }))
    .query(({ ctx, input }) => listEvents(ctx.db, input)),
  kinds: protectedProcedure.query(({ ctx }) => eventKinds(ctx.db)),
  /**
   * New events as they are written. Subscribe to the bus first, then replay what the database
   * holds after `lastEventId`, then stream live: an event written during the replay arrives on
   * both paths, and the id check drops the second copy.
   */
  onEvent: protectedProcedure
    .input(filter.extend({ lastEventId: z.string().regex(/^\d+$/).nullish() }))
    .subscription(async function* ({ ctx, input, signal }) {
      const live = bus.listen('event', signal);
      let lastId = input.lastEventId ? Number(input.lastEventId) : 0;
      if (lastId > 0) {
        for (const event of await eventsAfter(ctx.db, lastId, input)) {
          lastId = event.id;
          yield tracked(String(event.id), event);
        }
      }
      for await (const event of live) {
        if (event.id <= lastId || !matches(event, input)) continue;
        lastId = event.id;
        yield tracked(String(event.id), event);
      }
    }),
} satisfies TRPCRouterRecord;
