import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiException, CoreV1Api, KubeConfig, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import { DEFAULT_CONFIG } from '../../api/schema/config.js';
import type { VirtualMachine, VmStatus } from '../../api/schema/vm.js';
import { renderAttachmentPod, renderHotplugService } from '../render/attachment.js';
import { renderLauncherPod } from '../render/pod.js';
import type { Action, Plan } from '../reconcile/types.js';
import type { ClusterApi } from './client.js';
import { executePlan, type ExecutorDeps } from './executor.js';
import { WriteRefusedError } from './refusal.js';
import { makeTimedClient } from './timeout.js';

const now = new Date('2026-11-26T12:00:00Z');
const vm: VirtualMachine = {
  apiVersion: 'kubevmm.io/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name: 'web', namespace: 'team-a', uid: 'u1', resourceVersion: '41', finalizers: ['kubevmm.io/launcher-cleanup'] },
  spec: { memory: { guest: '1Gi' }, disks: [{ name: 'data', hotpluggable: true, persistentVolumeClaim: { claimName: 'data' } }] },
  status: { printableStatus: 'Stopped' },
};

/** An API server's refusal as client-node reports it. */
const refusal = (code: number, reason: string, message: string) => new ApiException(code, message, JSON.stringify({ kind: 'Status', reason, message, code }), {});

/** A ClusterApi whose writes fail as told, recording statuses and Events. */
function fakeApi(fail: { pod?: Error; service?: Error; status?: Error } = {}) {
  const seen = { statuses: [] as { body: Record<string, unknown>; resourceVersion?: string }[], events: [] as CoreV1Event[], pods: [] as V1Pod[] };
  const api = {
    applyPod: async (pod: V1Pod) => {
      if (fail.pod) throw fail.pod;
      seen.pods.push(pod);
      return pod;
    },
    applyService: async () => {
      if (fail.service) throw fail.service;
      return {};
    },
    patchVmStatus: async (v: VirtualMachine, body: Record<string, unknown>) => {
      if (fail.status) throw fail.status;
      seen.statuses.push({ body, ...(v.metadata.resourceVersion ? { resourceVersion: v.metadata.resourceVersion } : {}) });
      return v;
    },
    createEvent: async (e: CoreV1Event) => void seen.events.push(e),
  };
  const credentials = { ensure: async () => undefined } as unknown as ExecutorDeps['credentials'];
  const deps: ExecutorDeps = { api: api as unknown as ClusterApi, credentials, launcher: {} as ExecutorDeps['launcher'], quotaRetryMs: 10_000, now: () => now };
  return { deps, seen };
}

const startPlan = (): Plan => ({
  actions: [{ kind: 'createPod', pod: renderLauncherPod({ vm, config: DEFAULT_CONFIG }) }],
  status: { printableStatus: 'Starting', startedAt: now.toISOString() },
  events: [{ type: 'Normal', reason: 'Starting', message: 'VM is Starting' }],
});

