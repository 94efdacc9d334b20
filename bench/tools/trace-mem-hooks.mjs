/** Module-resolution hooks of bench/tools/trace-mem.mjs: reports each resolved URL to the main thread. */
let port;
export function initialize(data) {
  port = data.port;
}
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  port?.postMessage(resolved.url);
  return resolved;
}
