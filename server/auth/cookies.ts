/**
 * The session cookie. `__Host-` (Secure, Path=/, no Domain) wherever the browser treats the
 * origin as secure: HTTPS, and http://localhost, which browsers accept for Secure cookies.
 * On plain HTTP to another name the prefix is impossible, so the cookie is `tern-session`.
 */
export const SECURE_COOKIE = '__Host-tern-session';
export const PLAIN_COOKIE = 'tern-session';

export function isSecureOrigin(url: URL, forwardedProto: string | null): boolean {
  if (forwardedProto === 'https' || url.protocol === 'https:') return true;
  return url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
}

export function readSessionToken(cookieHeader: string | null): string | undefined {
  if (!cookieHeader) return undefined;
  let plain: string | undefined;
  for (const part of cookieHeader.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    const name = part.slice(0, index).trim();
    const value = part.slice(index + 1).trim();
    if (name === SECURE_COOKIE && value) return value;
    if (name === PLAIN_COOKIE && value) plain = value;
  }
  return plain;
}

export function sessionCookie(token: string, maxAgeS: number, secure: boolean): string {
  const name = secure ? SECURE_COOKIE : PLAIN_COOKIE;
  return [`${name}=${token}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAgeS}`, ...(secure ? ['Secure'] : [])].join('; ');
}

export function clearedSessionCookies(secure: boolean): string[] {
  const cookies = [`${PLAIN_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`];
  if (secure) cookies.push(`${SECURE_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure`);
  return cookies;
}
