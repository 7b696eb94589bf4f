// The informer against a tiny fake of the API server's watch protocol: client-node's Watch
// speaks real HTTP to it, so resume, 410 and the watchdog are exercised end to end.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { eventually, FakeHttpApi } from '../../test/fakes/http-api.js';
import type { KubernetesObject } from '@kubernetes/client-node';
import {
  backoffDelay,
  createInformer,
  InformerError,
  InformerStoppedError,
  type Informer,
  type InformerEventType,
  type InformerOptions,
  type RestartReason,
} from './informer.js';

const PATH = '/apis/kubevmm.io/v1alpha1/virtualmachines';

interface Logged {
  rv: number;
  type: InformerEventType;
  obj: KubernetesObject;
}

/** Objects, an event log to replay from a resourceVersion, and the watches that are open. */
class FakeApiServer extends FakeHttpApi {
  readonly objects = new Map<string, KubernetesObject>();
  readonly watchRequests: URLSearchParams[] = [];
  readonly open = new Set<ServerResponse>();
  listCalls = 0;
  /** Watches get no events and no bookmarks (the watchdog case). */
  silent = false;
  /** Watch requests answer with this HTTP status instead of streaming. */
  failWatchWith: number | undefined;
  private rv = 100;
  private log: Logged[] = [];
  /** Watches from a resourceVersion below this get 410 Gone. */
  private compactedRv = 0;


  /** What the informer's `list` option returns. */
  async list(): Promise<{ items: KubernetesObject[]; metadata: { resourceVersion: string } }> {
    this.listCalls++;
    return { items: [...this.objects.values()].map((o) => structuredClone(o)), metadata: { resourceVersion: String(this.rv) } };
  }

  /** Creates or updates an object; `notify: false` changes it behind the watches' back. */
  put(name: string, data: Record<string, unknown> = {}, notify = true): void {
    const type = this.objects.has(name) ? 'MODIFIED' : 'ADDED';
    const obj = vm(name, ++this.rv, data);
    this.objects.set(name, obj);
    this.record(type, obj, notify);
  }

  remove(name: string, notify = true): void {
    const old = this.objects.get(name);
    if (!old) throw new Error(`no ${name}`);
    this.objects.delete(name);
    this.record('DELETED', { ...old, metadata: { ...old.metadata, resourceVersion: String(++this.rv) } }, notify);
  }

  /** Forgets the event log, as etcd compaction does: older resourceVersions become 410. */
  compact(): void {
    this.compactedRv = this.rv;
    this.log = [];
  }

  /** Ends every open watch cleanly, as the apiserver does at a watch timeout or shutdown. */
  closeWatches(): void {
    for (const res of this.open) res.end();
    this.open.clear();
  }

  /** Sends a 410 ERROR event to every open watch (then ends it, as the apiserver does). */
  expireWatches(): void {
    for (const res of this.open) {
      send(res, 'ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version' });
      res.end();
    }
    this.open.clear();
  }

  bookmark(): void {
    for (const res of this.open) send(res, 'BOOKMARK', { kind: 'VirtualMachine', apiVersion: 'kubevmm.io/v1alpha1', metadata: { resourceVersion: String(this.rv) } });
  }

  private record(type: InformerEventType, obj: KubernetesObject, notify: boolean): void {
    this.log.push({ rv: this.rv, type, obj });
    if (!notify || this.silent) return;
    for (const res of this.open) send(res, type, obj);
  }

  protected handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    if (url.pathname !== PATH || url.searchParams.get('watch') !== 'true') {
      res.writeHead(404).end();
      return;
    }
    this.watchRequests.push(url.searchParams);
    if (this.failWatchWith) {
      res.writeHead(this.failWatchWith, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    const from = Number(url.searchParams.get('resourceVersion') ?? '0');
    if (from < this.compactedRv) {
      send(res, 'ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: `too old resource version: ${from}` });
      res.end();
      return;
    }
    if (!this.silent) for (const e of this.log) if (e.rv > from) send(res, e.type, e.obj);
    this.open.add(res);
    res.on('close', () => this.open.delete(res));
  }
}

function send(res: ServerResponse, type: string, object: unknown): void {
  res.write(`${JSON.stringify({ type, object })}\n`);
}

function vm(name: string, rv: number, data: Record<string, unknown>): KubernetesObject & Record<string, unknown> {
  return {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: 'default', resourceVersion: String(rv) },
    ...data,
  };
}


let fake: FakeApiServer;
let informer: Informer<KubernetesObject> | undefined;
let events: string[];
let errors: unknown[];
let restarts: RestartReason[];

