/**
 * Owns the sign-in rate limits. Failed sign-ins are counted per (username, client address) and,
 * over a shorter window, per client address across all usernames; a blocked caller is told when
 * to retry. Counting per address as well as per username is what keeps a real admin signing in
 * from elsewhere unaffected by someone guessing their password: the attacker's address is
 * blocked, the name is not. A successful sign-in clears its (username, address) count only, so
 * one valid account cannot be used to reset an address that sprays guesses at others.
 *
 * The counts live in this process (one map per database handle): with several console replicas
 * behind a load balancer, an attacker spread across them gets at most one budget per replica.
 */
import 'server-only';

export interface Window {
  /** Failures allowed inside the window; the next attempt is refused. */
  limit: number;
  windowMs: number;
}

export const SIGN_IN_LIMITS = {
  perUserAddress: { limit: 5, windowMs: 15 * 60_000 },
  perAddress: { limit: 20, windowMs: 60_000 },
} satisfies Record<string, Window>;

export type LimitScope = keyof typeof SIGN_IN_LIMITS;

export interface Refusal {
  scope: LimitScope;
  /** When the oldest counted failure leaves its window. */
  retryAt: Date;
  retryAfterS: number;
}

/** Sliding-window logs of failure times, one per key; keys that fall idle are dropped. */
export class SignInLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly limits: Record<LimitScope, Window> = SIGN_IN_LIMITS) {}

  private keys(username: string, address: string): Record<LimitScope, string> {
    return { perUserAddress: `u\0${username.toLowerCase()}\0${address}`, perAddress: `a\0${address}` };
  }

  private recent(key: string, windowMs: number, now: number): number[] {
    const times = (this.failures.get(key) ?? []).filter((t) => now - t < windowMs);
    if (times.length) this.failures.set(key, times);
    else this.failures.delete(key);
    return times;
  }

  /** The refusal for this attempt, or undefined when it may go ahead. */
  check(username: string, address: string, now = Date.now()): Refusal | undefined {
    const keys = this.keys(username, address);
    for (const scope of ['perAddress', 'perUserAddress'] as const) {
      const { limit, windowMs } = this.limits[scope];
      const times = this.recent(keys[scope], windowMs, now);
      if (times.length < limit) continue;
      // The attempt becomes possible when enough old failures have aged out to fall under the limit.
      const freeAt = (times[times.length - limit] ?? now) + windowMs;
      return { scope, retryAt: new Date(freeAt), retryAfterS: Math.max(1, Math.ceil((freeAt - now) / 1000)) };
    }
    return undefined;
  }

  fail(username: string, address: string, now = Date.now()) {
    if (this.failures.size > 100_000) this.prune(now);
    const keys = this.keys(username, address);
    for (const scope of ['perAddress', 'perUserAddress'] as const) {
      const times = this.recent(keys[scope], this.limits[scope].windowMs, now);
      times.push(now);
      this.failures.set(keys[scope], times.slice(-this.limits[scope].limit));
    }
  }

  succeed(username: string, address: string) {
    this.failures.delete(this.keys(username, address).perUserAddress);
  }

  private prune(now: number) {
    const longest = Math.max(...Object.values(this.limits).map((w) => w.windowMs));
    for (const [key, times] of this.failures) if (!times.some((t) => now - t < longest)) this.failures.delete(key);
  }
}

const holder = globalThis as unknown as { ternSignInLimiters?: WeakMap<object, SignInLimiter> };

/** The limiter of one database handle (so each test database starts clean). */
export function signInLimiter(db: object): SignInLimiter {
  const byDb = (holder.ternSignInLimiters ??= new WeakMap());
  let limiter = byDb.get(db);
  if (!limiter) byDb.set(db, (limiter = new SignInLimiter()));
  return limiter;
}

/**
 * The client's address as the nearest proxy saw it: the last `X-Forwarded-For` entry (Next.js
 * sets the header from the socket when a request arrives without one). A client talking to the
 * console directly can choose this value, so run the console behind a proxy that appends it.
 */
export function clientAddress(headers: Headers): string {
  const forwarded = headers.get('x-forwarded-for');
  const last = forwarded?.split(',').pop()?.trim();
  return last ? last.slice(0, 64) : 'unknown';
}
