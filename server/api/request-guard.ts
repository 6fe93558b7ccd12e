/**
 * Cross-site request refusal in front of the tRPC handler (DESIGN section 9). A browser sends
 * `Origin` on cross-site POSTs and `Sec-Fetch-Site` on everything; a request another site
 * triggered is refused, and mutations are accepted only as JSON, because tRPC's fetch adapter
 * would otherwise take a cross-site `multipart/form-data` form post (sent without a preflight)
 * as a mutation.
 */
export function refuseCrossSite(request: Request): string | undefined {
  const url = new URL(request.url);
  const host = request.headers.get('x-forwarded-host') ?? request.headers.get('host') ?? url.host;
  const origin = request.headers.get('origin');
  if (origin && origin !== 'null') {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      return `malformed Origin header "${origin.slice(0, 100)}"`;
    }
    if (originHost !== host) return `cross-site request from ${origin} refused`;
  } else if (origin === 'null') {
    return 'request from an opaque origin refused';
  }
  const fetchSite = request.headers.get('sec-fetch-site');
  if (fetchSite && fetchSite !== 'same-origin' && fetchSite !== 'none') return `cross-site request (Sec-Fetch-Site: ${fetchSite}) refused`;
  if (request.method === 'POST') {
    const contentType = request.headers.get('content-type') ?? '';
    if (!contentType.toLowerCase().startsWith('application/json')) return `mutations must be sent as application/json, not "${contentType.slice(0, 100) || 'no content type'}"`;
  }
  return undefined;
}
