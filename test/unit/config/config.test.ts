import { loadConfig, ConfigError, publicUrls } from '../../../shared/config/config.js';

const valid = {
  PUBLIC_BASE_URL: 'https://rally-mcp.example.com/',
  GOOGLE_CLOUD_PROJECT: 'demo-project',
  RALLY_CLIENT_ID: 'abc',
};

describe('loadConfig', () => {
  it('parses a minimal production environment with documented defaults', () => {
    const c = loadConfig(valid);
    expect(c.PUBLIC_BASE_URL).toBe('https://rally-mcp.example.com');
    expect(c.RALLY_BASE_URL).toBe('https://rally1.rallydev.com');
    expect(c.SESSION_LINK_MODE).toBe(false);
    expect(c.RALLY_PKCE).toBe(true);
    expect(c.SEALING_KEY_VERSIONS).toEqual(['1']);
    expect(c.LINK_CACHE_SECONDS).toBe(5);
    expect(publicUrls(c).resourceMetadata).toBe(
      'https://rally-mcp.example.com/.well-known/oauth-protected-resource/mcp',
    );
  });

  it('names every bad or missing variable at once, without echoing values', () => {
    let error: unknown;
    try {
      loadConfig({ PUBLIC_BASE_URL: 'ftp://x', SEALING_KEY_VERSIONS: 'latest', RALLY_TIMEOUT_MS: 'soon-secret-value' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const key of [
      'PUBLIC_BASE_URL',
      'GOOGLE_CLOUD_PROJECT',
      'RALLY_CLIENT_ID',
      'SEALING_KEY_VERSIONS',
      'RALLY_TIMEOUT_MS',
    ]) {
      expect(problems).toContain(key);
    }
    expect(problems).not.toContain('soon-secret-value');
  });

  it('bounds the link cache: 0 switches it off, more than 60 s of revocation delay is refused', () => {
    expect(loadConfig({ ...valid, LINK_CACHE_SECONDS: '0' }).LINK_CACHE_SECONDS).toBe(0);
    expect(loadConfig({ ...valid, LINK_CACHE_SECONDS: '60' }).LINK_CACHE_SECONDS).toBe(60);
    for (const bad of ['61', '-1', '2.5', 'soon'])
      expect(() => loadConfig({ ...valid, LINK_CACHE_SECONDS: bad })).toThrow(/LINK_CACHE_SECONDS/);
  });

  it('refuses file keys, http origins and test endpoints in production', () => {
    expect(() => loadConfig({ ...valid, SECRET_SOURCE: 'file', SECRETS_DIR: '/tmp/k' })).toThrow(/SECRET_SOURCE/);
    expect(() => loadConfig({ ...valid, PUBLIC_BASE_URL: 'http://example.com' })).toThrow(/PUBLIC_BASE_URL/);
    expect(() => loadConfig({ ...valid, DANGEROUSLY_SECRET_MANAGER_ENDPOINT: 'http://127.0.0.1:1' })).toThrow(
      /DANGEROUSLY_SECRET_MANAGER_ENDPOINT/,
    );
    expect(
      loadConfig({
        ...valid,
        NODE_ENV: 'development',
        SECRET_SOURCE: 'file',
        SECRETS_DIR: '/tmp/k',
        PUBLIC_BASE_URL: 'http://localhost:8080',
      }).SECRET_SOURCE,
    ).toBe('file');
  });

  it('accepts mounted Secret Manager volumes in production, at an absolute path only', () => {
    expect(loadConfig({ ...valid, SECRET_SOURCE: 'mounted', SECRETS_DIR: '/etc/secrets' }).SECRET_SOURCE).toBe(
      'mounted',
    );
    expect(() => loadConfig({ ...valid, SECRET_SOURCE: 'mounted' })).toThrow(
      /SECRETS_DIR is required when SECRET_SOURCE=mounted/,
    );
    expect(() => loadConfig({ ...valid, SECRET_SOURCE: 'mounted', SECRETS_DIR: 'etc/secrets' })).toThrow(
      /SECRETS_DIR must be the absolute mount path/,
    );
    expect(() => loadConfig({ ...valid, SECRET_SOURCE: 'vault' })).toThrow(/SECRET_SOURCE/);
  });

  it('upstream providers (issue 19): rally alone by default; github needs its client id, named when missing; rally comes first', () => {
    const c = loadConfig(valid);
    expect(c.UPSTREAM_PROVIDERS).toEqual(['rally']);
    expect(c.GITHUB_CLIENT_ID).toBeUndefined();
    expect(c.GITHUB_AUTHORIZE_BASE_URL).toBe('https://github.com');
    expect(c.GITHUB_API_BASE_URL).toBe('https://api.github.com');
    expect(c.GITHUB_SCOPES).toEqual(['repo', 'read:user']);
    expect(c.GITHUB_CLIENT_SECRET_NAME).toBe('github-client-secret');
    const both = loadConfig({ ...valid, UPSTREAM_PROVIDERS: 'rally, github', GITHUB_CLIENT_ID: 'gh' });
    expect(both.UPSTREAM_PROVIDERS).toEqual(['rally', 'github']);
    expect(() => loadConfig({ ...valid, UPSTREAM_PROVIDERS: 'rally,github' })).toThrow(
      /GITHUB_CLIENT_ID is required when UPSTREAM_PROVIDERS includes github/,
    );
    expect(() => loadConfig({ ...valid, UPSTREAM_PROVIDERS: 'github,rally', GITHUB_CLIENT_ID: 'gh' })).toThrow(
      /UPSTREAM_PROVIDERS must start with rally/,
    );
    expect(() => loadConfig({ ...valid, UPSTREAM_PROVIDERS: 'rally,rally' })).toThrow(/UPSTREAM_PROVIDERS/);
    expect(() => loadConfig({ ...valid, UPSTREAM_PROVIDERS: 'rally,gitlab' })).toThrow(/UPSTREAM_PROVIDERS/);
    expect(() => loadConfig({ ...valid, GITHUB_SCOPES: 'repo;rm' })).toThrow(/GITHUB_SCOPES/);
  });
});
