import { ClusterError } from './api-errors.js';
import type { Goal } from '../../api/vm-edits.js';
import { judge, waitForGoal, type VmFeed, type WatchHandlers } from './wait.js';

type Vm = Parameters<typeof judge>[0];

const vm = (printableStatus: string, rv: string, extra: { generation?: number; observedGeneration?: number; disks?: { name: string; phase: string; message?: string }[] } = {}): Vm => ({
  metadata: { name: 'web', resourceVersion: rv, ...(extra.generation ? { generation: extra.generation } : {}) },
  spec: {},
  status: { printableStatus, ...(extra.observedGeneration ? { observedGeneration: extra.observedGeneration } : {}), ...(extra.disks ? { disks: extra.disks } : {}) },
});

/** A VM the test changes by hand: reads return it, and its watch delivers what the test emits. */
class Feed implements VmFeed {
  reads: Vm[];
  watches: string[] = [];
  stopped = 0;
  private handlers: WatchHandlers | undefined;
  private watching: (() => void) | undefined;

  constructor(...reads: Vm[]) {
    this.reads = reads;
  }

  async get() {
    const next = this.reads.length > 1 ? this.reads.shift()! : this.reads[0]!;
    if (next.metadata.name === 'fail') throw new ClusterError('connection refused', true);
    return structuredClone(next) as Vm & { metadata: { resourceVersion?: string } };
  }

  async watch(rv: string, handlers: WatchHandlers) {
    this.watches.push(rv);
    this.handlers = handlers;
    this.watching?.();
    return () => void this.stopped++;
  }

  /** Resolves once a watch has started (the nth, counting from 1). */
  async watchStarted(n = 1): Promise<void> {
    while (this.watches.length < n) await new Promise<void>((r) => (this.watching = r));
  }

  emit(type: string, object: unknown) {
    this.handlers!.event(type, object);
  }

  end(err?: unknown) {
    this.handlers!.end(err);
  }
}

const STOPPED: Goal = { kind: 'status', printableStatus: 'Stopped' };

function start(feed: Feed, goal: Goal = STOPPED, extra: { generation?: number; timeoutMs?: number } = {}) {
  const lines: string[] = [];
  const done = waitForGoal({ feed, goal, timeoutMs: extra.timeoutMs ?? 5000, retryMs: 10, onProgress: (l) => lines.push(l), ...(extra.generation ? { generation: extra.generation } : {}) });
  return { lines, done };
}

describe('judging a version of the VM', () => {
  it('believes a status only once the operator has seen the generation the patch made', () => {
    const running = { kind: 'status', printableStatus: 'Running' } as const;
    expect(judge(vm('Running', '5', { generation: 3, observedGeneration: 2 }), running, 3)).toEqual({ state: 'waiting', line: 'web: Running' });
    expect(judge(vm('Running', '6', { generation: 3, observedGeneration: 3 }), running, 3)).toEqual({ state: 'reached', line: 'web: Running' });
    expect(judge(vm('Paused', '6', { generation: 3, observedGeneration: 3 }), running, 3)).toEqual({ state: 'waiting', line: 'web: Paused' });
    expect(judge(vm('Running', '6'), running)).toEqual({ state: 'reached', line: 'web: Running' }); // nothing patched: nothing to wait for
  });
});

describe('waiting for a goal', () => {
  it('reads the VM, then follows its watch until the goal, and ends the watch', async () => {
    const feed = new Feed(vm('Running', '10'));
    const { lines, done } = start(feed);
    await feed.watchStarted();
    expect(feed.watches).toEqual(['10']);
    feed.emit('MODIFIED', vm('Stopping', '11'));
    feed.emit('MODIFIED', vm('Stopped', '12'));
    await expect(done).resolves.toEqual({ state: 'reached', line: 'web: Stopped' });
    expect(lines).toEqual(['web: Running', 'web: Stopping']);
    expect(feed.stopped).toBe(1);
  });

  it('is done at once when the VM already is as asked, without watching', async () => {
    const feed = new Feed(vm('Stopped', '10'));
    await expect(start(feed).done).resolves.toEqual({ state: 'reached', line: 'web: Stopped' });
    expect(feed.watches).toEqual([]);
  });

  it('does not believe a status the operator wrote before it saw the patch', async () => {
    const feed = new Feed(vm('Stopped', '10', { generation: 4, observedGeneration: 3 }));
    const { lines, done } = start(feed, { kind: 'status', printableStatus: 'Stopped' }, { generation: 4 });
    await feed.watchStarted();
    feed.emit('MODIFIED', vm('Stopped', '11', { generation: 4, observedGeneration: 4 }));
    await expect(done).resolves.toMatchObject({ state: 'reached' });
    expect(lines).toEqual(['web: Stopped']);
  });

  it('reads the VM again and watches from there when the watch ends or its resourceVersion expires (410)', async () => {
    const feed = new Feed(vm('Running', '10'), vm('Stopping', '20'), vm('Stopping', '30'));
    const { lines, done } = start(feed);
    await feed.watchStarted(1);
    feed.end(); // the server closed it after its timeoutSeconds
    await feed.watchStarted(2);
    feed.emit('ERROR', { kind: 'Status', code: 410, message: 'too old resource version: 20 (25)' });
    await feed.watchStarted(3);
    expect(feed.watches).toEqual(['10', '20', '30']);
    expect(feed.stopped).toBe(1); // the expired watch was closed, not left open beside the new one
    feed.emit('MODIFIED', vm('Stopped', '31'));
    await expect(done).resolves.toMatchObject({ state: 'reached' });
    expect(lines).toEqual(['web: Running', 'web: Stopping', 'web: Stopping']);
  });

  it('retries a read that fails for a moment (the API server restarting)', async () => {
    const feed = new Feed({ ...vm('Running', '1'), metadata: { name: 'fail' } }, vm('Stopped', '2'));
    await expect(start(feed).done).resolves.toMatchObject({ state: 'reached' });
  });

  it('ends with the reason when the watch is refused (RBAC) or the VM is deleted', async () => {
    const refused = new Feed(vm('Running', '10'));
    const a = start(refused);
    await refused.watchStarted();
    refused.end(new ClusterError('you may not watch virtualmachines "web" in namespace ns (kubevmm.io)', false, 403));
    await expect(a.done).resolves.toEqual({ state: 'failed', line: 'you may not watch virtualmachines "web" in namespace ns (kubevmm.io)' });

    const deleted = new Feed(vm('Running', '10'));
    const b = start(deleted);
    await deleted.watchStarted();
    deleted.emit('DELETED', vm('Stopping', '11'));
    await expect(b.done).resolves.toEqual({ state: 'failed', line: 'virtualmachine "web" was deleted while waiting' });
  });

  it('ends failed when the goal cannot be reached any more (a disk Failed)', async () => {
    const feed = new Feed(vm('Running', '10', { disks: [{ name: 'data', phase: 'Failed', message: 'claim data is in use' }] }));
    await expect(start(feed, { kind: 'disk-attached', disk: 'data' }).done).resolves.toEqual({ state: 'failed', line: 'web: disk data Failed: claim data is in use' });
  });

  it('times out with what the VM was last seen doing', async () => {
    const feed = new Feed(vm('Running', '10'));
    const { done } = start(feed, STOPPED, { timeoutMs: 50 });
    await feed.watchStarted();
    feed.emit('MODIFIED', vm('Stopping', '11'));
    await expect(done).resolves.toEqual({ state: 'timedOut', line: 'web: Stopping' });
    expect(feed.stopped).toBe(1);
  });
});
