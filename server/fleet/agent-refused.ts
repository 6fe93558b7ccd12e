/**
 * A request from an agent that the console refused, with the HTTP status to answer it with.
 * Nothing was changed, apart from the audit event that records the refusal.
 */
export class AgentRefusedError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 401 | 409 | 413,
    readonly code: string,
  ) {
    super(message);
    this.name = 'AgentRefusedError';
  }
}

/** A unique-constraint violation, as PGlite and postgres-js report it (drizzle wraps it in `cause`). */
export function isUniqueViolation(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === '23505') return true;
  }
  return false;
}
