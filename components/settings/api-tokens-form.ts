/**
 * The API tokens tab's model (docs/ui.md §3.13): a token's state from its dates, and the create form's
 * fields checked by the schema `tokens.create` itself validates with (server/auth/api-token-schema.ts);
 * the server still decides, and its refusal is shown as it comes.
 */
import type { Role } from '@/components/api-types';
import { apiTokenInput, type ApiTokenInput } from '@/server/auth/api-token-schema';

export { TOKEN_ROLES } from '@/server/auth/api-token-schema';
export const DEFAULT_TTL_DAYS = 90;
export type TokenInput = ApiTokenInput;

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
  const parsed = apiTokenInput.safeParse({ name: form.name, role: form.role, ttlDays });
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
