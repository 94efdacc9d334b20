/**
 * An auth client for local emulators and stand-ins (Firestore emulator,
 * Secret Manager stand-in) reached through google-gax's REST fallback.
 * @module
 */

/**
 * What google-gax's fallback transport needs from an auth client
 * (google-gax build/src/fallback.js `createStub`, fallbackServiceStub.js):
 * `getRequestHeaders` marks it as an AuthClient, and every call goes through
 * `fetch(url, init)`, whose result is read with `.status`, `.ok` and `.arrayBuffer()`.
 * No credentials, no token: only for local emulators and stand-ins.
 */
export function createNoCredentialsAuth(projectId: string) {
  const send = (
    url: string | URL,
    init: { method?: string; headers?: HeadersInit; body?: BodyInit | null; signal?: AbortSignal } = {},
  ) =>
    globalThis.fetch(url, {
      method: init.method ?? 'GET',
      headers: new Headers(init.headers),
      ...(init.body != null ? { body: init.body } : {}),
      ...(init.signal ? { signal: init.signal } : {}),
      redirect: 'error',
    });
  return {
    getRequestHeaders: async () => new Headers(),
    getProjectId: async () => projectId,
    fetch: send,
    async request(opts: { url: string; method?: string; headers?: HeadersInit; data?: unknown; signal?: AbortSignal }) {
      const res = await send(opts.url, {
        ...(opts.method ? { method: opts.method } : {}),
        ...(opts.headers ? { headers: opts.headers } : {}),
        ...(opts.data !== undefined ? { body: JSON.stringify(opts.data) } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const text = await res.text();
      return {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
        data: text ? (JSON.parse(text) as unknown) : undefined,
      };
    },
  };
}
