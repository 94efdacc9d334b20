/**
 * The one outbound HTTP seam: everything that calls out (Rally, Firestore REST, client metadata
 * documents) takes a `FetchLike`, so tests inject a fake and production passes `globalThis.fetch`.
 * @module
 */
export type FetchLike = typeof fetch;
