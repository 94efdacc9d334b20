/** Serves the 2026-07-28 baseline function (baseline-v2-fn.mjs) on PORT, like baseline.mjs serves the v1 one. */
import { createServer } from 'node:http';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import './baseline-v2-fn.mjs';

const port = Number(process.env.PORT ?? 8091);
const fn = getTestServer('baselineV2');
const httpServer = createServer((req, res) => fn.emit('request', req, res));
httpServer.listen(port, '127.0.0.1');
const stop = () => httpServer.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
