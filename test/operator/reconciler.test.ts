// The VirtualMachine reconciler against a real kube-apiserver, scheduler and KWOK nodes,
// with the operator as its own process. Each scenario uses its own namespace.
import { get } from 'node:http';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlane, type ControlPlane } from './helpers/control-plane.js';
import { createNamespace, getJson, kubectl, startOperator, waitFor, type OperatorProcess } from './helpers/operator-process.js';

let cp: ControlPlane;
let operator: OperatorProcess | undefined;
const RUN = Date.now().toString(36).slice(-5);
const namespaces: string[] = [];

function namespace(name: string): string {
  const ns = `${name}-${RUN}`;
  createNamespace(ns);
  namespaces.push(ns);
  return ns;
}

function vmYaml(ns: string, name: string, spec: string): string {
  return `apiVersion: kubevmm.io/v1alpha1
kind: VirtualMachine
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}`;
}
const SMALL = `  cpu: { cores: 2 }
  memory: { guest: 1Gi }
  disks:
    - { name: scratch, emptyDisk: { capacity: 1Gi } }
`;

const vmStatus = (ns: string, name: string) => getJson<{ status?: Record<string, any> }>(['vm', '-n', ns, name])?.status;
const pod = (ns: string, name: string) => getJson<Record<string, any>>(['pod', '-n', ns, `${name}-launcher`]);
const printable = (ns: string, name: string, want: string) => () => vmStatus(ns, name)?.printableStatus === want && vmStatus(ns, name);
const OPERATOR_ARGS = ['--no-leader-elect', '--accelerator', 'tcg', '--crash-loop-base-seconds', '2', '--resync-seconds', '30', '--health-port', '0', '--webhook-port', '0'];

/**
 * The operator's /metrics text (its URL is in its logs). A new connection each time: this
 * suite blocks its event loop in synchronous kubectl calls, so a kept-alive connection could
 * be reused after the server closed it.
 */
