/**
 * The local stand-in for the deployed front door (Firebase Hosting rewrites):
 * one origin, each path handed to the Cloud Function that owns it, each
 * function served by functions-framework exactly as in production.
 * @module
 */
import { createServer, type Server } from 'node:http';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { routeFor, type FunctionName } from '../shared/app/routes.js';

/** Loads every function entry (each registers itself with functions-framework). */
export async function loadFunctions(): Promise<void> {
  await import('../functions/index.js');
}

export function createFrontDoor(): Server {
  const servers = new Map<FunctionName, Server>();
  const serverFor = (fn: FunctionName): Server => {
    let s = servers.get(fn);
    if (!s) {
      s = getTestServer(fn);
      servers.set(fn, s);
    }
    return s;
  };
  const server = createServer((req, res) => {
    // As Google's front end does: append the address that connected to us, so the functions read
    // the client address from the right-most X-Forwarded-For entry, as deployed (L20).
    const peer = req.socket.remoteAddress;
    if (peer) {
      const sent = req.headers['x-forwarded-for'];
      req.headers['x-forwarded-for'] = sent ? `${Array.isArray(sent) ? sent.join(', ') : sent}, ${peer}` : peer;
    }
    const pathname = new URL(req.url ?? '/', 'http://front-door').pathname;
    const fn = routeFor(pathname);
    if (!fn) {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'not_found' }));
      return;
    }
    serverFor(fn).emit('request', req, res);
  });
  // Google's front end keeps client connections open for minutes, so a client never races it to
  // reuse an idle socket. Node's 5 s default did race: a client whose event loop lagged under
  // load reused a socket this server had just closed ("other side closed").
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}
