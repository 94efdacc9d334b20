/**
 * Prints {"ms": <import() time>} for one module in this fresh process.
 * argv[2]: path or package specifier to import. Run with or without --import tsx.
 */
import { pathToFileURL } from 'node:url';
const spec = process.argv[2];
const target = spec.startsWith('.') || spec.startsWith('/') ? pathToFileURL(spec).href : spec;
const t0 = performance.now();
await import(target);
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ ms, rssMb: process.memoryUsage().rss / 1048576 })}\n`);
process.exit(0);