async function scrape(op: OperatorProcess): Promise<string> {
  const url = /"url":"([^"]+)"/.exec(op.logs())?.[1];
  if (!url) throw new Error('the operator logged no health URL');
  return new Promise((resolve, reject) => {
    get(`${url}/metrics`, { agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** API writes the operator made (create, patch, update, delete), Events not counted. */
/** The operator's API writes (Events apart), as "verb resource" → count. */
function writesWithoutEvents(metrics: string): { total: number; by: Record<string, number> } {
  const by: Record<string, number> = {};
  for (const m of metrics.matchAll(/^kubevmm_api_requests_total\{verb="(\w+)",resource="([^"]+)",code="\d+"\} (\d+)/gm)) {
    if (['create', 'patch', 'update', 'delete'].includes(m[1] ?? '') && m[2] !== 'events') by[`${m[1]} ${m[2]}`] = (by[`${m[1]} ${m[2]}`] ?? 0) + Number(m[3]);
  }
  return { total: Object.values(by).reduce((a, b) => a + b, 0), by };
}

beforeAll(async () => {
  cp = await useControlPlane();
  await cp.kubectl('apply', '--server-side', '--force-conflicts', '-f', 'crds/');
  await cp.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/virtualmachines.kubevmm.io', 'crd/virtualmachineclasses.kubevmm.io');
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  await operator?.stop();
  for (const ns of namespaces) kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFail: true });
  await cp?.release();
});

afterEach(async () => {
  await operator?.stop();
  operator = undefined;
});

describe('the API server validates VirtualMachines with the generated CRD schema', () => {
  let schemaNamespace: string | undefined;
  it.each([
    ['a bad enum', '  runStrategy: Sometimes\n  memory: { guest: 1Gi }\n', /spec.runStrategy: Unsupported value: "Sometimes"/],
    ['a value below its minimum', '  cpu: { cores: 0 }\n  memory: { guest: 1Gi }\n', /spec\.cpu\.cores.*should be greater than or equal to 1/],
    ['an unknown field', '  memroy: { guest: 1Gi }\n', /unknown field "spec.memroy"/],
    ['two sources on a disk (CEL)', '  memory: { guest: 1Gi }\n  disks:\n    - { name: a, emptyDisk: { capacity: 1Gi }, containerDisk: { image: x } }\n', /set exactly one source/],
    ['a cpu.model smuggling flags', '  cpu: { model: "host,+vmx" }\n  memory: { guest: 1Gi }\n', /spec\.cpu\.model.*should match/],
    ['a multicast MAC', '  memory: { guest: 1Gi }\n  interfaces: [ { name: default, macAddress: "01:00:5e:00:00:01" } ]\n', /macAddress.*should match/],
    ['a grace period of 3,000,000 s', '  memory: { guest: 1Gi }\n  terminationGracePeriodSeconds: 3000000\n', /terminationGracePeriodSeconds.*less than or equal to 604800/],
    ['a toleration with Exists and a value (CEL)', '  memory: { guest: 1Gi }\n  tolerations: [ { key: k, operator: Exists, value: v } ]\n', /value must be empty when operator is Exists/],
    ['a claim name with a slash', '  memory: { guest: 1Gi }\n  disks: [ { name: a, persistentVolumeClaim: { claimName: "../x" } } ]\n', /claimName.*should match/],
  ])('rejects %s', (what, spec, message) => {
    const ns = schemaNamespace ?? (schemaNamespace = namespace('schema'));
    const r = kubectl(['apply', '-f', '-'], { input: vmYaml(ns, `bad-${what.length}`, spec), allowFail: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it('rejects a VM name that is no DNS-1035 label (its hotplug Service could never exist)', () => {
    const ns = schemaNamespace ?? (schemaNamespace = namespace('schema'));
    const r = kubectl(['apply', '-f', '-'], { input: vmYaml(ns, 'web.1', '  memory: { guest: 1Gi }\n'), allowFail: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/metadata\.name.*should match/);
  });
});

describe('reconciling', () => {
  it('creates the launcher pod, reports Running with its node, restarts a failed launcher with backoff, stops when Halted, and cleans up on delete', async () => {
    const ns = namespace('life');
    // A hold longer than KWOK takes to make the pod Ready, so the start is the quick kind every time.
    operator = startOperator([...OPERATOR_ARGS, '--starting-hold-seconds', '10']);
    // Writes before the first VM (the launcher CA Secret, once per installation) are not the start's.
    await waitFor('the health URL', () => /"url":"/.test(operator!.logs()));
    // VMs another suite left in a namespace being deleted get their finalizer removed by this
    // operator first: those writes are not the start's.
    await waitFor('no VM left terminating', () => !getJson<{ items: { metadata: { deletionTimestamp?: string } }[] }>(['virtualmachines', '-A'])?.items.some((v) => v.metadata.deletionTimestamp));
    const before = writesWithoutEvents(await scrape(operator)).total;
    kubectl(['apply', '-f', '-'], { input: vmYaml(ns, 'web', SMALL) });
    const created = await waitFor('launcher pod', () => pod(ns, 'web'));
    const vm = getJson<Record<string, any>>(['vm', '-n', ns, 'web']);
    expect(created.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'VirtualMachine', name: 'web', uid: vm?.metadata.uid, controller: true })]);
    expect(created.spec.containers[0].resources).toEqual({ requests: { cpu: '200m', memory: '1190Mi' }, limits: { memory: '1190Mi' } });
    expect(vm?.metadata.finalizers).toContain('kubevmm.io/launcher-cleanup');

    const running = await waitFor('VM Running', printable(ns, 'web', 'Running'));
    expect(running.nodeName).toMatch(/^node-[ab]$/);
    expect(running).toMatchObject({ cpus: 2, memory: '1Gi', launcherPod: 'web-launcher', accelerator: 'tcg' });
    // A quick start writes four times: finalizer, launcher credentials Secret, pod, status Running (Events apart).
    const writes = writesWithoutEvents(await scrape(operator));
    expect({ ...writes, total: writes.total - before }).toEqual({ total: 4, by: writes.by });
    const table = kubectl(['get', 'vm', '-n', ns, 'web']).stdout;
    expect(table).toMatch(/NAME\s+STATUS\s+NODE\s+CPUS\s+MEMORY\s+IP\s+AGE/);
    expect(table).toMatch(/web\s+Running\s+node-[ab]\s+2\s+1Gi/);

    // the launcher fails: the VM is restarted after a backoff, and the failure is reported
    const firstUid = pod(ns, 'web')?.metadata.uid;
    const failure = { status: { phase: 'Failed', containerStatuses: [{ name: 'launcher', image: 'l', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 1, message: 'QemuKilled: qemu exited on signal SIGKILL' } } }] } };
    kubectl(['patch', 'pod', '-n', ns, 'web-launcher', '--subresource=status', '--type=merge', '-p', JSON.stringify(failure)]);
    const crashed = await waitFor('CrashLoopBackOff', printable(ns, 'web', 'CrashLoopBackOff'));
    expect(crashed).toMatchObject({ restartCount: 1, lastFailure: { reason: 'QemuKilled', message: 'qemu exited on signal SIGKILL' } });
    await waitFor('a new launcher pod', () => pod(ns, 'web')?.metadata.uid !== firstUid && pod(ns, 'web')?.metadata.uid);
    await waitFor('Running again', printable(ns, 'web', 'Running'));
    const events = kubectl(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=web', '-o', 'jsonpath={.items[*].reason}']).stdout;
    expect(events.split(' ')).toEqual(expect.arrayContaining(['Running', 'CrashLoopBackOff']));

    kubectl(['patch', 'vm', '-n', ns, 'web', '--type=merge', '-p', '{"spec":{"runStrategy":"Halted"}}']);
    await waitFor('pod gone', () => !pod(ns, 'web'));
    const stopped = await waitFor('VM Stopped', printable(ns, 'web', 'Stopped'));
    expect(stopped.nodeName).toBeUndefined();

    kubectl(['delete', 'vm', '-n', ns, 'web', '--wait=false']);
    await waitFor('VM gone', () => !getJson(['vm', '-n', ns, 'web']));
    expect(pod(ns, 'web')).toBeUndefined();

    const metrics = await scrape(operator);
    expect(metrics).toMatch(/kubevmm_reconcile_duration_seconds_count\{result="success"\} [1-9]/);
    expect(metrics).toMatch(/kubevmm_api_requests_total\{verb="patch",resource="pods",code="200"\} [1-9]/);
    expect(metrics).toContain('kubevmm_workqueue_depth');
  }, 180_000);

  it('waits with ErrorPvcNotFound for a missing PVC and starts once it exists', async () => {
    const ns = namespace('pvc');
    operator = startOperator(OPERATOR_ARGS);
    kubectl(['apply', '-f', '-'], { input: vmYaml(ns, 'db', '  memory: { guest: 1Gi }\n  disks:\n    - { name: root, persistentVolumeClaim: { claimName: db-root } }\n') });
    const waiting = await waitFor('ErrorPvcNotFound', printable(ns, 'db', 'ErrorPvcNotFound'));
    expect(waiting.conditions.find((c: { type: string }) => c.type === 'Failure').message).toMatch(/PersistentVolumeClaim db-root not found/);
    expect(pod(ns, 'db')).toBeUndefined();
    kubectl(['apply', '-f', '-'], {
      input: `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: { name: db-root, namespace: ${ns} }\nspec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Gi } } }\n`,
    });
    await waitFor('launcher pod after the PVC appeared', () => pod(ns, 'db'), 30_000);
  }, 120_000);

  it('reports ErrorQuotaExceeded with the quota’s message when a ResourceQuota refuses the pod', async () => {
    const ns = namespace('quota');
    kubectl(['create', 'quota', 'small', '-n', ns, '--hard=memory=512Mi,requests.memory=512Mi']);
    operator = startOperator(OPERATOR_ARGS);
    kubectl(['apply', '-f', '-'], { input: vmYaml(ns, 'big', SMALL) });
    const refused = await waitFor('ErrorQuotaExceeded', printable(ns, 'big', 'ErrorQuotaExceeded'));
    expect(refused.conditions.find((c: { type: string }) => c.type === 'Failure')).toMatchObject({ reason: 'QuotaExceeded', message: expect.stringMatching(/exceeded quota: small/) });
    expect(pod(ns, 'big')).toBeUndefined();
  }, 120_000);
});

describe('resilience', () => {
  it('converges without duplicate pods when the operator is killed mid-reconcile and restarted', async () => {
    const ns = namespace('crash');
    const names = Array.from({ length: 8 }, (_, i) => `vm-${i}`);
    operator = startOperator(OPERATOR_ARGS);
    await waitFor('operator caches', () => operator?.logs().includes('caches synced'));
    kubectl(['apply', '-f', '-'], { input: names.map((n) => vmYaml(ns, n, SMALL)).join('---\n') });
    await waitFor('first pod', () => getJson<{ items: unknown[] }>(['pods', '-n', ns])?.items.length);
    await operator.stop('SIGKILL');
    operator = startOperator(OPERATOR_ARGS);
    await waitFor('every VM Running', () => names.every((n) => vmStatus(ns, n)?.printableStatus === 'Running'), 90_000);
    const pods = getJson<{ items: { metadata: { name: string } }[] }>(['pods', '-n', ns])?.items.map((p) => p.metadata.name).sort();
    expect(pods).toEqual(names.map((n) => `${n}-launcher`).sort());
  }, 180_000);

  it('keeps reconciling after the API server restarts under it', async () => {
    const ns = namespace('apirestart');
    operator = startOperator(OPERATOR_ARGS);
    kubectl(['apply', '-f', '-'], { input: vmYaml(ns, 'before', SMALL) });
    await waitFor('before Running', printable(ns, 'before', 'Running'));
    await cp.restartApiserver();
    const t0 = Date.now();
    kubectl(['apply', '-f', '-'], { input: vmYaml(ns, 'after', SMALL) });
    await waitFor('after Running', printable(ns, 'after', 'Running'), 60_000);
    console.log(`a VM created after the API server restart ran ${((Date.now() - t0) / 1000).toFixed(1)} s later`);
  }, 180_000);

  it('elects one leader among two replicas and fails over when it dies', async () => {
    const ns = namespace('ha');
    const lease = ['--lease-namespace', ns, '--lease-name', 'kubevmm-operator'];
    const base = OPERATOR_ARGS.filter((a) => a !== '--no-leader-elect');
    const a = startOperator([...base, ...lease, '--identity', 'replica-a']);
    const b = startOperator([...base, ...lease, '--identity', 'replica-b']);
    try {
      const holder = await waitFor('a lease holder', () => getJson<Record<string, any>>(['lease', '-n', ns, 'kubevmm-operator'])?.spec?.holderIdentity);
      const [leader, follower] = holder === 'replica-a' ? [a, b] : [b, a];
      kubectl(['apply', '-f', '-'], { input: vmYaml(ns, 'one', SMALL) });
      await waitFor('one Running', printable(ns, 'one', 'Running'));
      // pino writes asynchronously: a busy replica's lines can arrive a moment after its work.
      await waitFor('the lease holder to log that it leads', () => leader.logs().includes('leading: reconciling'));
      await waitFor('the follower to sync its caches', () => follower.logs().includes('caches synced'));
      expect(follower.logs()).not.toContain('leading: reconciling');
      await leader.stop('SIGKILL');
      const t0 = Date.now();
      kubectl(['apply', '-f', '-'], { input: vmYaml(ns, 'two', SMALL) });
      await waitFor('two Running after failover', printable(ns, 'two', 'Running'), 60_000);
      await waitFor('the follower to log that it leads', () => follower.logs().includes('leading: reconciling'));
      console.log(`failover: a VM created after the leader was killed ran ${((Date.now() - t0) / 1000).toFixed(1)} s later`);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 180_000);
});