describe('executePlan: no refused write is hidden', () => {
  it('reports a pod refused by a webhook in status and an Event, then fails so the queue backs off', async () => {
    const { deps, seen } = fakeApi({ pod: refusal(400, 'BadRequest', 'admission webhook "deny.example" denied the request: no VMs on Fridays') });
    await expect(executePlan(deps, { vm }, startPlan())).rejects.toBeInstanceOf(WriteRefusedError);
    const status = seen.statuses[0]?.body as VmStatus;
    expect(status.printableStatus).toBe('ErrorRefused');
    expect(status.startedAt ?? undefined).toBeUndefined(); // nothing started
    const failure = status.conditions?.find((c) => c.type === 'Failure');
    expect(failure).toMatchObject({ status: 'True', reason: 'LauncherPodRefused' });
    expect(failure?.message).toBe('the API server refused LauncherPod team-a/web-launcher (BadRequest): admission webhook "deny.example" denied the request: no VMs on Fridays');
    expect(seen.events.map((e) => [e.type, e.reason, e.message])).toEqual([['Warning', 'LauncherPodRefused', failure?.message]]);
  });

  it('says it once: the same refusal again writes no status and no Event', async () => {
    const error = refusal(403, 'Forbidden', 'pods "web-launcher" is forbidden: maximum memory usage per Container is 512Mi, but limit is 1190Mi');
    const first = fakeApi({ pod: error });
    await expect(executePlan(first.deps, { vm }, startPlan())).rejects.toThrow(/maximum memory usage per Container/);
    const reported = { ...vm, status: { ...vm.status, ...(first.seen.statuses[0]?.body as VmStatus), startedAt: undefined } as VmStatus };
    const again = fakeApi({ pod: error });
    await expect(executePlan(again.deps, { vm: reported }, startPlan())).rejects.toBeInstanceOf(WriteRefusedError);
    expect(again.seen.events).toEqual([]);
    expect(again.seen.statuses).toEqual([]);
  });

  it('polls a quota refusal with ErrorQuotaExceeded instead of failing', async () => {
    const { deps, seen } = fakeApi({ pod: refusal(403, 'Forbidden', 'pods "web-launcher" is forbidden: exceeded quota: small, requested: memory=1190Mi') });
    await expect(executePlan(deps, { vm }, startPlan())).resolves.toEqual({ requeueAfterMs: 10_000 });
    expect(seen.statuses[0]?.body).toMatchObject({ printableStatus: 'ErrorQuotaExceeded' });
    expect(seen.events[0]).toMatchObject({ reason: 'ErrorQuotaExceeded', message: expect.stringMatching(/exceeded quota: small/) });
  });

  it('fails the hotplugged disk whose attachment pod was refused, naming the server’s reason', async () => {
    const disk = { name: 'data', claimName: 'data', readOnly: false };
    const action: Action = { kind: 'createAttachment', service: renderHotplugService(vm), pod: renderAttachmentPod({ vm, config: DEFAULT_CONFIG, disk, node: 'n', pvc: { mode: 'Filesystem', sizeBytes: 2 ** 30 } }) };
    const plan: Plan = { actions: [action], status: { printableStatus: 'Running', disks: [{ name: 'data', phase: 'Pending', message: 'starting' }] }, events: [] };
    const { deps, seen } = fakeApi({ pod: refusal(403, 'Forbidden', 'violates PodSecurity "restricted:latest": seccompProfile') });
    await expect(executePlan(deps, { vm }, plan)).rejects.toThrow(/PodSecurity/);
    const status = seen.statuses[0]?.body as VmStatus;
    expect(status.printableStatus).toBe('Running');
    expect(status.disks?.[0]).toMatchObject({ phase: 'Failed', message: expect.stringMatching(/^the API server refused AttachmentPod team-a\/web-hotplug-data \(Forbidden\): violates PodSecurity/) });
    expect(status.conditions?.find((c) => c.type === 'Failure')?.reason).toBe('AttachmentPodRefused');
  });

  it('retries, and reports nothing, for failures that are not a verdict on the object', async () => {
    const { deps, seen } = fakeApi({ pod: refusal(500, 'InternalError', 'etcdserver: request timed out') });
    await expect(executePlan(deps, { vm }, startPlan())).rejects.toThrow(/etcdserver/);
    expect(seen.statuses).toEqual([]);
  });

  it('guards the status write with the resourceVersion it was computed from, and retries soon after a conflict', async () => {
    const ok = fakeApi();
    await executePlan(ok.deps, { vm }, startPlan());
    expect(ok.seen.statuses[0]?.resourceVersion).toBe('41');
    const raced = fakeApi({ status: refusal(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version') });
    await expect(executePlan(raced.deps, { vm }, startPlan())).resolves.toEqual({ requeueAfterMs: 1_000 });
    expect(raced.seen.events).toEqual([]);
  });
});

describe('API calls have a deadline', () => {
  it('a call to an API server that never answers fails after the timeout instead of hanging', async () => {
    const server = createServer(() => undefined); // accepts, never responds
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const kc = new KubeConfig();
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    kc.loadFromOptions({ clusters: [{ name: 'c', server: url, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const started = Date.now();
    try {
      await expect(makeTimedClient(kc, CoreV1Api, 300).readNamespacedPod({ namespace: 'a', name: 'b' })).rejects.toThrow(/abort|timeout/i);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
