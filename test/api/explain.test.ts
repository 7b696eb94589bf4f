// `kubectl explain` against the real API server: every field of both CRDs prints the
// description written in api/schema (the same text docs/api.md's reference carries).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { virtualMachineClassCrd, virtualMachineCrd } from '../../api/crd/crds.js';
import { useControlPlane, type ControlPlane } from '../operator/helpers/control-plane.js';

const run = promisify(execFile);
type Node = Record<string, unknown>;

let cp: ControlPlane;

beforeAll(async () => {
  cp = await useControlPlane();
  await cp.kubectl('apply', '--server-side', '--force-conflicts', '-f', 'crds/');
  await cp.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/virtualmachines.kubevmm.io', 'crd/virtualmachineclasses.kubevmm.io');
}, 45 * 60_000);

afterAll(async () => cp?.release());

/** kubectl explain's text, whitespace folded (it wraps long descriptions). */
async function explain(path: string): Promise<string> {
  const { stdout } = await run('kubectl', ['explain', path], { env: process.env });
  return stdout.replace(/\s+/g, ' ');
}

/** Waits until the API server publishes the CRD's schema with descriptions (its OpenAPI controller lags a moment). */
async function explainPublished(path: string): Promise<string> {
  const end = Date.now() + 60_000;
  for (;;) {
    const text = await explain(path).catch((err: { stderr?: string }) => `ERROR ${err.stderr ?? String(err)}`);
    if ((!text.includes('<no description>') && !text.startsWith('ERROR')) || Date.now() > end) return text;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Every object in the schema, as the dotted path kubectl explain takes (lists are walked through). */
function* objectPaths(node: Node, path: string): Generator<[string, Node]> {
  const target = node.type === 'array' ? ((node.items as Node | undefined) ?? {}) : node;
  const props = target.properties as Record<string, Node> | undefined;
  if (!props) return;
  yield [path, target];
  for (const [name, child] of Object.entries(props)) yield* objectPaths(child, `${path}.${name}`);
}

const STANDARD = ['apiVersion', 'kind', 'metadata'];
const fold = (text: string) => text.replace(/\s+/g, ' ').trim();

it('explains virtualmachine.spec.disks.persistentVolumeClaim with a description for every field', async () => {
  const text = await explainPublished('virtualmachine.spec.disks.persistentVolumeClaim');
  expect(text).not.toContain('<no description>');
  expect(text).toContain(fold('Source: an existing PersistentVolumeClaim in the VM’s namespace.'));
  expect(text).toMatch(/claimName\s+<string> -required-\s+The claim’s name, in the VM’s namespace\./);
  expect(text).toMatch(/readOnly\s+<boolean>\s+Mount the claim read-only; it is also the disk’s default readOnly\. Default false\./);
}, 120_000);

it.each([
  ['virtualmachine', virtualMachineCrd()],
  ['virtualmachineclass', virtualMachineClassCrd()],
])('every field of %s reads as written in api/schema', async (resource, crd) => {
  const root = crd.spec.versions[0]?.schema.openAPIV3Schema as unknown as Node;
  const missing: string[] = [];
  for (const [path, node] of objectPaths(root, resource)) {
    // metadata's schema (a length limit on name) is the API server's to describe.
    if (path === `${resource}.metadata`) continue;
    const text = await explainPublished(path);
    if (text.includes('<no description>')) missing.push(`${path}: <no description>`);
    for (const [name, child] of Object.entries(node.properties as Record<string, Node>)) {
      // The API server describes apiVersion, kind and metadata itself, as for every kind.
      if (path === resource && STANDARD.includes(name)) continue;
      if (!text.includes(fold(String(child.description ?? '(none)')))) missing.push(`${path}.${name}`);
    }
  }
  expect(missing).toEqual([]);
}, 300_000);