beforeEach(async () => {
  fake = new FakeApiServer();
  await fake.listen();
  events = [];
  errors = [];
  restarts = [];
});

afterEach(async () => {
  await informer?.stop();
  informer = undefined;
  await fake.close();
});

function start(extra: Partial<InformerOptions<KubernetesObject>> = {}): Promise<void> {
  informer = createInformer<KubernetesObject>({
    kc: fake.kubeConfig(),
    path: PATH,
    list: () => fake.list(),
    watchdogMs: 2000,
    backoff: { baseMs: 20, maxMs: 100 },
    onEvent: (type, obj) => events.push(`${type} ${obj.metadata?.name}`),
    onError: (err) => errors.push(err),
    onRestart: (reason) => restarts.push(reason),
    ...extra,
  });
  return informer.start();
}

function names(): string[] {
  return (informer?.list() ?? []).map((o) => o.metadata?.name ?? '').sort();
}

test('the first list fills the cache and start() resolves once it is in', async () => {
  fake.put('a');
  fake.put('b');
  await start();
  expect(informer?.synced).toBe(true);
  expect(names()).toEqual(['a', 'b']);
  expect(informer?.get('default', 'a')?.metadata?.resourceVersion).toBe('101');
  expect(informer?.get('other', 'a')).toBeUndefined();
  expect(events.sort()).toEqual(['ADDED a', 'ADDED b']);
  // The watch starts from the list's resourceVersion, with bookmarks.
  await eventually(() => expect(fake.watchRequests).toHaveLength(1));
  expect(fake.watchRequests[0]?.get('resourceVersion')).toBe('102');
  expect(fake.watchRequests[0]?.get('allowWatchBookmarks')).toBe('true');
});

test('watch events update the cache and reach onEvent', async () => {
  await start();
  await eventually(() => expect(fake.open.size).toBe(1));
  fake.put('a');
  fake.put('a', { spec: { paused: true } });
  fake.put('b');
  fake.remove('b');
  await eventually(() => expect(events).toEqual(['ADDED a', 'MODIFIED a', 'ADDED b', 'DELETED b']));
  expect(names()).toEqual(['a']);
  expect(informer?.get('default', 'a')).toMatchObject({ spec: { paused: true } });
  expect(informer?.restarts).toBe(0);
});

test('the cache keeps what transform returns, for listed and watched objects alike', async () => {
  fake.put('a', { spec: { big: 'x'.repeat(1000) } });
  const transform = (o: KubernetesObject) => ({ ...o, spec: 'slim' }) as KubernetesObject;
  const seen: unknown[] = [];
  await start({ transform, onEvent: (_t, obj) => seen.push((obj as { spec?: unknown }).spec) });
  await eventually(() => expect(fake.open.size).toBe(1));
  fake.put('b', { spec: { big: 'y'.repeat(1000) } });
  await eventually(() => expect(names()).toEqual(['a', 'b']));
  expect(informer?.list().map((o) => (o as { spec?: unknown }).spec)).toEqual(['slim', 'slim']);
  expect(seen).toEqual(['slim', 'slim']);
});

test('a closed watch resumes from the last resourceVersion seen, without a relist', async () => {
  await start();
  await eventually(() => expect(fake.open.size).toBe(1));
  fake.put('a');
  await eventually(() => expect(events).toEqual(['ADDED a']));
  fake.bookmark(); // moves the informer's resourceVersion without an object change
  fake.closeWatches();
  fake.put('b', {}, false); // happens while no watch is open
  await eventually(() => expect(events).toEqual(['ADDED a', 'ADDED b']));
  expect(fake.listCalls).toBe(1);
  expect(fake.watchRequests.map((q) => q.get('resourceVersion'))).toEqual(['100', '101']);
  expect(restarts).toEqual(['closed']);
  expect(informer?.restarts).toBe(1);
  expect(errors).toEqual([]);
});

test('410 Gone on resume relists and reports the deletes that were missed', async () => {
  fake.put('a');
  fake.put('b');
  await start();
  await eventually(() => expect(fake.open.size).toBe(1));
  // While the informer is away, b is deleted and the history compacted: resuming gets 410.
  fake.remove('b', false);
  fake.put('c', {}, false);
  fake.compact();
  fake.closeWatches();
  await eventually(() => expect(events.slice(2)).toEqual(['DELETED b', 'ADDED c']));
  expect(names()).toEqual(['a', 'c']);
  expect(fake.listCalls).toBe(2);
  expect(restarts).toEqual(['closed', 'gone']);
  expect(errors).toEqual([expect.objectContaining({ reason: 'Gone' })]);
  await eventually(() => expect(fake.open.size).toBe(1)); // and it watches again
});

