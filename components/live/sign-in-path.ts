/**
 * `/sign-in?next=<current path>` for the page the browser is on, so signing in again
 * returns there.
 */
export function signInPath(): string {
  if (typeof window === 'undefined') return '/sign-in';
  const next = `${window.location.pathname}${window.location.search}`;
  return next === '/' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(next)}`;
}

/**
 * Leaves the console for sign-in with a full page load, which also drops every cached query
 * of the session that ended.
 */
export function goToSignIn(withNext = true) {
  window.location.replace(withNext ? signInPath() : '/sign-in');
}

/**
 * The `next` parameter, accepted only as a same-origin path: it must start with a single
 * "/" (not "//" or "/\", which browsers treat as another host) and contain no scheme or
 * control characters. Anything else falls back to "/".
 */
export function safeNextPath(next: string | null | undefined): string {
  if (!next) return '/';
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (/[\u0000-\u001f\u007f\\]/.test(next)) return '/';
  try {
    const url = new URL(next, 'http://tern.invalid');
    if (url.origin !== 'http://tern.invalid') return '/';
    if (url.pathname.startsWith('/sign-in')) return '/';
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return '/';
  }
}
