import { ApiException, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import type { VirtualMachine } from '../../api/schema/vm.js';
import type { Plan } from '../reconcile/types.js';
import type { ClusterApi } from './client.js';
import { executePlan } from './executor.js';
import type { LauncherClient } from './launcher-client.js';
import type { LauncherCredentials } from './launcher-credentials.js';

/** Records the calls a ClusterApi would make; `quota` refuses pods as a ResourceQuota does. */
function recordingApi(opts: { quota?: boolean; terminating?: boolean } = {}) {
  const calls: string[] = [];
  const api = {
    createSecret: async (s: V1Secret) => (calls.push('create secret'), { ...s, data: { token: Buffer.from('t').toString('base64') } }),
    applyPod: async (p: V1Pod) => {
      calls.push('apply pod');
      if (opts.quota) throw new ApiException(403, 'Forbidden', { message: 'pods "x" is forbidden: exceeded quota: q, requested: memory=2Gi' }, {});
      return p;
    },
    deletePod: async (ns: string, name: string, uid?: string) => void calls.push(`delete pod ${ns}/${name} ${uid ?? 'any'}`),
    patchVmFinalizers: async (vm: VirtualMachine) => (calls.push('patch finalizers'), vm),
    patchVmStatus: async (vm: VirtualMachine, status: Record<string, unknown>) => (calls.push(`patch status ${String(status.printableStatus)}`), vm),
    createEvent: async (e: { reason?: string }) => {
      calls.push(`event ${e.reason}`);
      if (opts.terminating) throw new ApiException(403, 'Forbidden', { message: 'events "x" is forbidden: unable to create new content in namespace a because it is being terminated' }, {});
    },
  };
  return { calls, api: api as unknown as ClusterApi };
}

const vm: VirtualMachine = { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web', namespace: 'a', uid: 'uid-1' }, spec: {} };
const starting: Plan = {
  actions: [{ kind: 'addFinalizer' }, { kind: 'createPod', pod: { metadata: { name: 'web-launcher', namespace: 'a' } } }],
  status: { printableStatus: 'Starting', startedAt: '2026-11-26T12:00:00.000Z' },
  events: [{ type: 'Normal', reason: 'Starting', message: 'VM is Starting' }],
  holdStatusMs: 2000,
};

function deps(api: ClusterApi) {
  // The credentials Secret is created (never read) by LauncherCredentials; here it is one recorded write.
  const credentials = { ensure: async () => void (await api.createSecret({})) } as unknown as LauncherCredentials;
  return { api, credentials, launcher: {} as LauncherClient, quotaRetryMs: 10_000, now: () => new Date('2026-11-26T12:00:00Z') };
}

describe('executePlan', () => {
  it('starts a VM in three writes: finalizer, Secret (created without reading it first) and pod; a held status waits, in the high lane', async () => {
    const { calls, api } = recordingApi();
    const result = await executePlan(deps(api), { vm }, starting);
    expect(calls).toEqual(['patch finalizers', 'create secret', 'apply pod']);
    expect(result).toEqual({ requeueAfterMs: 2000, lane: 'high' });
  });

  it('writes status and Events at once when nothing holds them', async () => {
    const { calls, api } = recordingApi();
    const { holdStatusMs: _hold, ...plan } = starting;
    await executePlan(deps(api), { vm }, plan);
    expect(calls).toEqual(['patch finalizers', 'create secret', 'apply pod', 'patch status Starting', 'event Starting']);
  });

  it('writes a quota refusal at once even when the Starting status was held', async () => {
    const { calls, api } = recordingApi({ quota: true });
    const result = await executePlan(deps(api), { vm }, starting);
    expect(calls).toEqual(['patch finalizers', 'create secret', 'apply pod', 'patch status ErrorQuotaExceeded', 'event ErrorQuotaExceeded']);
    expect(result).toEqual({ requeueAfterMs: 10_000 });
  });

  it('deletes the launcher pod it planned from, not a newer one that took its name since', async () => {
    const { calls, api } = recordingApi();
    const plan: Plan = { actions: [{ kind: 'deletePod', reason: 'restart' }], status: {}, events: [] };
    await executePlan(deps(api), { vm, pod: { metadata: { name: 'web-launcher', namespace: 'a', uid: 'pod-1' } } }, plan);
    expect(calls).toEqual(['delete pod a/web-launcher pod-1']);
  });

  it('lets an Event go when its namespace is being deleted, rather than failing the reconcile to retry it', async () => {
    const { calls, api } = recordingApi({ terminating: true });
    const plan: Plan = { actions: [], status: { printableStatus: 'Terminating' }, events: [{ type: 'Normal', reason: 'Terminating', message: 'VM is Terminating' }] };
    await expect(executePlan(deps(api), { vm }, plan)).resolves.toEqual({});
    expect(calls).toEqual(['patch status Terminating', 'event Terminating']);
  });
});
