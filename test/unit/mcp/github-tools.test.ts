/**
 * The pure parts of the GitHub tools (issue 19): which links a Rally post may carry (R-cases on
 * forged links) and the branch names drafted from Rally text.
 */
import { describe, expect, it } from '@jest/globals';
import { branchSlug, parseGitHubUrl } from '../../../shared/mcp/tools/github.tools.js';
import { ToolInputError } from '../../../shared/mcp/tools/tool-errors.js';

const WEB = 'https://github.com';

describe('parseGitHubUrl', () => {
  it('reads a pull request and a commit link on the configured host', () => {
    expect(parseGitHubUrl('https://github.com/acme/storefront/pull/12', WEB)).toEqual({
      kind: 'pull_request',
      repo: 'acme/storefront',
      number: 12,
    });
    expect(parseGitHubUrl('https://github.com/acme/storefront/commit/ABCDEF1234567/', WEB)).toEqual({
      kind: 'commit',
      repo: 'acme/storefront',
      sha: 'abcdef1234567',
    });
  });

  it('keeps a GitHub Enterprise path prefix and a sandbox port', () => {
    expect(parseGitHubUrl('http://127.0.0.1:8092/ghe/acme/app/pull/3', 'http://127.0.0.1:8092/ghe/')).toMatchObject({
      repo: 'acme/app',
      number: 3,
    });
  });

  it.each([
    ['another host', 'https://github.com.evil.example/acme/storefront/pull/12'],
    ['a look-alike host', 'https://gist.github.com/acme/storefront/pull/12'],
    ['credentials in the link', 'https://user:pw@github.com/acme/storefront/pull/12'],
    ['http instead of https', 'http://github.com/acme/storefront/pull/12'],
    ['an issue, not a pull request', 'https://github.com/acme/storefront/issues/12'],
    ['a pull request sub-page', 'https://github.com/acme/storefront/pull/12/files'],
    ['a non-numeric number', 'https://github.com/acme/storefront/pull/12abc'],
    ['a short sha', 'https://github.com/acme/storefront/commit/abc12'],
    ['a traversal', 'https://github.com/acme/../pull/12'],
    ['not a URL', 'acme/storefront#12'],
    ['a javascript: link', 'javascript:alert(1)//github.com/acme/storefront/pull/12'],
  ])('R49: forged link refused: %s', (_what, url) => {
    expect(() => parseGitHubUrl(url, WEB)).toThrow(ToolInputError);
  });
});

describe('branchSlug', () => {
  it('keeps ASCII words, drops accents and symbols, and cuts at a word boundary', () => {
    expect(branchSlug('Add a Login page (SSO)!')).toBe('add-a-login-page-sso');
    expect(branchSlug('Crème brûlée — über naïve')).toBe('creme-brulee-uber-naive');
    const long = branchSlug('word '.repeat(40));
    expect(long.length).toBeLessThanOrEqual(48);
    expect(long.endsWith('-')).toBe(false);
  });

  it('R52: cannot carry git-special or shell characters', () => {
    for (const name of ['../../etc', 'a..b@{c}', '$(rm -rf /)', 'x.lock', 'refs/heads/main', '\u202eevil']) {
      expect(branchSlug(name)).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$|^$/);
    }
  });

  it('is empty for a name with no letters or digits', () => {
    expect(branchSlug('—')).toBe('');
  });
});
