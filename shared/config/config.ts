/**
 * The one place that reads the environment. Every setting is parsed and
 * validated here; a bad or missing value fails start-up with a message that
 * names every offending variable at once.
 * @module
 */
import { z } from 'zod';
import { CodedError } from '../kernel/errors.js';
import { PRIMARY_PROVIDER, UPSTREAM_PROVIDER_IDS } from '../kernel/providers.js';

// Process-wide, and set here because every entry loads this module first: zod otherwise
// generates a parser per object schema with `new Function` on that schema's first parse,
// which cost a cold instance's first tool call about 30 ms (186 → 157 ms, median of five)
// and bought no measurable warm-call CPU.
z.config({ jitless: true });

const bool = (fallback: 'true' | 'false') =>
  z
    .enum(['true', 'false', '1', '0', 'on', 'off'])
    .default(fallback)
    .transform((v) => v === 'true' || v === '1' || v === 'on');

const seconds = (fallback: number, max = 31_536_000) => z.coerce.number().int().positive().max(max).default(fallback);

/** An http(s) origin or base URL without a trailing slash, query or fragment. */
const baseUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://')
  .refine((u) => !u.includes('?') && !u.includes('#'), 'must not contain a query or fragment')
  .transform((u) => u.replace(/\/+$/, ''));

/** Comma-separated list, trimmed, empties dropped. */
const csv = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  );

/** Secret Manager versions, newest first: the first seals/signs, the rest only open/verify. */
const versions = z
  .string()
  .regex(
    /^\s*\d+(\s*,\s*\d+)*\s*$/,
    'must be a comma-separated list of numeric secret versions, newest first, e.g. "3,2"',
  )
  .transform((s) => s.split(',').map((p) => p.trim()));

