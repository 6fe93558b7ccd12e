import 'server-only';
import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { createArray, createLun, mapLun } from '@/server/fleet/arrays';
import { getArray, listArrayLuns, listArrays } from '@/server/fleet/queries';
import { adminProcedure, protectedProcedure } from '../trpc';
import { userActor } from './actor';

const name = z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, dot, dash and underscore');
const GiB = 1024 ** 3;

export const arraysRouter = {
  list: protectedProcedure.query(({ ctx }) => listArrays(ctx.db)),
  get: protectedProcedure.input(z.object({ id: z.uuid() })).query(({ ctx, input }) => getArray(ctx.db, input.id)),
  luns: protectedProcedure
    .input(
      z.object({
        arrayId: z.uuid(),
        q: z.string().max(100).optional(),
        page: z.number().int().min(1).default(1),
        pageSize: z.union([z.literal(25), z.literal(50), z.literal(100)]).default(50),
        sort: z.enum(['name', 'size']).default('name'),
        direction: z.enum(['asc', 'desc']).default('asc'),
      }),
    )
    .query(({ ctx, input }) => listArrayLuns(ctx.db, input)),
  create: adminProcedure
    .input(
      z.object({
        name,
        vendor: z.string().trim().min(1).max(64),
        model: z.string().trim().min(1).max(64),
        tier: z.number().int().min(1).max(4),
        capacityBytes: z.number().int().min(GiB / 16).max(2 ** 53 - 1),
        driver: z.object({ kind: z.literal('directory'), path: z.string().min(1).max(4096).startsWith('/', 'the folder must be an absolute path') }),
      }),
    )
    .mutation(({ ctx, input }) => createArray(ctx.db, userActor(ctx.user), input)),
  createLun: adminProcedure
    .input(z.object({ arrayId: z.uuid(), name, sizeBytes: z.number().int().positive().multipleOf(4096, 'size must be a multiple of 4 KiB') }))
    .mutation(({ ctx, input }) => createLun(ctx.db, userActor(ctx.user), input)),
  mapLun: adminProcedure
    .input(z.object({ lunId: z.uuid(), hostId: z.uuid() }))
    .mutation(({ ctx, input }) => mapLun(ctx.db, userActor(ctx.user), input)),
} satisfies TRPCRouterRecord;
