// The webhook admitting VirtualMachineImages on the real API server, for two real users (the
// tokens of two ServiceAccounts, authenticated by the API server itself): an image that copies
// a claim of another namespace is admitted for alice, whom a RoleBinding there lets get
// persistentvolumeclaims, and refused for bob, whom nothing does, with a message naming the
// field, the user and the fix. The webhook asks with the AdmissionReview's userInfo as is.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../launcher/runtime/ports.js';
import { apply, tokenKubeconfig } from '../subresource/helpers.js';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlane, type ControlPlane } from './helpers/control-plane.js';
import { createNamespace, getJson, kubectl, startOperator, waitFor, type OperatorProcess } from './helpers/operator-process.js';

const RUN = Date.now().toString(36).slice(-5);
const NS = `vmimage-${RUN}`;
const GOLDEN = `golden-${RUN}`;
const CONFIG = `kubevmm-image-webhook-${RUN}`;
const HOOK = 'virtualmachineimages.validate.kubevmm.io';

let cp: ControlPlane;
let operator: OperatorProcess | undefined;
let dir: string;
const kubeconfigs: Record<string, string> = {};

function configuration(port: number): string {
  return `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: { name: ${CONFIG} }
webhooks:
  - name: ${HOOK}
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 10
    namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ${NS} } }
    rules:
      - apiGroups: [kubevmm.io]
        apiVersions: [v1alpha1]
        operations: [CREATE, UPDATE]
        resources: [virtualmachineimages]
    clientConfig:
      url: https://127.0.0.1:${port}/validate/virtualmachineimages
`;
}

const image = (name: string, spec: string) => `apiVersion: kubevmm.io/v1alpha1
kind: VirtualMachineImage
metadata: { name: ${name}, namespace: ${NS} }
spec:
${spec}`;

/** Applies as `user` (their own token); the API server's and the webhook's words on failure. */
const applyAs = (user: string, yaml: string) => kubectl(['--kubeconfig', kubeconfigs[user]!, 'apply', '-f', '-'], { input: yaml, allowFail: true });

beforeAll(async () => {
  cp = await useControlPlane();
  await cp.kubectl('apply', '--server-side', '--force-conflicts', '-f', 'crds/');
  await cp.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/virtualmachineimages.kubevmm.io');
  createNamespace(NS);
  createNamespace(GOLDEN);
  dir = await mkdtemp(join(tmpdir(), 'vmimage-webhook-'));
  // Both may create images here (what kubevmm-vm-user grants); only alice may read claims in GOLDEN.
  apply(
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'alice', namespace: NS } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'bob', namespace: NS } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'images', namespace: NS }, rules: [{ apiGroups: ['kubevmm.io'], resources: ['virtualmachineimages'], verbs: ['get', 'list', 'create', 'update', 'patch'] }] },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'images', namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'images' },
      subjects: ['alice', 'bob'].map((name) => ({ kind: 'ServiceAccount', name, namespace: NS })),
    },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'read-claims', namespace: GOLDEN }, rules: [{ apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'alice-reads-claims', namespace: GOLDEN }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-claims' }, subjects: [{ kind: 'ServiceAccount', name: 'alice', namespace: NS }] },
  );
  for (const user of ['alice', 'bob']) {
    kubeconfigs[user] = join(dir, `${user}.kubeconfig`);
    await tokenKubeconfig({ kc: cp.kc, namespace: NS, serviceAccount: user, file: kubeconfigs[user]! });
  }
  const port = await freePort();
  kubectl(['apply', '-f', '-'], { input: configuration(port) });
  operator = startOperator(['--no-leader-elect', '--accelerator', 'tcg', '--health-port', '0', '--lease-namespace', NS, '--webhook-port', String(port), '--webhook-extra-sans', '127.0.0.1', '--webhook-configuration', CONFIG]);
  await waitFor('the operator to patch its CA into the webhook', () => getJson<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(['validatingwebhookconfiguration', CONFIG])?.webhooks[0]?.clientConfig.caBundle, 60_000);
  await waitFor('the webhook to answer', () => /admission webhook .* denied/.test(applyAs('alice', image('probe', '  source: {}\n  storage: { size: 1Ki }\n')).stderr) || /storage\.size/.test(applyAs('alice', image('probe', '  source: { upload: {} }\n  storage: { size: 1Ki }\n')).stderr), 60_000);
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  // First: a fail-closed webhook left behind would refuse every image in this namespace.
  kubectl(['delete', 'validatingwebhookconfiguration', CONFIG, '--ignore-not-found'], { allowFail: true });
  await operator?.stop();
  kubectl(['delete', 'namespace', NS, GOLDEN, '--wait=false'], { allowFail: true });
  if (dir) await rm(dir, { recursive: true, force: true });
  await cp?.release();
});

