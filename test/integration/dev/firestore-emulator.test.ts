/**
 * Starting the real Firestore emulator when its port is taken between being
 * chosen and being bound: the emulator exits 0 with "Address already in use"
 * (this once failed a CI run). A port we chose is retried with a fresh one;
 * a port the caller fixed fails fast with the reason.
 */
import { jest } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import { startFirestoreEmulator } from '../../../dev/firestore-emulator.js';
import { freePort } from '../../../dev/process-utils.js';

jest.setTimeout(120_000);

let squatter: Server;
let busyPort: number;

beforeAll(async () => {
  squatter = createServer((socket) => socket.destroy()); // holds the port, answers nothing
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  busyPort = (squatter.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => squatter.close(() => resolve())));

describe('startFirestoreEmulator', () => {
  it('a chosen port taken before the emulator binds it → retried on a fresh port, and that emulator answers', async () => {
    const offered: number[] = [];
    const pickPort = async () => {
      const port = offered.length === 0 ? busyPort : await freePort();
      offered.push(port);
      return port;
    };
    const emulator = await startFirestoreEmulator({ pickPort });
    try {
      expect(offered).toHaveLength(2);
      expect(offered[0]).toBe(busyPort);
      expect(emulator.port).toBe(offered[1]);
      const res = await fetch(`http://${emulator.host}/`, { headers: { connection: 'close' } });
      expect(res.status).toBe(200);
      await res.body?.cancel();
    } finally {
      await emulator.stop();
    }
  });

  it('a fixed busy port → one attempt, an error naming the port and the cause', async () => {
    await expect(startFirestoreEmulator({ port: busyPort })).rejects.toThrow(
      new RegExp(
        `Firestore emulator on 127\\.0\\.0\\.1:${busyPort} did not start: process exited with code 0 .*already in use`,
        'i',
      ),
    );
  });

  it('every attempt busy → gives up after three, with the last reason', async () => {
    let calls = 0;
    const pickPort = async () => {
      calls++;
      return busyPort;
    };
    await expect(startFirestoreEmulator({ pickPort })).rejects.toThrow(/already in use/i);
    expect(calls).toBe(3);
  });
});
