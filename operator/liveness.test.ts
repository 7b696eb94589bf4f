import { livenessProblems } from './liveness.js';
import { WorkQueue } from './queue.js';

const now = 10_000_000;
const live = { lastActivityAt: now - 60_000, watchdogMs: 180_000 };

describe('livenessProblems (/healthz)', () => {
  it('is healthy while informers move and the queue drains', () => {
    expect(livenessProblems({ informers: { pods: live }, queueStalledMs: 5_000, queueStallLimitMs: 300_000, now })).toEqual([]);
  });

  it('fails on an informer whose loop made no progress for two watchdog periods', () => {
    const wedged = { lastActivityAt: now - 500_000, watchdogMs: 180_000 };
    expect(livenessProblems({ informers: { pods: live, virtualmachines: wedged }, queueStallLimitMs: 300_000, now })).toEqual(['informer virtualmachines made no progress for 500 s']);
  });

  it('fails on a queue that has work but finishes nothing', () => {
    expect(livenessProblems({ informers: {}, queueStalledMs: 301_000, queueStallLimitMs: 300_000, now })).toEqual(['work queue finished no reconcile for 301 s while it had work']);
  });
});

describe('WorkQueue.stalledMs', () => {
  it('is 0 when idle, grows while a handler hangs, and drops once one finishes', async () => {
    let release: () => void = () => undefined;
    const queue = new WorkQueue({ workers: 1, baseDelayMs: 10, maxDelayMs: 10, handler: (key) => (key === 'stuck' ? new Promise<void>((r) => (release = r)) : Promise.resolve()) });
    expect(queue.stalledMs()).toBe(0);
    // an idle queue that gets new work is not stalled for the time it was idle
    await new Promise((r) => setTimeout(r, 30));
    queue.add('stuck');
    expect(queue.stalledMs()).toBeLessThan(20);
    queue.add('waiting');
    const later = performance.now() + 60_000;
    expect(queue.stalledMs(later)).toBeGreaterThan(59_000);
    release();
    await queue.idle();
    expect(queue.stalledMs()).toBe(0);
    await queue.stop();
  });
});
