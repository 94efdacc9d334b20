/** Serves the baseline function (baseline-fn.mjs) on PORT, like dev/front-door.ts serves ours. */
import { createServer } from 'node:http';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import './baseline-fn.mjs';

const port = Number(process.env.PORT ?? 8090);
const fn = getTestServer('baseline');
const httpServer = createServer((req, res) => fn.emit('request', req, res));
httpServer.listen(port, '127.0.0.1');
const stop = () => httpServer.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
