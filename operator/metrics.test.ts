import type { IncomingMessage, ServerResponse } from 'node:http';
import type { V1Secret } from '@kubernetes/client-node';
import { ClusterApi } from './kube/client.js';
import { FakeHttpApi } from '../test/fakes/http-api.js';
import { createMetrics, queueHooks } from './metrics.js';
import { WorkQueue } from './queue.js';

/** The sample lines of one metric family in the exposition text. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

test('a fresh registry has the kubevmm_ metrics and the default process metrics', async () => {
  const { body, contentType } = await createMetrics().render();
  expect(contentType).toMatch(/^text\/plain/);
  for (const name of [
    'kubevmm_reconcile_duration_seconds',
    'kubevmm_reconcile_total',
    'kubevmm_workqueue_depth',
    'kubevmm_workqueue_adds_total',
    'kubevmm_workqueue_retries_total',
    'kubevmm_workqueue_queue_duration_seconds',
    'kubevmm_vms',
    'kubevmm_api_requests_total',
    'kubevmm_api_request_duration_seconds',
    'kubevmm_informer_restarts_total',
    'kubevmm_leader',
    'kubevmm_vm_disks',
    'kubevmm_launchers_unreachable',
    'kubevmm_webhook_reviews_total',
    'kubevmm_webhook_review_duration_seconds',
    'process_cpu_seconds_total',
    'nodejs_eventloop_lag_seconds',
  ]) {
    expect(body).toContain(`# TYPE ${name} `);
  }
  expect(samples(body, 'kubevmm_leader')).toEqual(['kubevmm_leader 0']);
  expect(samples(body, 'kubevmm_workqueue_depth')).toEqual(['kubevmm_workqueue_depth 0']);
});

test('each registry is its own: two operators in one process do not share counts', async () => {
  const a = createMetrics();
  const b = createMetrics();
  a.reconcileTotal.inc({ result: 'success' });
  expect(samples((await a.render()).body, 'kubevmm_reconcile_total')).toEqual(['kubevmm_reconcile_total{result="success"} 1']);
  expect(samples((await b.render()).body, 'kubevmm_reconcile_total')).toEqual([]);
});

test('observeReconcile counts by result and records the duration', async () => {
  const m = createMetrics();
  m.observeReconcile('success', 0.02);
  m.observeReconcile('success', 0.3);
  m.observeReconcile('requeue', 0.001);
  m.observeReconcile('error', 3);
  const { body } = await m.render();
  expect(samples(body, 'kubevmm_reconcile_total').sort()).toEqual([
    'kubevmm_reconcile_total{result="error"} 1',
    'kubevmm_reconcile_total{result="requeue"} 1',
    'kubevmm_reconcile_total{result="success"} 2',
  ]);
  expect(body).toContain('kubevmm_reconcile_duration_seconds_bucket{le="0.025",result="success"} 1');
  expect(body).toContain('kubevmm_reconcile_duration_seconds_bucket{le="0.5",result="success"} 2');
  expect(body).toContain('kubevmm_reconcile_duration_seconds_count{result="error"} 1');
});

test('api requests, informer restarts and the leader gauge carry their labels', async () => {
  const m = createMetrics();
  m.apiRequests.inc({ verb: 'patch', resource: 'pods', code: '200' });
  m.apiRequests.inc({ verb: 'patch', resource: 'pods', code: '200' });
  m.apiRequests.inc({ verb: 'get', resource: 'secrets', code: '0' });
  m.informerRestarts.inc({ resource: 'virtualmachines' });
  m.leader.set(1);
  const { body } = await m.render();
  expect(samples(body, 'kubevmm_api_requests_total').sort()).toEqual([
    'kubevmm_api_requests_total{verb="get",resource="secrets",code="0"} 1',
    'kubevmm_api_requests_total{verb="patch",resource="pods",code="200"} 2',
  ]);
  expect(samples(body, 'kubevmm_informer_restarts_total')).toEqual(['kubevmm_informer_restarts_total{resource="virtualmachines"} 1']);
  expect(samples(body, 'kubevmm_leader')).toEqual(['kubevmm_leader 1']);
});

test('queue depth and VM counts are read from their sources at each scrape', async () => {
  let depth = 3;
  let counts: Record<string, number> = { Running: 2, Stopped: 1 };
  const m = createMetrics({ queueDepth: () => depth, vmsByStatus: () => counts });
  let body = (await m.render()).body;
  expect(samples(body, 'kubevmm_workqueue_depth')).toEqual(['kubevmm_workqueue_depth 3']);
  expect(samples(body, 'kubevmm_vms').sort()).toEqual(['kubevmm_vms{status="Running"} 2', 'kubevmm_vms{status="Stopped"} 1']);
  depth = 0;
  counts = { Running: 3 };
  body = (await m.render()).body;
  expect(samples(body, 'kubevmm_workqueue_depth')).toEqual(['kubevmm_workqueue_depth 0']);
  // A status no VM has any more disappears instead of keeping its last count.
  expect(samples(body, 'kubevmm_vms')).toEqual(['kubevmm_vms{status="Running"} 3']);
});

/** The value of one sample line, e.g. `kubevmm_workqueue_adds_total 3` -> 3. */
function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no sample ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

