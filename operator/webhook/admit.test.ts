import type { VirtualMachineClass } from '../../api/schema/class.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { admit, type AdmissionCaches } from './admit.js';

const API = 'kubevmm.io/v1alpha1';

function vm(name: string, spec: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: API, kind: 'VirtualMachine', metadata: { name, namespace: 'team-a', uid: `uid-${name}`, managedFields: [{ manager: 'kubectl' }] }, spec, ...extra };
}

const SMALL_CLASS: VirtualMachineClass = {
  apiVersion: API,
  kind: 'VirtualMachineClass',
  metadata: { name: 'small' },
  spec: { memory: { guest: '1Gi' }, limits: { maxCores: 2, maxMemory: '2Gi', maxDisks: 2 } },
};

function caches(vms: Record<string, unknown>[] = [], synced = true): AdmissionCaches {
  return {
    vms: { list: () => vms as unknown as VirtualMachine[] },
    classes: { list: () => [SMALL_CLASS] },
    synced: () => synced,
  };
}

function review(object: unknown, opts: { operation?: string; kind?: string; oldObject?: unknown } = {}): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'req-1',
      kind: { group: 'kubevmm.io', version: 'v1alpha1', kind: opts.kind ?? 'VirtualMachine' },
      resource: { group: 'kubevmm.io', version: 'v1alpha1', resource: 'virtualmachines' },
      operation: opts.operation ?? 'CREATE',
      namespace: 'team-a',
      name: (object as { metadata?: { name?: string } } | undefined)?.metadata?.name,
      object,
      oldObject: opts.oldObject ?? null,
    },
  };
}

const disk = (name: string, extra: Record<string, unknown> = { emptyDisk: { capacity: '1Gi' } }) => ({ name, ...extra });
const pvcDisk = (name: string, claimName: string, extra: Record<string, unknown> = {}) => ({ name, persistentVolumeClaim: { claimName }, ...extra });
const VALID = { memory: { guest: '1Gi' }, disks: [disk('root')] };

