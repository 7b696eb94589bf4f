import { WorkQueue, type HandlerResult } from './queue.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('handles a key added several times while waiting once', async () => {
    const seen: string[] = [];
    const handler = async (k: string) => {
      seen.push(k);
      if (k === 'busy') await sleep(20);
    };
    const q = new WorkQueue({ workers: 1, baseDelayMs: 5, maxDelayMs: 50, handler });
    q.add('busy'); // occupies the only worker, so the adds below wait in the queue
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.depth).toBe(2);
    await q.idle();
    expect(seen).toEqual(['busy', 'a', 'b']);
  });

  it('never runs one key on two workers at once, and reruns it when changed meanwhile', async () => {
    let concurrent = 0;
    let maxConcurrent = 0;
    let runs = 0;
    const q = new WorkQueue({
      workers: 4,
      baseDelayMs: 5,
      maxDelayMs: 50,
      handler: async () => {
        concurrent++;
        runs++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await sleep(20);
        concurrent--;
      },
    });
    q.add('vm');
    await sleep(5);
    q.add('vm');
    q.add('vm');
    await sleep(100);
    await q.idle();
    expect(maxConcurrent).toBe(1);
    expect(runs).toBe(2);
  });

  it('runs different keys in parallel up to the worker count', async () => {
    let concurrent = 0;
    let maxConcurrent = 0;
    const q = new WorkQueue({
      workers: 3,
      baseDelayMs: 5,
      maxDelayMs: 50,
      handler: async () => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await sleep(20);
        concurrent--;
      },
    });
    ['a', 'b', 'c', 'd', 'e'].forEach((k) => q.add(k));
    await q.idle();
    expect(maxConcurrent).toBe(3);
  });

  it('backs off exponentially per key, capped, and forgets failures after a success', async () => {
    const at: number[] = [];
    const delays: number[] = [];
    let succeeded: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (succeeded = resolve));
    const q = new WorkQueue({
      workers: 1,
      baseDelayMs: 10,
      maxDelayMs: 40,
      onError: (_k, _e, retry) => delays.push(retry),
      handler: async () => {
        at.push(Date.now());
        if (at.length < 5) throw new Error('transient');
        succeeded();
      },
    });
    q.add('vm');
    await done;
    await q.idle();
    expect(delays).toEqual([10, 20, 40, 40]);
    const gaps = at.slice(1).map((t, i) => t - (at[i] ?? t));
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual((delays[i] ?? 0) - 2));
    expect(q.failuresOf('vm')).toBe(0);
    await q.stop();
  });

  it('requeues when the handler asks to look again later', async () => {
    let runs = 0;
    const q = new WorkQueue({ workers: 1, baseDelayMs: 5, maxDelayMs: 50, handler: async () => (++runs < 3 ? { requeueAfterMs: 10 } : undefined) });
    q.add('vm');
    for (let i = 0; i < 100 && runs < 3; i++) await sleep(10);
    await sleep(30);
    expect(runs).toBe(3);
    await q.stop();
  });

  it('takes no work after stop', async () => {
    let runs = 0;
    const q = new WorkQueue({ workers: 1, baseDelayMs: 5, maxDelayMs: 50, handler: async () => void runs++ });
    await q.stop();
    q.add('vm');
    await sleep(20);
    expect(runs).toBe(0);
  });

  /** A one-worker queue whose handler records each key it runs (`busy` holds the worker 20 ms). */
  function recordingQueue(extra: (key: string, seen: string[]) => Promise<HandlerResult | void> = async () => undefined) {
    const seen: string[] = [];
    const q = new WorkQueue({
      workers: 1,
      baseDelayMs: 5,
      maxDelayMs: 50,
      handler: async (k) => {
        seen.push(k);
        if (k === 'busy') await sleep(20);
        return extra(k, seen);
      },
    });
    return { q, seen };
  }

  it('takes high-lane keys before the normal ones that waited longer, each once', async () => {
    const { q, seen } = recordingQueue();
    q.add('busy');
    q.add('new-1');
    q.add('new-2');
    q.add('ready-1', 'high');
    q.add('new-2', 'high'); // promoted: runs in the high lane, and only once
    q.add('ready-1'); // a later normal add never demotes
    expect(q.depth).toBe(3);
    await q.idle();
    expect(seen).toEqual(['busy', 'ready-1', 'new-2', 'new-1']);
  });

  it('reruns a key changed while handled in the highest lane it was added in', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { q, seen } = recordingQueue(async (k, all) => {
      if (k === 'vm' && all.length === 1) await gate;
    });
    q.add('vm');
    await sleep(5);
    q.add('vm', 'high');
    q.add('other');
    release();
    await q.idle();
    expect(seen).toEqual(['vm', 'vm', 'other']);
  });

  it('puts a requeue in the lane the handler names', async () => {
    const { q, seen } = recordingQueue(async (k, all) => (k === 'hold' && all.filter((x) => x === 'hold').length === 1 ? { requeueAfterMs: 5, lane: 'high' } : undefined));
    q.add('hold');
    await sleep(1);
    q.add('busy');
    q.add('new-1');
    await q.idle();
    await sleep(20);
    await q.idle();
    expect(seen).toEqual(['hold', 'busy', 'hold', 'new-1']);
  });
});
