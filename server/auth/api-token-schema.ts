/**
 * Owns the validation of a new API token, shared by `tokens.create` and the Settings form (no
 * `server-only`: the form imports it), so the browser says what the server would refuse.
 */
import { z } from 'zod';

export const TOKEN_ROLES = ['viewer', 'operator', 'admin'] as const;

export const apiTokenInput = z.object({
  name: z
    .string()
    .trim()
    .min(1, 'name the token after what will use it')
    .max(64, 'a name has at most 64 characters')
    .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'use letters, digits, space, dot, dash and underscore'),
  role: z.enum(TOKEN_ROLES),
  ttlDays: z.number().int('a lifetime is a whole number of days').min(1, 'a token lives at least a day').max(366, 'a token lives at most 366 days'),
});
export type ApiTokenInput = z.infer<typeof apiTokenInput>;
