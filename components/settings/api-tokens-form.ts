/**
 * The API tokens tab's model (UI.md §3.13): a token's state from its dates, and the create form's
 * fields checked by the rules of `tokens.create`. The server's schema sits inline in its router,
 * behind `server-only`, so its rules and messages are repeated here; the server still decides,
 * and its refusal is shown as it comes.
 */
import { z } from 'zod';
import type { Role } from '@/components/api-types';

export const TOKEN_ROLES = ['viewer', 'operator', 'admin'] as const satisfies readonly Role[];
export const DEFAULT_TTL_DAYS = 90;

/** Same rules and messages as `tokens.create` in server/api/routers/tokens.ts. */
export const tokenInputSchema = z.object({
  name: z
    .string()
    .trim()
    .min(1, 'name the token after what will use it')
    .max(64, 'a name has at most 64 characters')
    .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'use letters, digits, space, dot, dash and underscore'),
  role: z.enum(TOKEN_ROLES),
  ttlDays: z.number().int('a lifetime is a whole number of days').min(1, 'a token lives at least a day').max(366, 'a token lives at most 366 days'),
});
export type TokenInput = z.infer<typeof tokenInputSchema>;

export type TokenState = 'active' | 'revoked' | 'expired';

/** Revoked wins over expired: it is what someone did, and it is final. */
export function tokenState(token: { revokedAt: Date | null; expiresAt: Date }, now: Date | number = Date.now()): TokenState {
  if (token.revokedAt) return 'revoked';
  return token.expiresAt.getTime() <= new Date(now).getTime() ? 'expired' : 'active';
}

export interface TokenForm {
  name: string;
  role: Role;
  /** As typed. */
  ttlDays: string;
}

export type TokenFormErrors = Partial<Record<keyof TokenForm, string>>;

export const emptyTokenForm = (): TokenForm => ({ name: '', role: 'viewer', ttlDays: String(DEFAULT_TTL_DAYS) });

/** The input to send, or the message under each wrong field. */
export function tokenFromForm(form: TokenForm): { ok: true; input: TokenInput } | { ok: false; errors: TokenFormErrors } {
  const ttlDays = form.ttlDays.trim() === '' ? Number.NaN : Number(form.ttlDays);
  const parsed = tokenInputSchema.safeParse({ name: form.name, role: form.role, ttlDays });
  if (parsed.success) return { ok: true, input: parsed.data };
  const errors: TokenFormErrors = {};
  for (const issue of parsed.error.issues) {
    const field = issue.path[0] as keyof TokenForm;
    errors[field] ??= field === 'ttlDays' && Number.isNaN(ttlDays) ? 'Enter a whole number of days, 1 to 366.' : sentence(issue.message);
  }
  return { ok: false, errors };
}

/** The line that shows how the `tern` command uses a token (README "Automation"), against this console. */
export function exampleCommand(token: string, consoleUrl: string): string {
  return `TERN_URL=${consoleUrl} TERN_TOKEN=${token} npm run tern -- migrations`;
}

const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1) + (text.endsWith('.') ? '' : '.');