test('the work queue counts keys that enter it, their time in the queue, and retries', async () => {
  const m = createMetrics();
  let releaseBusy: () => void = () => undefined;
  const busy = new Promise<void>((resolve) => (releaseBusy = resolve));
  let failures = 0;
  const logged: string[] = [];
  const queue = new WorkQueue({
    workers: 1,
    baseDelayMs: 1,
    maxDelayMs: 1,
    handler: async (key) => {
      if (key === 'busy') await busy;
      if (key === 'flaky' && failures++ < 2) throw new Error('conflict');
    },
    ...queueHooks(m, (key) => logged.push(key)),
  });
  queue.add('busy'); // holds the only worker: the next keys wait
  queue.add('a');
  queue.add('a'); // already waiting: not a second add
  queue.add('flaky');
  await new Promise((r) => setTimeout(r, 30));
  releaseBusy();
  await queue.idle();
  await new Promise((r) => setTimeout(r, 30)); // the retries of flaky (1 ms backoff)
  await queue.idle();
  const { body } = await m.render();
  // busy, a, flaky, then flaky twice more after its failures.
  expect(value(body, 'kubevmm_workqueue_adds_total')).toBe(5);
  expect(value(body, 'kubevmm_workqueue_retries_total')).toBe(2);
  expect(logged).toEqual(['flaky', 'flaky']);
  expect(value(body, 'kubevmm_workqueue_queue_duration_seconds_count')).toBe(5);
  // a and flaky waited behind busy for at least the 30 ms it was held.
  expect(value(body, 'kubevmm_workqueue_queue_duration_seconds_bucket{le="0.01"}')).toBeLessThanOrEqual(3);
  expect(value(body, 'kubevmm_workqueue_queue_duration_seconds_sum')).toBeGreaterThanOrEqual(0.05);
  await queue.stop();
});

/** Answers GET secrets/present with a Secret, everything else with 404, after `delayMs`. */
class SlowApi extends FakeHttpApi {
  delayMs = 0;
  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    const found = req.method === 'GET' && req.url?.endsWith('/secrets/present');
    const body: V1Secret | { kind: string; code: number } = found
      ? { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'present', namespace: 'ns' } }
      : { kind: 'Status', code: 404 };
    res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}

test('ClusterApi counts every request by verb, resource and code, and times it', async () => {
  const fake = new SlowApi();
  await fake.listen();
  try {
    const m = createMetrics();
    const api = new ClusterApi(fake.kubeConfig(), (verb, resource, code, seconds) => m.observeApiRequest(verb, resource, code, seconds));
    fake.delayMs = 60;
    expect(await api.getSecret('ns', 'present')).toMatchObject({ metadata: { name: 'present' } });
    expect(await api.getSecret('ns', 'absent')).toBeUndefined();
    await api.deletePod('ns', 'gone'); // 404 on delete is fine, and still counted
    const { body } = await m.render();
    expect(samples(body, 'kubevmm_api_requests_total').sort()).toEqual([
      'kubevmm_api_requests_total{verb="delete",resource="pods",code="404"} 1',
      'kubevmm_api_requests_total{verb="get",resource="secrets",code="200"} 1',
      'kubevmm_api_requests_total{verb="get",resource="secrets",code="404"} 1',
    ]);
    expect(value(body, 'kubevmm_api_request_duration_seconds_count{verb="get",resource="secrets"}')).toBe(2);
    // Each answer took at least the server's 60 ms.
    expect(value(body, 'kubevmm_api_request_duration_seconds_bucket{le="0.05",verb="get",resource="secrets"}')).toBe(0);
    expect(value(body, 'kubevmm_api_request_duration_seconds_sum{verb="get",resource="secrets"}')).toBeGreaterThanOrEqual(0.12);
  } finally {
    await fake.close();
  }
});

test('disks by phase and unreachable launchers are read from their sources at scrape time', async () => {
  let disks: Record<string, number> = { Attached: 3, Failed: 1 };
  let unreachable = 2;
  const m = createMetrics({ disksByPhase: () => disks, unreachableLaunchers: () => unreachable });
  let body = (await m.render()).body;
  expect(samples(body, 'kubevmm_vm_disks').sort()).toEqual(['kubevmm_vm_disks{phase="Attached"} 3', 'kubevmm_vm_disks{phase="Failed"} 1']);
  expect(samples(body, 'kubevmm_launchers_unreachable')).toEqual(['kubevmm_launchers_unreachable 2']);
  disks = { Attached: 4 };
  unreachable = 0;
  body = (await m.render()).body;
  expect(samples(body, 'kubevmm_vm_disks')).toEqual(['kubevmm_vm_disks{phase="Attached"} 4']);
  expect(samples(body, 'kubevmm_launchers_unreachable')).toEqual(['kubevmm_launchers_unreachable 0']);
});

test('webhook reviews are counted by resource and result', async () => {
  const m = createMetrics();
  m.observeWebhookReview('virtualmachines', 'allowed', 0.002);
  m.observeWebhookReview('virtualmachines', 'error', 0.001);
  const { body } = await m.render();
  expect(samples(body, 'kubevmm_webhook_reviews_total').sort()).toEqual([
    'kubevmm_webhook_reviews_total{resource="virtualmachines",result="allowed"} 1',
    'kubevmm_webhook_reviews_total{resource="virtualmachines",result="error"} 1',
  ]);
  expect(body).toContain('kubevmm_webhook_review_duration_seconds_count{resource="virtualmachines"} 2');
});
