// Preloaded (`node --import`) into the MCP conformance suite's CLI by
// test/integration/mcp/conformance.test.ts. The suite has no option for an
// Authorization header, and our /mcp answers tools/call (and anything but the
// anonymous methods) only with a token: this adds `Authorization: Bearer
// $CONFORMANCE_BEARER` to every request the suite sends to $CONFORMANCE_ORIGIN,
// through fetch (its stateless requests and the v1 SDK client) and
// http.request (its raw header-validation requests), unless the request
// carries its own. Requests to any other origin are left alone.
import http from 'node:http';

const token = process.env.CONFORMANCE_BEARER;
const target = process.env.CONFORMANCE_ORIGIN ? new URL(process.env.CONFORMANCE_ORIGIN) : undefined;

if (token && target) {
  const originalFetch = globalThis.fetch;
  globalThis.fetch = (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== target.origin) return originalFetch(input, init);
    const headers = new Headers(input instanceof Request ? input.headers : undefined);
    for (const [name, value] of new Headers(init.headers)) headers.set(name, value);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
    return originalFetch(input, { ...init, headers });
  };

  const originalRequest = http.request;
  http.request = function request(options, ...rest) {
    const ours =
      typeof options === 'object' &&
      !(options instanceof URL) &&
      options.hostname === target.hostname &&
      String(options.port) === target.port;
    const hasOwn = ours && Object.keys(options.headers ?? {}).some((h) => h.toLowerCase() === 'authorization');
    const withToken =
      ours && !hasOwn ? { ...options, headers: { ...options.headers, authorization: `Bearer ${token}` } } : options;
    return originalRequest.call(this, withToken, ...rest);
  };
}