describe('admit: VirtualMachines', () => {
  it('admits a valid VM and echoes the request uid in an admission.k8s.io/v1 review', () => {
    expect(admit(review(vm('web', VALID)), caches())).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'req-1', allowed: true },
    });
  });

  it.each([
    ['duplicate disk names', { memory: { guest: '1Gi' }, disks: [disk('root'), disk('root')] }, 'spec.disks[1].name', /duplicate value "root", already used by spec.disks\[0\].name/],
    ['vCPUs beyond the class limit', { className: 'small', cpu: { cores: 4 } }, 'spec.cpu', /4 vCPUs exceed class "small" limit maxCores=2/],
    ['memory beyond the class limit', { className: 'small', memory: { guest: '4Gi' } }, 'spec.memory.guest', /4Gi exceeds class "small" limit maxMemory=2Gi/],
    ['more disks than the class allows', { className: 'small', disks: [disk('a'), disk('b'), disk('c')] }, 'spec.disks', /3 disks exceed class "small" limit maxDisks=2/],
    ['a class that does not exist', { className: 'huge', memory: { guest: '1Gi' } }, 'spec.className', /VirtualMachineClass "huge" does not exist; create it or name an existing class/],
    ['a misspelt field', { memory: { guest: '1Gi' }, runStrategi: 'Always' }, 'spec.runStrategi', /did you mean "runStrategy"/],
  ])('denies %s with 422 and a cause naming the field', (_what, spec, field, message) => {
    const { response } = admit(review(vm('web', spec)), caches());
    expect(response).toMatchObject({ uid: 'req-1', allowed: false, status: { code: 422, reason: 'Invalid' } });
    // kubectl prints 'The VirtualMachine "web" is invalid:' from these, as for the API server's own checks
    expect(response.status?.details).toMatchObject({ group: 'kubevmm.io', kind: 'VirtualMachine', name: 'web' });
    expect(response.status?.details?.causes).toContainEqual({ reason: 'FieldValueInvalid', field, message: expect.stringMatching(message) });
    expect(response.status?.message).toMatch(new RegExp(`^VirtualMachine team-a/web is invalid: .*${field.replace(/[[\].]/g, '\\$&')}: `));
  });

  it('admits a VM that uses the class defaults within its limits', () => {
    expect(admit(review(vm('web', { className: 'small', cpu: { cores: 2 } })), caches()).response.allowed).toBe(true);
  });

  describe('one writer per PVC', () => {
    const running = vm('db', { memory: { guest: '1Gi' }, disks: [pvcDisk('data', 'shared')] }, { status: { printableStatus: 'Running' } });
    const want = { memory: { guest: '1Gi' }, disks: [disk('root'), pvcDisk('data', 'shared')] };

    it('denies a second writer while the first VM runs, naming it and the fix', () => {
      const { response } = admit(review(vm('web', want)), caches([running]));
      expect(response.allowed).toBe(false);
      expect(response.status?.details?.causes).toEqual([
        {
          reason: 'FieldValueInvalid',
          field: 'spec.disks[1].persistentVolumeClaim.claimName',
          message: expect.stringMatching(/"shared" is in read-write use by VirtualMachine "db" \(Running\).*stop "db" first \(runStrategy: Halted\) or set readOnly: true/),
        },
      ]);
    });

    it('counts a VM that is Stopped under runStrategy Always as a writer: it is restarting and keeps its disks', () => {
      const restarting = { ...running, status: { printableStatus: 'Stopped' } };
      expect(admit(review(vm('web', want)), caches([restarting])).response.allowed).toBe(false);
    });

    it('counts a VM that has no status yet as a writer', () => {
      const fresh = vm('db', { memory: { guest: '1Gi' }, disks: [pvcDisk('data', 'shared')] });
      expect(admit(review(vm('web', want)), caches([fresh])).response.status?.details?.causes?.[0]?.message).toMatch(/\(not started yet\)/);
    });

    it.each([
      ['the other VM is Stopped and stays so (Manual)', [{ ...running, spec: { ...(running.spec as object), runStrategy: 'Manual' }, status: { printableStatus: 'Stopped' } }], want],
      ['the other VM is in another namespace', [{ ...running, metadata: { name: 'db', namespace: 'team-b' } }], want],
      ['the other VM reads it only', [vm('db', { memory: { guest: '1Gi' }, disks: [pvcDisk('data', 'shared', { readOnly: true })] }, { status: { printableStatus: 'Running' } })], want],
      ['this VM reads it only (claim readOnly)', [running], { memory: { guest: '1Gi' }, disks: [{ name: 'data', persistentVolumeClaim: { claimName: 'shared', readOnly: true } }] }],
      ['this VM will not run (Halted)', [running], { ...want, runStrategy: 'Halted' }],
      ['the other VM is this VM (an update)', [vm('web', want, { status: { printableStatus: 'Running' } })], want],
    ])('admits when %s', (_what, others, spec) => {
      expect(admit(review(vm('web', spec)), caches(others)).response.allowed).toBe(true);
    });
  });

  it('admits an update that leaves the spec alone, even of a VM its class no longer allows (finalizers, labels)', () => {
    const old = vm('web', { className: 'small', cpu: { cores: 4 } });
    const object = { ...old, metadata: { ...(old.metadata as object), finalizers: ['kubevmm.io/launcher-cleanup'] } };
    expect(admit(review(object, { operation: 'UPDATE', oldObject: old }), caches()).response.allowed).toBe(true);
    const changed = { ...object, spec: { className: 'small', cpu: { cores: 8 } } };
    expect(admit(review(changed, { operation: 'UPDATE', oldObject: old }), caches()).response.allowed).toBe(false);
  });

  it('admits any update of a VM being deleted, so its finalizer can be removed', () => {
    const old = vm('web', { className: 'gone' }, { metadata: { name: 'web', namespace: 'team-a', deletionTimestamp: '2026-01-01T00:00:00Z' } });
    expect(admit(review({ ...old, metadata: { name: 'web', namespace: 'team-a', deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: [] } }, { operation: 'UPDATE', oldObject: old }), caches()).response.allowed).toBe(true);
  });

  it('denies (fails closed) while the caches are still syncing', () => {
    const { response } = admit(review(vm('web', VALID)), caches([], false));
    expect(response).toMatchObject({ allowed: false, status: { code: 400, message: expect.stringMatching(/caches are still syncing; retry/) } });
  });

  it('admits DELETE and kinds it does not own', () => {
    expect(admit(review(vm('web', { disks: 'nonsense' }), { operation: 'DELETE' }), caches()).response.allowed).toBe(true);
    expect(admit(review({ kind: 'Pod' }, { kind: 'Pod' }), caches()).response.allowed).toBe(true);
  });
});

