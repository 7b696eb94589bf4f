import { createMetrics } from './metrics.js';

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
    'kubevmm_vms',
    'kubevmm_api_requests_total',
    'kubevmm_informer_restarts_total',
    'kubevmm_leader',
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
