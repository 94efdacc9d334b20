/**
 * H9 (RFC 9207 §2): every authorization response carries exactly one `iss`. The integration test
 * (authorization-server.test.ts) walks each path; this one keeps a future path from skipping it:
 * every redirect written anywhere in shared/ goes to an upstream provider (Rally, GitHub: its
 * authorize URL, from configuration) or through clientRedirect, which always sets `iss` once.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientRedirect } from '../../../shared/oauth-as/client-redirect.js';
import { clientErrorUrl } from '../../../shared/oauth-as/oauth-errors.js';

const SHARED = new URL('../../../shared', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The URL expressions a redirect may be built from: ours to the client (with iss), the one to a provider, or one of our own fixed pages. */
const ALLOWED_TARGET = /^\s*(\d{3}|status),\s*(clientRedirect|clientErrorUrl|provider\.authorizeUrl|ownPage)\(/;

describe('H9: iss on every redirect to the client', () => {
  it('H9: every redirect in shared/ is built by clientRedirect/clientErrorUrl (or goes to an upstream provider); no Location header is set by hand', () => {
    const offenders: string[] = [];
    for (const file of sources(SHARED)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\.redirect\(([^\n]*)/g))
        if (!ALLOWED_TARGET.test(m[1]!)) offenders.push(`${file.slice(SHARED.length)}: .redirect(${m[1]}`);
      for (const m of text.matchAll(/['"]location['"]\s*[,:]/gi))
        offenders.push(`${file.slice(SHARED.length)}: ${m[0]} set by hand`);
    }
    expect(offenders).toEqual([]);
  });

  it('H9: clientRedirect sets exactly one iss, even over an iss in the registered URI, and keeps state unchanged', () => {
    const cases = [
      'http://127.0.0.1:33418/callback',
      'https://app.example.com/cb?tenant=a&iss=https%3A%2F%2Fevil.example',
      'com.example.app:/oauth2redirect',
    ];
    for (const uri of cases) {
      for (const url of [
        clientRedirect(uri, 'https://as.example', { code: 'c', state: 's t&=' }),
        clientErrorUrl({ redirectUri: uri, issuer: 'https://as.example', state: 's t&=' }, 'access_denied'),
      ]) {
        const params = new URL(url).searchParams;
        expect({ uri, iss: params.getAll('iss'), state: params.getAll('state') }).toEqual({
          uri,
          iss: ['https://as.example'],
          state: ['s t&='],
        });
      }
    }
  });
});
