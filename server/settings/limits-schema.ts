/**
 * Owns the validation of the fleet's scheduling limits, shared by the tRPC input, the service
 * and the Settings form (no `server-only`: the form imports it). Bandwidth is bytes/s here; the
 * form converts from MiB/s before it validates.
 */
import { z } from 'zod';

const concurrency = (what: string) => z.number({ error: `${what} must be a number` }).int(`${what} must be a whole number`).min(1, `${what} must be at least 1`).max(10_000, `${what} must be at most 10000`);

export const limitsSchema = z
  .object({
    global: concurrency('global concurrency'),
    perHost: concurrency('concurrency per host'),
    perSourceArray: concurrency('concurrency per source array'),
    perTargetArray: concurrency('concurrency per target array'),
    arrayBandwidthBytesPerS: z.record(
      z.uuid('a bandwidth budget is keyed by array id'),
      z.number().int('a bandwidth budget is a whole number of bytes/s').positive('a bandwidth budget must be more than 0 bytes/s').max(Number.MAX_SAFE_INTEGER),
    ),
  })
  .superRefine((limits, ctx) => {
    if (limits.perHost > limits.global) ctx.addIssue({ code: 'custom', path: ['perHost'], message: `concurrency per host (${limits.perHost}) cannot exceed global concurrency (${limits.global})` });
  });