export const ConfigSchema = z
  .object({
    /** Public origin every client sees (issuer and resource origin), e.g. https://rally-mcp.example.com */
    PUBLIC_BASE_URL: baseUrl,
    GOOGLE_CLOUD_PROJECT: z.string().regex(/^[a-z][a-z0-9-]{4,61}[a-z0-9]$/, 'must be a GCP project id'),
    /** host:port of the Firestore emulator (local stack and tests only). */
    FIRESTORE_EMULATOR_HOST: z
      .string()
      .regex(/^[\w.-]+:\d+$/, 'must be host:port')
      .optional(),
    FIRESTORE_DATABASE_ID: z.string().min(1).default('(default)'),

    RALLY_BASE_URL: baseUrl.default('https://rally1.rallydev.com'),
    RALLY_CLIENT_ID: z.string().min(1, 'is required (the Rally OAuth client id)'),
    /** Send PKCE S256 to Rally (security case A1); switch off only for a tenant that rejects it. */
    RALLY_PKCE: bool('true'),
    /** Rally's WSAPI per-user concurrency cap is 12; we stay well below it. */
    RALLY_MAX_CONCURRENCY_PER_USER: z.coerce.number().int().min(1).max(12).default(4),
    RALLY_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),

    /**
     * The upstream providers tools may use (issue 19), comma-separated, the primary first: `rally`
     * (the default) or `rally,github`. Our grants are always created by signing in to the primary
     * (Rally); any other is linked to a grant on demand, through a /connect link.
     */
    UPSTREAM_PROVIDERS: z
      .string()
      .default(PRIMARY_PROVIDER)
      .transform((s) =>
        s
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.enum(UPSTREAM_PROVIDER_IDS)).min(1)),
    /** GitHub OAuth App (or GitHub App) client id; required when UPSTREAM_PROVIDERS includes github. */
    GITHUB_CLIENT_ID: z.string().min(1).optional(),
    /** Secret Manager secret holding the GitHub client secret, read at the pinned version (like Rally's). */
    GITHUB_CLIENT_SECRET_NAME: z.string().min(1).default('github-client-secret'),
    GITHUB_CLIENT_SECRET_VERSION: z.string().regex(/^\d+$/, 'must be a numeric secret version').default('1'),
    /** Where GitHub's OAuth pages and token endpoint are (GitHub Enterprise Server: its own host). */
    GITHUB_AUTHORIZE_BASE_URL: baseUrl.default('https://github.com'),
    /** GitHub's REST API (GitHub Enterprise Server: https://<host>/api/v3). */
    GITHUB_API_BASE_URL: baseUrl.default('https://api.github.com'),
    /** Timeout of each GitHub request (token endpoint and REST API). */
    GITHUB_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
    /** The scopes asked of GitHub, space-separated (an OAuth App's; a GitHub App ignores them). */
    GITHUB_SCOPES: z
      .string()
      .default('repo read:user')
      .transform((s) => s.split(/\s+/).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[a-z:_-]{1,50}$/, 'must be GitHub scope names')).max(30)),

    /**
     * Where secrets come from: `secret-manager` reads them with the client library; `mounted` reads
     * the Secret Manager versions Cloud Run mounts as files (`SECRETS_DIR/<name>/<version>`, what
     * deploy.sh deploys); `file` is local key files, refused when NODE_ENV=production.
     */
    SECRET_SOURCE: z.enum(['secret-manager', 'mounted', 'file']).default('secret-manager'),
    SECRETS_DIR: z.string().min(1).optional(),
    SECRET_MANAGER_PROJECT: z.string().min(1).optional(),
    /** Test/dev only: talk to a local Secret Manager stand-in over plain HTTP, e.g. http://127.0.0.1:9090 */
    DANGEROUSLY_SECRET_MANAGER_ENDPOINT: baseUrl.optional(),
    RALLY_CLIENT_SECRET_NAME: z.string().min(1).default('rally-client-secret'),
    RALLY_CLIENT_SECRET_VERSION: z.string().regex(/^\d+$/, 'must be a numeric secret version').default('1'),
    SEALING_KEY_NAME: z.string().min(1).default('rally-mcp-sealing-key'),
    SEALING_KEY_VERSIONS: versions.default(['1']),
    SIGNING_KEY_NAME: z.string().min(1).default('rally-mcp-signing-key'),
    SIGNING_KEY_VERSIONS: versions.default(['1']),

    ACCESS_TOKEN_TTL_SECONDS: seconds(3600, 86_400),
    REFRESH_TOKEN_TTL_SECONDS: seconds(30 * 86_400),
    AUTH_CODE_TTL_SECONDS: seconds(60, 600),
    STATE_TTL_SECONDS: seconds(600, 600),
    /** Grace window in which a rotated-out refresh token may be retried once (lost response). */
    REFRESH_GRACE_SECONDS: z.coerce.number().int().min(0).max(300).default(60),
    /**
     * How long an instance reuses a Rally link it has read before reading Firestore again (0 = every
     * tool call reads). Also the bound on how long a revocation or disconnect made elsewhere takes
     * to reach a warm instance (see docs/operating.md "Link cache").
     */
    LINK_CACHE_SECONDS: z.coerce.number().int().min(0).max(60).default(5),

    /**
     * Name of the browser-binding cookie. `__Host-` makes the browser enforce host-only + Secure;
     * behind Firebase Hosting only a cookie named `__session` reaches the function.
     */
    BINDING_COOKIE_NAME: z
      .string()
      .regex(/^(__Host-[A-Za-z0-9_-]+|__session)$/, 'must be __Host-<name> or __session')
      .default('__Host-rally-mcp-tx'),
    /** Expected `iss` on Rally's authorization response, if Rally ever sends one (RFC 9207). */
    RALLY_ISSUER: baseUrl.optional(),
    /** Opt-in Session-ID / x-ms-copilot-session-id flow (see README "Session-link mode"). */
    SESSION_LINK_MODE: bool('false'),
    /**
     * Connection tokens for headless agents (issue 18, README "Copilot coding agent"): the
     * /connections pages, the create_connection_token tool, and tokens on /mcp. Off: the pages
     * answer 404 and every connection token is refused (401), without deleting any.
     */
    CONNECTION_TOKENS: bool('true'),
    /** The longest lifetime a user may give a connection token (days); the default lifetime is min(90, this). */
    CONNECTION_TOKEN_MAX_DAYS: z.coerce.number().int().min(1).max(365).default(90),
    /** Extra browser origins allowed to call /mcp (requests without Origin are always allowed). */
    ALLOWED_ORIGINS: csv,
    /** Dev only: allow Client ID Metadata Documents on loopback http URLs. */
    DANGEROUSLY_ALLOW_LOOPBACK_CIMD: bool('false'),
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(10_000_000).default(1_000_000),
    /** Tool policy as inline JSON (see docs/operating.md "Policy"). At most one of POLICY_JSON, POLICY_FILE, POLICY_SECRET. */
    POLICY_JSON: z.string().optional(),
    /** Path to a policy JSON file (e.g. shipped with the deployment). */
    POLICY_FILE: z.string().min(1).optional(),
    /** Secret Manager secret holding the policy JSON, read at the pinned POLICY_SECRET_VERSION. */
    POLICY_SECRET: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be a Secret Manager secret id')
      .optional(),
    POLICY_SECRET_VERSION: z.string().regex(/^\d+$/, 'must be a numeric secret version').default('1'),
    /** Shards per rate-limit counter window (see shared/ratelimit/rate-limiter.ts); more shards, more write headroom per key. */
    RATE_LIMIT_SHARDS: z.coerce.number().int().min(1).max(64).default(4),
    /**
     * L20: per-instance, per-client-address limits (requests per minute, 0 = off) on the
     * unauthenticated requests that create Firestore documents (see shared/ratelimit/address-throttle.ts).
     */
    ADDRESS_LIMIT_AUTHORIZE_PER_MINUTE: z.coerce.number().int().min(0).max(100_000).default(120),
    ADDRESS_LIMIT_REGISTER_PER_MINUTE: z.coerce.number().int().min(0).max(100_000).default(30),
    ADDRESS_LIMIT_SESSION_INITIALIZE_PER_MINUTE: z.coerce.number().int().min(0).max(100_000).default(60),
    ADDRESS_LIMIT_CONNECT_LINK_PER_MINUTE: z.coerce.number().int().min(0).max(100_000).default(30),
    /** Failed connection-token lookups (unknown id, wrong secret, malformed) per address and minute (O24). */
    ADDRESS_LIMIT_CONNECTION_TOKEN_FAILURES_PER_MINUTE: z.coerce.number().int().min(0).max(100_000).default(30),
    /**
     * How many proxies in front of the functions append to X-Forwarded-For; the client address is
     * the entry this many from the right (1: the one Google's front end appends). Never the left-most.
     */
    TRUSTED_PROXY_HOPS: z.coerce.number().int().min(1).max(5).default(1),
    /** In-process cap on concurrent /mcp requests per instance (answered 503 beyond it). */
    MAX_CONCURRENT_REQUESTS: z.coerce.number().int().min(1).max(1000).default(80),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    NODE_ENV: z.enum(['production', 'development', 'test']).default('production'),
  })
  .superRefine((c, ctx) => {
    if (c.UPSTREAM_PROVIDERS[0] !== PRIMARY_PROVIDER) {
      ctx.addIssue({
        code: 'custom',
        path: ['UPSTREAM_PROVIDERS'],
        message: `must start with ${PRIMARY_PROVIDER}: it is the primary identity, whose sign-in creates every grant`,
      });
    }
    if (new Set(c.UPSTREAM_PROVIDERS).size !== c.UPSTREAM_PROVIDERS.length) {
      ctx.addIssue({ code: 'custom', path: ['UPSTREAM_PROVIDERS'], message: 'must name each provider once' });
    }
    if (c.UPSTREAM_PROVIDERS.includes('github') && !c.GITHUB_CLIENT_ID) {
      ctx.addIssue({
        code: 'custom',
        path: ['GITHUB_CLIENT_ID'],
        message: 'is required when UPSTREAM_PROVIDERS includes github (the GitHub OAuth client id)',
      });
    }
    if ((c.SECRET_SOURCE === 'file' || c.SECRET_SOURCE === 'mounted') && !c.SECRETS_DIR) {
      ctx.addIssue({
        code: 'custom',
        path: ['SECRETS_DIR'],
        message: `is required when SECRET_SOURCE=${c.SECRET_SOURCE}`,
      });
    }
    if (c.SECRET_SOURCE === 'mounted' && c.SECRETS_DIR && !c.SECRETS_DIR.startsWith('/')) {
      ctx.addIssue({
        code: 'custom',
        path: ['SECRETS_DIR'],
        message: 'must be the absolute mount path when SECRET_SOURCE=mounted',
      });
    }
    if (c.SECRET_SOURCE === 'file' && c.NODE_ENV === 'production') {
      ctx.addIssue({
        code: 'custom',
        path: ['SECRET_SOURCE'],
        message: 'file keys are for local development; production must use mounted or secret-manager',
      });
    }
    if (c.NODE_ENV === 'production' && !c.PUBLIC_BASE_URL.startsWith('https://')) {
      ctx.addIssue({ code: 'custom', path: ['PUBLIC_BASE_URL'], message: 'must be https:// in production' });
    }
    if (c.NODE_ENV === 'production' && c.DANGEROUSLY_SECRET_MANAGER_ENDPOINT) {
      ctx.addIssue({
        code: 'custom',
        path: ['DANGEROUSLY_SECRET_MANAGER_ENDPOINT'],
        message: 'is not allowed in production',
      });
    }
    if (c.NODE_ENV === 'production' && c.DANGEROUSLY_ALLOW_LOOPBACK_CIMD) {
      ctx.addIssue({
        code: 'custom',
        path: ['DANGEROUSLY_ALLOW_LOOPBACK_CIMD'],
        message: 'is not allowed in production',
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;

/** Thrown when the environment does not describe a valid configuration. */
export class ConfigError extends CodedError<'invalid_config'> {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('invalid_config', `Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Parses the environment once. Never echoes values: a bad secret-ish value must not reach a log. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = ConfigSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message.replace(/^Invalid input: /, '')}`),
    );
  }
  return result.data;
}

/** Derived URLs: one origin serves every endpoint (see shared/app/routes.ts). */
export function publicUrls(config: Pick<Config, 'PUBLIC_BASE_URL'>) {
  const base = config.PUBLIC_BASE_URL;
  return {
    issuer: base,
    resource: `${base}/mcp`,
    resourceMetadata: `${base}/.well-known/oauth-protected-resource/mcp`,
    authorizationEndpoint: `${base}/authorize`,
    tokenEndpoint: `${base}/token`,
    registrationEndpoint: `${base}/register`,
    revocationEndpoint: `${base}/revoke`,
    /** The "Your access" page: every client acting for the user, and how to end each one. */
    accessPage: `${base}/account`,
    /** The one redirect URI every upstream provider sends the browser back to (the state says which it was). */
    upstreamRedirectUri: `${base}/oauth/callback`,
    docs: `${base}/docs`,
  } as const;
}

/** Which function this process serves (set by Cloud Functions / functions-framework). */
export function functionTarget(env: Record<string, string | undefined> = process.env): string | undefined {
  return env.FUNCTION_TARGET;
}
