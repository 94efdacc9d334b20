/**
 * freePort picks below the kernel's ephemeral range, so a port chosen for a
 * child server is not handed to someone else's listen(0) or outgoing
 * connection before the child binds it.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort, isPortInUse } from '../../../dev/process-utils.js';

const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

describe('freePort', () => {
  it('returns distinct bindable ports outside the ephemeral range', async () => {
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(Math.min(ephemeralStart, 32_768));
      expect(await isPortInUse(port)).toBe(false);
      ports.add(port);
    }
    expect(ports.size).toBeGreaterThan(15); // random, not a fixed port
  });

  it('isPortInUse sees a listener', async () => {
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const { port } = srv.address() as { port: number };
    expect(await isPortInUse(port)).toBe(true);
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    expect(await isPortInUse(port)).toBe(false);
  });
});