describe('admit: VirtualMachineClasses', () => {
  const cls = (spec: Record<string, unknown>) => ({ apiVersion: API, kind: 'VirtualMachineClass', metadata: { name: 'c' }, spec });
  const classReview = (spec: Record<string, unknown>) => review(cls(spec), { kind: 'VirtualMachineClass' });

  it('admits a relabelling of a class that its rules would now refuse', () => {
    const old = cls({ memory: { guest: '8Gi' }, limits: { maxMemory: '4Gi' } });
    const relabelled = { ...old, metadata: { name: 'c', labels: { tier: 'gold' } } };
    expect(admit(review(relabelled, { kind: 'VirtualMachineClass', operation: 'UPDATE', oldObject: old }), caches()).response.allowed).toBe(true);
  });

  it('admits a valid class', () => {
    expect(admit(classReview({ cpu: { cores: 2 }, memory: { guest: '2Gi' }, limits: { maxCores: 4, maxMemory: '8Gi' } }), caches()).response.allowed).toBe(true);
  });

  it.each([
    ['an unknown field', { limits: { maxCore: 4 } }, 'spec.limits.maxCore', /did you mean "maxCores"/],
    ['defaults beyond its own maxMemory', { memory: { guest: '8Gi' }, limits: { maxMemory: '4Gi' } }, 'spec.memory.guest', /default 8Gi exceeds its limit maxMemory=4Gi/],
    ['defaults beyond its own maxCores', { cpu: { cores: 4, sockets: 2 }, limits: { maxCores: 4 } }, 'spec.cpu', /8 vCPUs exceeds its limit maxCores=4/],
    ['a guest too small to boot', { memory: { guest: '1Mi' } }, 'spec.memory.guest', /at least 16Mi/],
  ])('denies %s', (_what, spec, field, message) => {
    const { response } = admit(classReview(spec), caches());
    expect(response).toMatchObject({ allowed: false, status: { code: 422 } });
    expect(response.status?.details?.causes).toContainEqual({ reason: 'FieldValueInvalid', field, message: expect.stringMatching(message) });
  });
});

describe('admit: malformed reviews are denied with a message that says what is wrong', () => {
  it.each([
    ['not an object', 'hello', '', /must be a JSON AdmissionReview object/],
    ['a v1beta1 review', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'u1' } }, 'u1', /admissionReviewVersions: \[v1\]/],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, '', /request is missing/],
    ['no uid', { ...review(vm('web', VALID)), request: { ...(review(vm('web', VALID)).request as object), uid: undefined } }, '', /request.uid is missing/],
    ['an unknown operation', { ...review(vm('web', VALID)), request: { ...(review(vm('web', VALID)).request as object), operation: 'PATCH' } }, 'req-1', /operation must be one of/],
    ['a VM CREATE without the object', review(null), 'req-1', /request.object is missing for CREATE of a VirtualMachine/],
  ])('%s', (_what, body, uid, message) => {
    const { response } = admit(body, caches());
    expect(response).toMatchObject({ uid, allowed: false, status: { code: 400, reason: 'BadRequest', message: expect.stringMatching(message) } });
  });
});

describe('the webhook refuses what kubevmm validate refuses (issue 16), naming the field', () => {
  const base = { memory: { guest: '1Gi' }, disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'root' } }] };
  it.each([
    ['a dotted VM name', vm('web.1', base), 'metadata.name'],
    ['a cpu.model smuggling flags', vm('web', { ...base, cpu: { model: 'host,+vmx' } }), 'spec.cpu.model'],
    ['an infinite memory size', vm('web', { ...base, memory: { guest: '9e999' } }), 'spec.memory.guest'],
    ['a grace period of 3,000,000 s', vm('web', { ...base, terminationGracePeriodSeconds: 3_000_000 }), 'spec.terminationGracePeriodSeconds'],
    ['the same claim twice', vm('web', { ...base, disks: [...base.disks, { name: 'again', hotpluggable: true, persistentVolumeClaim: { claimName: 'root' } }] }), 'spec.disks[1].persistentVolumeClaim.claimName'],
    ['a guest port on the control port', vm('web', { ...base, interfaces: [{ name: 'default', ports: [{ port: 9500 }] }] }), 'spec.interfaces[0].ports[0].port'],
  ])('%s', (_what, object, field) => {
    const { response } = admit(review(object), caches());
    expect(response.allowed).toBe(false);
    expect(response.status?.details?.causes?.map((c) => c.field)).toContain(field);
  });
});
