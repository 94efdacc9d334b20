/**
 * Bounded in-memory caches kept as a Map: the Map's insertion order is the eviction order.
 * @module
 */

/** Makes room for one more entry: when `map` holds `limit` entries or more, drops the oldest one. */
export function evictOldest<K>(map: Map<K, unknown>, limit: number): void {
  if (map.size < limit) return;
  const oldest = map.keys().next();
  if (!oldest.done) map.delete(oldest.value);
}