test('a 410 ERROR event in the stream relists and reports modifications since', async () => {
  fake.put('a');
  await start();
  await eventually(() => expect(fake.open.size).toBe(1));
  fake.put('a', { spec: { x: 1 } }, false);
  fake.expireWatches();
  await eventually(() => expect(events).toEqual(['ADDED a', 'MODIFIED a']));
  expect(informer?.get('default', 'a')).toMatchObject({ spec: { x: 1 } });
  expect(fake.listCalls).toBe(2);
  expect(restarts).toEqual(['gone']);
});

test('the watchdog restarts a watch that stays silent', async () => {
  fake.silent = true;
  const started = Date.now();
  await start({ watchdogMs: 150 });
  await eventually(() => expect(fake.watchRequests.length).toBeGreaterThanOrEqual(2));
  expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  expect(restarts[0]).toBe('stalled');
  expect(errors[0]).toMatchObject({ reason: 'Stalled' });
  // Once the server talks again, the restarted watch delivers.
  fake.silent = false;
  fake.put('a');
  await eventually(() => expect(events).toEqual(['ADDED a']));
});

test('bookmarks keep the watchdog quiet', async () => {
  await start({ watchdogMs: 150 });
  await eventually(() => expect(fake.open.size).toBe(1));
  for (let i = 0; i < 6; i++) {
    fake.bookmark();
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(restarts).toEqual([]);
  expect(fake.watchRequests).toHaveLength(1);
});

test('failures never stop it: failed lists and failed watches are retried with backoff', async () => {
  let failLists = 2;
  const startedAt = Date.now();
  fake.failWatchWith = 500;
  const synced = start({
    list: () => (failLists-- > 0 ? Promise.reject(new Error('connection refused')) : fake.list()),
  });
  await synced;
  expect(errors.slice(0, 2)).toEqual([expect.objectContaining({ reason: 'ListFailed' }), expect.objectContaining({ reason: 'ListFailed' })]);
  await eventually(() => expect(fake.watchRequests.length).toBeGreaterThanOrEqual(3));
  expect(errors[2]).toMatchObject({ reason: 'WatchFailed' });
  expect(errors[2]).toBeInstanceOf(InformerError);
  fake.failWatchWith = undefined;
  await eventually(() => expect(fake.open.size).toBe(1));
  fake.put('a');
  await eventually(() => expect(events).toEqual(['ADDED a']));
  expect(Date.now() - startedAt).toBeGreaterThanOrEqual(20 + 40); // two list backoffs at least
});

test('a throwing onEvent handler is reported and does not stop the informer', async () => {
  await start({
    onEvent: (type, obj) => {
      events.push(`${type} ${obj.metadata?.name}`);
      throw new Error('handler bug');
    },
  });
  await eventually(() => expect(fake.open.size).toBe(1));
  fake.put('a');
  fake.put('b');
  await eventually(() => expect(events).toEqual(['ADDED a', 'ADDED b']));
  expect(errors).toHaveLength(2);
  expect(informer?.restarts).toBe(0);
});

test('stop() closes the watch and nothing is emitted after it', async () => {
  await start();
  await eventually(() => expect(fake.open.size).toBe(1));
  await informer?.stop();
  await eventually(() => expect(fake.open.size).toBe(0));
  fake.put('late');
  await new Promise((r) => setTimeout(r, 100));
  expect(events).toEqual([]);
  expect(fake.watchRequests).toHaveLength(1);
  expect(informer?.restarts).toBe(0);
});

test('stop() before the first list rejects start() and drops the late list result', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  fake.put('a');
  const synced = start({ list: async () => (await gate, fake.list()) });
  await informer?.stop();
  await expect(synced).rejects.toBeInstanceOf(InformerStoppedError);
  release();
  await new Promise((r) => setTimeout(r, 50));
  expect(events).toEqual([]);
  expect(fake.watchRequests).toHaveLength(0);
  expect(informer?.synced).toBe(false);
});

test('backoffDelay doubles from the base and is capped', () => {
  const b = { baseMs: 100, maxMs: 1000 };
  expect(backoffDelay(1, b)).toBeGreaterThanOrEqual(100);
  expect(backoffDelay(1, b)).toBeLessThanOrEqual(120);
  expect(backoffDelay(3, b)).toBeGreaterThanOrEqual(400);
  expect(backoffDelay(3, b)).toBeLessThanOrEqual(480);
  expect(backoffDelay(20, b)).toBe(1000);
});