describe('the webhook admitting VirtualMachineImages, as the user who asks', () => {
  it("admits alice's copy of a claim in a namespace where she may get claims", () => {
    const r = applyAs('alice', image('from-golden', `  source: { pvc: { name: debian-golden, namespace: ${GOLDEN} } }\n  storage: { size: 10Gi }\n`));
    expect(r.stderr).toBe('');
    expect(getJson(['vmimage', '-n', NS, 'from-golden'])?.spec).toEqual({ source: { pvc: { name: 'debian-golden', namespace: GOLDEN } }, storage: { size: '10Gi' } });
  });

  it("refuses bob's, naming the field, the user, the claim and the fix", () => {
    const r = applyAs('bob', image('bobs-copy', `  source: { pvc: { name: debian-golden, namespace: ${GOLDEN} } }\n`));
    expect(r.code).not.toBe(0);
    // kubectl renders the webhook's 422 with field causes as it renders the API server's own.
    expect(r.stderr).toContain(
      `The VirtualMachineImage "bobs-copy" is invalid: spec.source.pvc.namespace: user "system:serviceaccount:${NS}:bob" may not get persistentvolumeclaims in namespace "${GOLDEN}" (claim "debian-golden")`,
    );
    expect(r.stderr).toContain(`ask for a RoleBinding in "${GOLDEN}" granting get on persistentvolumeclaims`);
    expect(getJson(['vmimage', '-n', NS, 'bobs-copy'])).toBeUndefined();
  });

  it('admits bob for a claim of his own namespace without asking, and refuses him changing an image to copy from elsewhere', () => {
    expect(applyAs('bob', image('local-copy', '  source: { pvc: { name: debian-local } }\n')).stderr).toBe('');
    const changed = applyAs('bob', image('local-copy', `  source: { pvc: { name: debian-golden, namespace: ${GOLDEN} } }\n`));
    expect(changed.stderr).toContain('spec.source.pvc.namespace: user');
    expect(getJson<{ spec: unknown }>(['vmimage', '-n', NS, 'local-copy'])?.spec).toEqual({ source: { pvc: { name: 'debian-local' } } });
  });

  it('refuses an invalid image with the rules kubevmm validate applies, naming the field', () => {
    const own = applyAs('alice', image('loop', '  source: { pvc: { name: loop-image } }\n'));
    expect(own.stderr).toContain(`spec.source.pvc.name: "loop-image" is this image's own claim`);
    const small = applyAs('alice', image('tiny', '  source: { upload: {} }\n  storage: { size: 100Ki }\n'));
    expect(small.stderr).toContain('spec.storage.size: 100Ki is too small for a disk image');
  });

  it('shows PHASE, PROGRESS, SIZE and AGE in kubectl get vmimage', () => {
    const table = kubectl(['get', 'vmimage', '-n', NS, 'from-golden']).stdout.split('\n')[0] ?? '';
    expect(table.split(/\s+/).filter(Boolean)).toEqual(['NAME', 'PHASE', 'PROGRESS', 'SIZE', 'AGE']);
  });
});
