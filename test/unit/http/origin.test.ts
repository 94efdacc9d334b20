/**
 * The cross-site check of our pages' form posts (Fetch Metadata first, Origin as the fallback),
 * and the one relaxation the "Your access" page needs: its `no-referrer` forms post `Origin: null`.
 */
import type { Request } from '@google-cloud/functions-framework';
import { isSameOriginPost } from '../../../shared/http/origin.js';

const ISSUER = 'https://mcp.example.test';
const req = (headers: Record<string, string>) =>
  ({ get: (name: string) => headers[name.toLowerCase()] }) as unknown as Request;

describe('isSameOriginPost', () => {
  it.each([
    [{ 'sec-fetch-site': 'same-origin', origin: ISSUER }, true],
    [{ origin: ISSUER }, true], // no Fetch Metadata: Origin decides
    [{}, true], // neither header (an old browser): the CSRF token decides
    [{ 'sec-fetch-site': 'cross-site', origin: ISSUER }, false],
    [{ 'sec-fetch-site': 'same-site', origin: ISSUER }, false],
    [{ origin: 'https://evil.example' }, false],
    [{ 'sec-fetch-site': 'same-origin', origin: 'null' }, false], // not allowed unless asked for
  ])('consent and connect pages: %j → %s', (headers, expected) => {
    expect(isSameOriginPost(req(headers), ISSUER)).toBe(expected);
  });

  it.each([
    [{ 'sec-fetch-site': 'same-origin', origin: 'null' }, true],
    [{ 'sec-fetch-site': 'same-origin', origin: ISSUER }, true],
    [{ origin: 'null' }, false], // a sandboxed frame anywhere sends Origin null: only Fetch Metadata can vouch
    [{ 'sec-fetch-site': 'cross-site', origin: 'null' }, false],
    [{ 'sec-fetch-site': 'none', origin: 'null' }, false],
  ])('Q5: the "Your access" page (allowNullOrigin): %j → %s', (headers, expected) => {
    expect(isSameOriginPost(req(headers), ISSUER, { allowNullOrigin: true })).toBe(expected);
  });
});
