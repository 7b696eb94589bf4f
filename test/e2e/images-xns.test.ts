// An image copying a claim of another namespace on the real node (issue 15, ADR 0019): the
// guest on a claim in namespace A, an image of it in namespace B created by a user who may
// read claims in A reaches Ready through a source pod in A, and a VM from it boots; a user who
// may not is refused at admission with a message naming the claim and its namespace; no source
// pod (nor its Secret) is left in A.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGuest } from '../../harness/guest.js';
import { bindClusterRole, serviceAccountUser } from './helpers/cli.js';
import { E2E_UP_TIMEOUT_MS, getJson, kubectl, localPv, testNamespace, useE2eCluster, waitFor } from './helpers/cluster.js';
import { claimManifest } from './helpers/pvc.js';
import { apply, condition, vmManifest, waitForConsole, waitForVm } from './helpers/vm.js';

const IMPORT_MS = 240_000;
let a: { name: string; drop: () => void };
let b: { name: string; drop: () => void };
let dir: string;

type Json = Record<string, any>;

function imageManifest(name: string): Json {
  return { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineImage', metadata: { name, namespace: b.name }, spec: { source: { pvc: { name: 'golden', namespace: a.name } } } };
}

/** `kubectl apply` of `object` as the user of `kubeconfig`. */
function applyAs(kubeconfig: string, object: Json): { code: number; stdout: string; stderr: string } {
  return kubectl(['--kubeconfig', kubeconfig, 'apply', '-f', '-'], { input: JSON.stringify(object), allowFail: true });
}

/** Pods and Secrets kubevmm made in A for copies from it (labelled with the image they serve). */
function sourcesInA(): string[] {
  const pods = (getJson<{ items: Json[] }>(['-n', a.name, 'pods', '-l', 'kubevmm.io/source-for-uid'])?.items ?? []).map((p) => `pod/${p.metadata.name}`);
  const secrets = (getJson<{ items: Json[] }>(['-n', a.name, 'secrets', '-l', 'kubevmm.io/source-for-uid'])?.items ?? []).map((s) => `secret/${s.metadata.name}`);
  return [...pods, ...secrets];
}

beforeAll(async () => {
  useE2eCluster();
  a = testNamespace('e2e-xns-golden');
  b = testNamespace('e2e-xns-team');
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-e2e-xns-'));
  const pv = localPv(`${a.name}-golden`, '64Mi', { from: await buildGuest() });
  apply(claimManifest(a.name, 'golden', '64Mi', { name: pv, mode: 'Filesystem' }));
}, E2E_UP_TIMEOUT_MS);

afterAll(async () => {
  b?.drop();
  a?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('refuses at admission a user who may not read claims in the source namespace, naming the claim and the namespace', () => {
  const bob = serviceAccountUser(b.name, 'bob', dir);
  bindClusterRole(b.name, 'bob', 'kubevmm-vm-user');
  const r = applyAs(bob.kubeconfig, imageManifest('refused'));
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain(`spec.source.pvc.namespace: user "${bob.user}" may not get persistentvolumeclaims in namespace "${a.name}" (claim "golden")`);
  expect(getJson(['-n', b.name, 'virtualmachineimage', 'refused'])).toBeUndefined();
  expect(sourcesInA()).toEqual([]);
});

it('copies the claim for a user who may read it there: Ready through a source pod in A, a VM from it boots, and nothing is left in A', async () => {
  const alice = serviceAccountUser(b.name, 'alice', dir);
  bindClusterRole(b.name, 'alice', 'kubevmm-vm-user');
  kubectl(['-n', a.name, 'create', 'rolebinding', 'alice-reads-claims', '--clusterrole=view', `--serviceaccount=${b.name}:alice`]);
  const created = applyAs(alice.kubeconfig, imageManifest('golden-copy'));
  expect({ code: created.code, stderr: created.stderr }).toMatchObject({ code: 0 });

  // The source pod serves the claim in A while the importer in B pulls it.
  const served = await waitFor('a source pod in A', () => (getJson<{ items: Json[] }>(['-n', a.name, 'pods', '-l', 'kubevmm.io/source-for-uid'])?.items ?? [])[0], IMPORT_MS);
  expect(served.metadata.labels).toMatchObject({ 'kubevmm.io/source-for-image': 'golden-copy', 'kubevmm.io/source-for-namespace': b.name });
  const image = await waitFor(
    'the image Ready or Failed',
    () => {
      const got = getJson<Json>(['-n', b.name, 'virtualmachineimage', 'golden-copy']);
      return got?.status?.phase === 'Ready' || got?.status?.phase === 'Failed' ? got : undefined;
    },
    IMPORT_MS,
  );
  expect({ phase: image.status.phase, failure: condition(image as never, 'Failure') }).toMatchObject({ phase: 'Ready' });
  expect(image.status).toMatchObject({ format: 'raw', progress: '100%', claimName: 'golden-copy-image' });
  await waitFor('no source pod or Secret left in A', () => sourcesInA().length === 0 || undefined, 120_000);

  apply(vmManifest(b.name, 'from-golden', { disks: [{ name: 'root', image: { name: 'golden-copy' } }] }));
  await waitForVm(b.name, 'from-golden', 'Running', { ms: IMPORT_MS });
  await waitForConsole(b.name, 'from-golden', /KUBEVMM-GUEST booted/);

  // Deleting the image leaves nothing in A either (its finalizer waits for the operator).
  kubectl(['-n', b.name, 'delete', 'virtualmachineimage', 'golden-copy', '--wait=true', '--timeout=120s']);
  expect(sourcesInA()).toEqual([]);
});
