import 'server-only';
import { tracked, type TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { bus, type HostChange } from '@/server/events/bus';
import { createEnrolmentToken, listEnrolmentTokens, revokeEnrolmentToken } from '@/server/fleet/enrolment';
import { fenceHost } from '@/server/fleet/fencing';
import { getHost, HOST_SORTS, HOST_STATE_FILTERS, listHostStates, listHosts } from '@/server/fleet/queries';
import { createVolume } from '@/server/fleet/volumes';
import { listWorkloads, stopAndVerifyWorkload } from '@/server/fleet/workloads';
import { adminProcedure, operatorProcedure, protectedProcedure } from '../trpc';
import { userActor } from './actor';

let changeSequence = 0;
const changeId = () => `${Date.now().toString(36)}-${(changeSequence++).toString(36)}`;

export const hostsRouter = {
  /**
   * One page of hosts with their rollups, filtered, sorted and counted by the server (a fleet has
   * a thousand hosts): `{ total, page, pageSize, stateCounts, hosts }`. No input is the first 50
   * by hostname.
   */
  list: protectedProcedure
    .input(
      z
        .object({
          q: z.string().trim().max(100).optional(),
          state: z.enum(HOST_STATE_FILTERS).optional(),
          arrayId: z.uuid().optional(),
          page: z.number().int().min(1, 'page counts from 1').default(1),
          pageSize: z.literal([25, 50, 100], 'pageSize is 25, 50 or 100').default(50),
          sort: z.enum(HOST_SORTS).default('hostname'),
          direction: z.enum(['asc', 'desc']).default('asc'),
        })
        .prefault({}),
    )
    .query(({ ctx, input }) => listHosts(ctx.db, input)),
  get: protectedProcedure.input(z.object({ id: z.uuid() })).query(({ ctx, input }) => getHost(ctx.db, input.id)),
  /**
   * Live host state and heartbeats. A host's state is a snapshot, not a history, so after a
   * reconnect (`lastEventId` set) the backlog is simply every host's current state; the bus is
   * subscribed first so nothing that changes during that replay is missed.
   */
  onChange: protectedProcedure
    .input(z.object({ lastEventId: z.string().nullish() }).optional())
    .subscription(async function* ({ ctx, input, signal }) {
      const live = bus.listen('host', signal);
      if (input?.lastEventId) {
        for (const host of await listHostStates(ctx.db)) {
          const change: HostChange = { ...host, inventoryChanged: true };
          yield tracked(changeId(), change);
        }
      }
      for await (const change of live) yield tracked(changeId(), change);
    }),
  createEnrolmentToken: adminProcedure
    .input(z.object({ label: z.string().trim().min(1).max(100), ttlHours: z.number().int().min(1).max(24 * 30).default(24) }))
    .mutation(({ ctx, input }) => createEnrolmentToken(ctx.db, { label: input.label, createdBy: ctx.user.username, ttlMs: input.ttlHours * 3_600_000 })),
  /** Every enrolment token with its status (unused, used, expired, revoked); never the secret. */
  enrolmentTokens: adminProcedure.query(({ ctx }) => listEnrolmentTokens(ctx.db)),
  /** Revokes an unused token, so an agent presenting it is refused (`agent.enrol-refused`). */
  revokeEnrolmentToken: adminProcedure
    .input(z.object({ id: z.uuid() }))
    .mutation(async ({ ctx, input }) => {
      await revokeEnrolmentToken(ctx.db, { tokenId: input.id, actor: userActor(ctx.user) });
      return { id: input.id, revoked: true };
    }),
  /**
   * Fences a host: its agent's credential is revoked and its unfinished migrations are left where
   * they are, marked with the reason. `confirm` must repeat the hostname. Re-enrolment is the way back.
   */
  fence: adminProcedure
    .input(z.object({ id: z.uuid(), confirm: z.string().max(255) }))
    .mutation(({ ctx, input }) => fenceHost(ctx.db, userActor(ctx.user), { hostId: input.id, confirm: input.confirm })),
  createVolume: operatorProcedure
    .input(
      z.object({
        hostId: z.uuid(),
        lunId: z.uuid(),
        diskGroup: z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
        name: z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
        sizeBytes: z.number().int().positive().multipleOf(4096, 'size must be a multiple of 4 KiB'),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await createVolume(ctx.db, userActor(ctx.user), input);
      return getHost(ctx.db, input.hostId);
    }),
  /** The verifiable write workloads the host's agent runs (the demo starts one per volume). */
  workloads: protectedProcedure.input(z.object({ hostId: z.uuid() })).query(({ ctx, input }) => listWorkloads(ctx.db, input.hostId)),
  /** Stops a workload and has the agent check every write it acknowledged; audited with the result. */
  stopAndVerifyWorkload: operatorProcedure
    .input(z.object({ hostId: z.uuid(), volume: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/, 'volume must be named as disk-group/volume') }))
    .mutation(({ ctx, input }) => stopAndVerifyWorkload(ctx.db, userActor(ctx.user), input.hostId, input.volume)),
} satisfies TRPCRouterRecord;
