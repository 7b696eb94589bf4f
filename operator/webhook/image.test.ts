import { admitAny, type AdmissionCaches } from './admit.js';
import { claimAccessReview } from './image.js';

const caches: AdmissionCaches = { vms: { list: () => [] }, classes: { list: () => [] }, synced: () => true };
const USER = { username: 'bob', uid: 'u-bob', groups: ['team-a', 'system:authenticated'], extra: { 'scopes.example': ['disks'] } };

function review(spec: Record<string, unknown>, opts: { operation?: string; oldSpec?: Record<string, unknown>; userInfo?: unknown } = {}) {
  const object = { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineImage', metadata: { name: 'debian-12' }, spec };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'r-1',
      kind: { group: 'kubevmm.io', version: 'v1alpha1', kind: 'VirtualMachineImage' },
      operation: opts.operation ?? 'CREATE',
      namespace: 'team-a',
      name: 'debian-12',
      userInfo: 'userInfo' in opts ? opts.userInfo : USER,
      object,
      ...(opts.oldSpec ? { oldObject: { ...object, spec: opts.oldSpec } } : {}),
    },
  };
}

/** A reviewer answering `allowed` and recording what it was asked. */
function reviewer(answer: unknown) {
  const asked: Record<string, unknown>[] = [];
  const fn = async (body: Record<string, unknown>) => {
    asked.push(body);
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return Object.assign(fn, { asked });
}

const foreign = { source: { pvc: { name: 'golden', namespace: 'golden-images' } } };

describe('admitting a VirtualMachineImage', () => {
  it('admits an image of any source that needs no other namespace without asking anyone', async () => {
    const ask = reviewer(new Error('must not be asked'));
    for (const spec of [{ source: { upload: {} } }, { source: { http: { url: 'https://images.example/a.qcow2' } } }, { source: { pvc: { name: 'golden' } } }, { source: { pvc: { name: 'golden', namespace: 'team-a' } } }]) {
      expect((await admitAny(review(spec), caches, ask)).response).toEqual({ uid: 'r-1', allowed: true });
    }
    expect(ask.asked).toEqual([]);
  });

  it('refuses an invalid image with 422 naming each field, as the API server does', async () => {
    const { response } = await admitAny(review({ source: { upload: {} }, storage: { size: '1Ki', volumeMode: 'Tape' } }), caches, reviewer({}));
    expect(response.allowed).toBe(false);
    expect(response.status?.code).toBe(422);
    expect(response.status?.details?.causes.map((c) => c.field)).toEqual(['spec.storage.volumeMode']);
    expect(response.status?.message).toMatch(/^VirtualMachineImage team-a\/debian-12 is invalid: spec\.storage\.volumeMode: /);
  });

  it('asks the API server whether the very user of the request may get the claim there, and admits on yes', async () => {
    const ask = reviewer({ status: { allowed: true } });
    expect((await admitAny(review(foreign), caches, ask)).response.allowed).toBe(true);
    expect(ask.asked).toEqual([claimAccessReview(USER, { namespace: 'golden-images', name: 'golden' })]);
    expect(ask.asked[0]).toEqual({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: 'bob', uid: 'u-bob', groups: ['team-a', 'system:authenticated'], extra: { 'scopes.example': ['disks'] }, resourceAttributes: { group: '', version: 'v1', resource: 'persistentvolumeclaims', verb: 'get', namespace: 'golden-images', name: 'golden' } },
    });
  });

  it('refuses on no, naming the field, the user, the claim and the fix', async () => {
    const { response } = await admitAny(review(foreign), caches, reviewer({ status: { allowed: false, reason: 'no RBAC policy matched' } }));
    expect(response.allowed).toBe(false);
    expect(response.status?.details?.causes).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'spec.source.pvc.namespace',
        message:
          'user "bob" may not get persistentvolumeclaims in namespace "golden-images" (claim "golden"): no RBAC policy matched; an image copies a claim of another namespace only for a user who may read it there: ask for a RoleBinding in "golden-images" granting get on persistentvolumeclaims, or copy a claim of this namespace',
      },
    ]);
  });

  it('fails closed: an API server that cannot be asked, an answer that cannot be read, a review without its user', async () => {
    const down = await admitAny(review(foreign), caches, reviewer(new Error('connect ECONNREFUSED')));
    expect(down.response).toMatchObject({ allowed: false, status: { code: 503, message: expect.stringMatching(/SubjectAccessReview\) failed: connect ECONNREFUSED; try again/) } });
    expect((await admitAny(review(foreign), caches, reviewer({ status: { allowed: 'yes' } }))).response).toMatchObject({ allowed: false, status: { code: 503 } });
    expect((await admitAny(review(foreign), caches, reviewer({}))).response.allowed).toBe(false);
    const anonymous = await admitAny(review(foreign, { userInfo: undefined }), caches, reviewer({ status: { allowed: true } }));
    expect(anonymous.response).toMatchObject({ allowed: false, status: { code: 400, message: expect.stringMatching(/userInfo is missing/) } });
  });

  it('asks again when an update changes the spec, and lets an unchanged spec through (finalizers, labels)', async () => {
    const ask = reviewer({ status: { allowed: false } });
    expect((await admitAny(review(foreign, { operation: 'UPDATE', oldSpec: foreign }), caches, ask)).response.allowed).toBe(true);
    expect(ask.asked).toEqual([]);
    expect((await admitAny(review(foreign, { operation: 'UPDATE', oldSpec: { source: { upload: {} } } }), caches, ask)).response.allowed).toBe(false);
    expect(ask.asked).toHaveLength(1);
  });

  it('leaves a DELETE alone, and still answers VirtualMachines from the caches', async () => {
    expect((await admitAny(review(foreign, { operation: 'DELETE' }), caches, reviewer(new Error('no')))).response.allowed).toBe(true);
    const vm = { ...review({}), request: { ...review({}).request, kind: { group: 'kubevmm.io', version: 'v1alpha1', kind: 'VirtualMachine' }, object: { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web' }, spec: { memory: { guest: '1Gi' } } } } };
    expect((await admitAny(vm, caches, reviewer(new Error('no')))).response.allowed).toBe(true);
  });
});
