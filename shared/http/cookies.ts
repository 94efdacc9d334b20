/**
 * The browser-binding cookie of a sign-in (RFC 9700 §4.7; security cases B3, C12).
 * Set only after the user approves, immediately before the redirect to Rally,
 * always with a value the server just minted (L15); `readCookie` serves only
 * the callback's comparison, never as a source of a value to bind to.
 * @module
 */
import type { Request } from '@google-cloud/functions-framework';

export const BINDING_COOKIE_MAX_AGE_SECONDS = 600;

export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{16,128}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** `__Host-`-style attributes: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, short Max-Age. */
export function bindingCookie(name: string, value: string): string {
  return `${name}=${value}; Max-Age=${BINDING_COOKIE_MAX_AGE_SECONDS}; Path=/; Secure; HttpOnly; SameSite=Lax`;
}

/** A signed-in page's session cookie: the binding cookie's attributes with its own lifetime (the sign-in that minted the name is spent). */
export function sessionCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Max-Age=${maxAgeSeconds}; Path=/; Secure; HttpOnly; SameSite=Lax`;
}

/** Tells the browser to forget the cookie `name`. */
export function clearedCookie(name: string): string {
  return `${name}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax`;
}
