/**
 * The public path → Cloud Function map. One origin fronts every function
 * (MCP discovery needs the resource, its metadata and the authorization
 * server on the same host). The local stack routes with this table and
 * deploy.sh generates the Firebase Hosting rewrites from it, so the two
 * cannot drift.
 * @module
 */

export type FunctionName = 'mcp' | 'oauthCallback' | 'protectedResourceMetadata' | 'authorization';

export interface Route {
  /** Exact path, or a prefix ending in `/**`. */
  readonly path: string;
  readonly fn: FunctionName;
}

export const ROUTES: readonly Route[] = [
  { path: '/mcp', fn: 'mcp' },
  { path: '/tools/**', fn: 'mcp' },
  { path: '/oauth/callback', fn: 'oauthCallback' },
  { path: '/docs', fn: 'protectedResourceMetadata' },
  { path: '/.well-known/oauth-protected-resource', fn: 'protectedResourceMetadata' },
  { path: '/.well-known/oauth-protected-resource/**', fn: 'protectedResourceMetadata' },
  { path: '/.well-known/oauth-authorization-server', fn: 'authorization' },
  { path: '/.well-known/oauth-authorization-server/**', fn: 'authorization' },
  { path: '/.well-known/openid-configuration', fn: 'authorization' },
  { path: '/.well-known/openid-configuration/**', fn: 'authorization' },
  { path: '/authorize', fn: 'authorization' },
  { path: '/consent', fn: 'authorization' },
  { path: '/token', fn: 'authorization' },
  { path: '/register', fn: 'authorization' },
  { path: '/revoke', fn: 'authorization' },
  { path: '/connect/**', fn: 'authorization' },
  { path: '/account', fn: 'authorization' },
  { path: '/account/**', fn: 'authorization' },
  { path: '/connections', fn: 'authorization' },
  { path: '/connections/**', fn: 'authorization' },
];

/** Which function serves `pathname`, or undefined (→ 404 at the front door). */
export function routeFor(pathname: string): FunctionName | undefined {
  for (const r of ROUTES) {
    if (r.path.endsWith('/**')) {
      const prefix = r.path.slice(0, -3);
      if (pathname.startsWith(`${prefix}/`) && pathname.length > prefix.length + 1) return r.fn;
    } else if (pathname === r.path) {
      return r.fn;
    }
  }
  return undefined;
}
