import { createConcurrencyLimiter } from '../../../shared/rally/concurrency.js';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};

describe('ConcurrencyLimiter', () => {
  it('runs at most N tasks per key and queues the rest in order, never failing', async () => {
    const limiter = createConcurrencyLimiter(2);
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      limiter.run('alice', async () => {
        started.push(i);
        await g.promise;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(limiter.active('alice')).toBe(2);
    expect(limiter.queued('alice')).toBe(2);
    gates[1]?.resolve();
    await runs[1];
    await Promise.resolve();
    expect(started).toEqual([0, 1, 2]);
    gates[0]?.resolve();
    gates[2]?.resolve();
    gates[3]?.resolve();
    await expect(Promise.all(runs)).resolves.toEqual([0, 1, 2, 3]);
    expect(limiter.active('alice')).toBe(0);
  });

  it('keeps principals apart', async () => {
    const limiter = createConcurrencyLimiter(1);
    const gate = deferred();
    const a = limiter.run('alice', () => gate.promise);
    let bobRan = false;
    await limiter.run('bob', async () => {
      bobRan = true;
    });
    expect(bobRan).toBe(true);
    gate.resolve();
    await a;
  });

  it('releases the slot when a task throws', async () => {
    const limiter = createConcurrencyLimiter(1);
    await expect(
      limiter.run('alice', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(limiter.run('alice', async () => 'ok')).resolves.toBe('ok');
    expect(limiter.active('alice')).toBe(0);
  });

  it('rejects a non-positive cap', () => {
    expect(() => createConcurrencyLimiter(0)).toThrow(RangeError);
  });
});
