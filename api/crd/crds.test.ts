import { CHART_CRD_DIR, driftedCrdFiles, renderCrdFiles } from './generate.js';
import { virtualMachineClassCrd, virtualMachineCrd, virtualMachineImageCrd } from './crds.js';
import { guestInfo } from '../contract/control.js';
import { structuralSchema } from './structural.js';

type Node = Record<string, unknown>;

/** Every schema node below `node`, with its path. */
function* nodes(node: Node, path = ''): Generator<[string, Node]> {
  yield [path, node];
  for (const [key, child] of Object.entries((node.properties as Record<string, Node>) ?? {})) yield* nodes(child, `${path}.${key}`);
  if (node.items) yield* nodes(node.items as Node, `${path}[]`);
  if (typeof node.additionalProperties === 'object') yield* nodes(node.additionalProperties as Node, `${path}{}`);
}

const schemaOf = (crd: { spec: { versions: { schema: { openAPIV3Schema: object } }[] } }) =>
  crd.spec.versions[0]?.schema.openAPIV3Schema as unknown as Node;

describe('CRDs', () => {
  it('crds/ matches the generator output (run `npm run crds` after changing api/schema)', () => {
    expect(driftedCrdFiles()).toEqual([]);
  });

  it('the Helm chart installs the same CRDs as crds/ (helm/kubevmm/crds)', () => {
    expect(driftedCrdFiles(CHART_CRD_DIR)).toEqual([]);
  });

  it.each([
    ['VirtualMachine', virtualMachineCrd()],
    ['VirtualMachineClass', virtualMachineClassCrd()],
    ['VirtualMachineImage', virtualMachineImageCrd()],
  ])('%s schema is structural', (_kind, crd) => {
    for (const [path, node] of nodes(schemaOf(crd))) {
      const typed = node.type !== undefined || node['x-kubernetes-int-or-string'] === true;
      expect({ path, typed }).toEqual({ path, typed: true });
      expect({ path, both: node.properties !== undefined && node.additionalProperties !== undefined }).toEqual({ path, both: false });
      expect(JSON.stringify(node)).not.toContain('$ref');
    }
  });

  it('VirtualMachine has the status subresource, short names and printer columns of the contract', () => {
    const crd = virtualMachineCrd();
    const version = crd.spec.versions[0];
    expect(crd.spec.names.shortNames).toEqual(['vm', 'vms']);
    expect(version?.subresources).toEqual({ status: {} });
    expect(version?.additionalPrinterColumns.map((c) => c.name.toUpperCase())).toEqual(['STATUS', 'NODE', 'CPUS', 'MEMORY', 'IP', 'AGE']);
    expect(virtualMachineClassCrd().spec.names.shortNames).toEqual(['vmclass']);
    expect(virtualMachineClassCrd().spec.scope).toBe('Cluster');
  });

  it('VirtualMachineImage: status subresource, short name vmimage, the columns PHASE, PROGRESS, SIZE, AGE, and one source by CEL', () => {
    const crd = virtualMachineImageCrd();
    const version = crd.spec.versions[0];
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names.shortNames).toContain('vmimage');
    expect(version?.subresources).toEqual({ status: {} });
    expect(version?.additionalPrinterColumns.map((c) => [c.name.toUpperCase(), c.jsonPath])).toEqual([
      ['PHASE', '.status.phase'],
      ['PROGRESS', '.status.progress'],
      ['SIZE', '.status.virtualSize'],
      ['AGE', '.metadata.creationTimestamp'],
    ]);
    const spec = (schemaOf(crd).properties as Record<string, Node>).spec as Node;
    const source = (spec.properties as Record<string, Node>).source as Node;
    expect(JSON.stringify(source['x-kubernetes-validations'])).toContain('(has(self.http) ? 1 : 0) + (has(self.registry) ? 1 : 0) + (has(self.upload) ? 1 : 0) + (has(self.pvc) ? 1 : 0) == 1');
    expect(((schemaOf(crd).properties as Record<string, Node>).metadata as Node).properties).toEqual({ name: expect.objectContaining({ maxLength: 57 }) });
  });

  it('lets the API server check unique disk names and one source per disk with CEL', () => {
    const spec = (schemaOf(virtualMachineCrd()).properties as Record<string, Node>).spec as Node;
    const disks = (spec.properties as Record<string, Node>).disks as Node;
    const rules = JSON.stringify([disks['x-kubernetes-validations'], (disks.items as Node)['x-kubernetes-validations']]);
    expect(rules).toContain('self.all(x, self.exists_one(y, y.name == x.name))');
    expect(rules).toContain('(has(self.persistentVolumeClaim) ? 1 : 0) + (has(self.emptyDisk) ? 1 : 0)');
    expect(disks['x-kubernetes-list-map-keys']).toEqual(['name']);
    expect(disks.maxItems).toBe(64);
  });

  it.each([
    ['VirtualMachine', virtualMachineCrd()],
    ['VirtualMachineClass', virtualMachineClassCrd()],
  ])('%s: every field has a description for kubectl explain', (_kind, crd) => {
    const root = schemaOf(crd);
    expect(root.description).toMatch(/\w{3}/);
    // metadata is the API server's: a CRD may not describe it (it publishes ObjectMeta's own text).
    const bare = [...nodes(root)].filter(([path, node]) => !/(\[\]|\{\})$/.test(path) && path !== '' && !path.startsWith('.metadata') && !(typeof node.description === 'string' && node.description.length > 10));
    expect((root.properties as Record<string, Node>).metadata?.description).toBeUndefined();
    expect(bare.map(([path]) => path)).toEqual([]);
  });

  it('types affinity as core/v1 Affinity (nothing free-form reaches the pod) and keeps quantities int-or-string', () => {
    const text = renderCrdFiles().map((f) => f.text).join('\n');
    expect(text).toMatch(/affinity:\n\s+description: .*\n\s+type: object\n\s+properties:\n\s+nodeAffinity:/);
    expect(text).not.toMatch(/x-kubernetes-preserve-unknown-fields/);
    expect(text).toMatch(/guest:\n\s+description: .*\n\s+x-kubernetes-int-or-string: true\n\s+anyOf:/);
  });
});

describe('VM status in the CRD', () => {
  /** Field paths of a structural schema (objects and array items). */
  function fieldPaths(node: Node | undefined, prefix = ''): string[] {
    if (!node) return [];
    const items = node.items as Node | undefined;
    if (items) return fieldPaths(items, `${prefix}[]`);
    const properties = (node.properties ?? {}) as Record<string, Node>;
    return Object.entries(properties).flatMap(([k, v]) => [`${prefix}.${k}`, ...fieldPaths(v, `${prefix}.${k}`)]);
  }

  it('has a place for everything the launcher reports of the guest: the API server prunes the rest from the status write', () => {
    const status = (schemaOf(virtualMachineCrd()).properties as Record<string, Node>).status;
    const guest = ((status?.properties as Record<string, Node>).guest) as Node;
    const kept = new Set(fieldPaths(guest));
    const reported = fieldPaths(structuralSchema(guestInfo) as Node);
    expect(reported.filter((p) => !kept.has(p))).toEqual([]);
  });
});
