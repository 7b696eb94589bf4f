/**
 * fast-check arbitraries for VirtualMachine manifests, for the property-based tests (the fuzz
 * suite in operator/fuzz.test.ts and the API server dry run in test/operator). Two families:
 * `validVm` builds manifests that validateVm accepts, reaching every disk source, interface,
 * port and scheduling field; `hostileVm` breaks a valid one with any JSON value in any field.
 * Test-only: nothing in the product imports it.
 */
import fc from 'fast-check';

const letters = 'abcdefghijklmnopqrstuvwxyz';
const alnum = `${letters}0123456789`;

/** A DNS-1035 label of 1..max characters. */
export function dns1035(max: number): fc.Arbitrary<string> {
  const head = fc.constantFrom(...letters);
  const body = fc.string({ unit: fc.constantFrom(...alnum, '-'), maxLength: Math.max(0, max - 2) });
  const tail = fc.constantFrom(...alnum);
  return fc.tuple(head, body, tail, fc.boolean()).map(([h, b, t, short]) => (short ? h : `${h}${b}${t}`));
}

/** A DNS-1123 subdomain made of one to three labels. */
const subdomain = fc.array(dns1035(20), { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.'));

/** A quantity of bytes between 16Mi and 64Gi, in one of the spellings users write. */
const memory = fc.oneof(
  fc.integer({ min: 16, max: 65536 }).map((mi) => `${mi}Mi`),
  fc.integer({ min: 1, max: 64 }).map((gi) => `${gi}Gi`),
  fc.integer({ min: 16, max: 4096 }).map((mi) => mi * 2 ** 20),
  fc.integer({ min: 1, max: 64 }).map((g) => `${g}G`),
  fc.integer({ min: 17, max: 64 }).map((m) => `${m}e6`),
);

const capacity = fc.oneof(fc.integer({ min: 1, max: 4096 }).map((gi) => `${gi}Gi`), fc.integer({ min: 1, max: 1024 }).map((mi) => `${mi}Mi`));

const labelValue = fc.oneof(fc.constant(''), dns1035(30), fc.tuple(dns1035(10), dns1035(10)).map(([a, b]) => `${a}_${b}.x`));
const labelKey = fc.oneof(dns1035(30), fc.tuple(subdomain, dns1035(30)).map(([p, n]) => `${p}/${n}`));

const image = fc
  .tuple(fc.option(fc.constant('registry.example:5000'), { nil: undefined }), dns1035(12), dns1035(12), fc.option(fc.constantFrom('12', 'v1.2', 'latest'), { nil: undefined }))
  .map(([registry, repo, name, tag]) => `${registry ? `${registry}/` : ''}${repo}/${name}${tag ? `:${tag}` : ''}`);

type Disk = Record<string, unknown>;

/** A disk of any source; its name and claim are made unique by the caller. */
const disk: fc.Arbitrary<Disk> = fc.oneof(
  fc.record({ bus: fc.constantFrom('virtio', 'scsi', 'sata'), cache: fc.constantFrom('none', 'writethrough', 'writeback'), kind: fc.constant('pvc') }),
  fc.record({ kind: fc.constant('hotplug'), bus: fc.constantFrom('virtio', 'scsi'), readOnly: fc.boolean() }),
  fc.record({ kind: fc.constant('empty'), capacity }),
  fc.record({ kind: fc.constant('container'), image, pullPolicy: fc.constantFrom('Always', 'IfNotPresent', 'Never') }),
  fc.record({ kind: fc.constant('image'), size: fc.option(capacity, { nil: undefined }), retain: fc.boolean() }),
);

function diskSpec(d: Disk, i: number): Disk {
  const name = `d${i}`;
  switch (d.kind) {
    case 'pvc':
      return { name, bus: d.bus, cache: d.cache, persistentVolumeClaim: { claimName: `claim-${i}` } };
    case 'hotplug':
      return { name, bus: d.bus, hotpluggable: true, readOnly: d.readOnly, persistentVolumeClaim: { claimName: `hot-${i}` } };
    case 'empty':
      return { name, emptyDisk: { capacity: d.capacity } };
    case 'image':
      return { name, image: { name: `image-${i}`, retain: d.retain, ...(d.size ? { size: d.size } : {}) } };
    default:
      return { name, containerDisk: { image: d.image, imagePullPolicy: d.pullPolicy } };
  }
}

/** SATA disks stay within the AHCI controller's six ports (validateVm refuses more). */
function withinSata(disks: Disk[]): Disk[] {
  let sata = 0;
  return disks.map((d) => (d.bus === 'sata' && ++sata > 6 ? { ...d, bus: 'virtio' } : d));
}

const cloudInit = fc.option(
  fc.oneof(
    fc.string({ maxLength: 200 }).map((userData) => ({ userData: `#cloud-config\n${userData}` })),
    subdomain.map((name) => ({ userDataSecretRef: { name } })),
  ),
  { nil: undefined },
);

const ports = fc.uniqueArray(
  fc.record({ port: fc.integer({ min: 1, max: 65535 }).filter((p) => p !== 9500), protocol: fc.constantFrom('TCP', 'UDP') }),
  { maxLength: 6, selector: (p) => `${p.protocol}/${p.port}` },
);

const iface = fc.record({
  model: fc.constantFrom('virtio', 'e1000e'),
  macAddress: fc.option(fc.tuple(fc.integer({ min: 0, max: 127 }), fc.integer({ min: 1, max: 255 })).map(([a, b]) => `${(a * 2).toString(16).padStart(2, '0')}:54:00:00:00:${b.toString(16).padStart(2, '0')}`), { nil: undefined }),
  ports,
  named: fc.boolean(),
});

const toleration = fc.oneof(
  fc.constant({ operator: 'Exists' }),
  fc.record({ key: labelKey, operator: fc.constant('Equal'), value: labelValue, effect: fc.constantFrom('NoSchedule', 'PreferNoSchedule') }),
  fc.record({ key: labelKey, operator: fc.constant('Exists'), effect: fc.constant('NoExecute'), tolerationSeconds: fc.integer({ min: 0, max: 3600 }) }),
);

const podTerm = fc.record({
  topologyKey: fc.constantFrom('kubernetes.io/hostname', 'topology.kubernetes.io/zone'),
  labelSelector: fc.record({ matchLabels: fc.dictionary(labelKey, labelValue, { maxKeys: 2 }), matchExpressions: fc.array(fc.record({ key: labelKey, operator: fc.constantFrom('Exists', 'DoesNotExist') }), { maxLength: 2 }) }),
});

const affinity = fc.option(
  fc.record({
    podAntiAffinity: fc.record({ preferredDuringSchedulingIgnoredDuringExecution: fc.array(fc.record({ weight: fc.integer({ min: 1, max: 100 }), podAffinityTerm: podTerm }), { minLength: 1, maxLength: 2 }) }),
    nodeAffinity: fc.record({
      requiredDuringSchedulingIgnoredDuringExecution: fc.record({
        nodeSelectorTerms: fc.array(fc.record({ matchExpressions: fc.array(fc.record({ key: labelKey, operator: fc.constantFrom('In', 'NotIn'), values: fc.array(dns1035(10), { minLength: 1, maxLength: 3 }) }), { minLength: 1, maxLength: 2 }) }), { minLength: 1, maxLength: 2 }),
      }),
    }),
  }, { requiredKeys: [] }),
  { nil: undefined },
);

const cpu = fc.record(
  {
    sockets: fc.integer({ min: 1, max: 4 }),
    cores: fc.integer({ min: 1, max: 8 }),
    threads: fc.integer({ min: 1, max: 2 }),
    model: fc.constantFrom('host-passthrough', 'host-model', 'Skylake-Server-v4', 'qemu64', 'max'),
    dedicated: fc.boolean(),
  },
  { requiredKeys: [] },
);

/** A VirtualMachine manifest that validateVm accepts. */
export const validVm = fc
  .record({
    name: dns1035(55),
    namespace: dns1035(20),
    runStrategy: fc.option(fc.constantFrom('Always', 'RerunOnFailure', 'Once', 'Manual', 'Halted'), { nil: undefined }),
    cpu,
    memory: memory,
    firmware: fc.constantFrom('bios', 'efi'),
    disks: fc.array(disk, { maxLength: 8 }),
    cloudInit,
    iface: fc.option(iface, { nil: undefined }),
    devices: fc.record({ rng: fc.boolean(), balloon: fc.boolean(), graphics: fc.constantFrom('vnc', 'none'), guestAgent: fc.boolean() }, { requiredKeys: [] }),
    paused: fc.boolean(),
    grace: fc.option(fc.integer({ min: 0, max: 604800 }), { nil: undefined }),
    nodeSelector: fc.dictionary(labelKey, labelValue, { maxKeys: 3 }),
    tolerations: fc.array(toleration, { maxLength: 3 }),
    affinity,
    priorityClassName: fc.option(subdomain, { nil: undefined }),
  })
  .map((v) => {
    const disks = withinSata(v.disks.map(diskSpec));
    if (v.cloudInit) disks.push({ name: 'cloudinit', cloudInit: v.cloudInit });
    const interfaces = v.iface ? [{ name: 'default', model: v.iface.model, ...(v.iface.macAddress ? { macAddress: v.iface.macAddress } : {}), ports: v.iface.ports.map((p, i) => (v.iface?.named ? { ...p, name: `p${i}` } : p)) }] : undefined;
    return {
      apiVersion: 'kubevmm.io/v1alpha1',
      kind: 'VirtualMachine',
      metadata: { name: v.name, namespace: v.namespace, uid: '6a1e5f2e-0000-4000-8000-000000000001', generation: 1 },
      spec: {
        ...(v.runStrategy ? { runStrategy: v.runStrategy } : {}),
        cpu: v.cpu,
        memory: { guest: v.memory },
        firmware: v.firmware,
        disks,
        ...(interfaces ? { interfaces } : {}),
        devices: v.devices,
        paused: v.paused,
        ...(v.grace !== undefined ? { terminationGracePeriodSeconds: v.grace } : {}),
        nodeSelector: v.nodeSelector,
        tolerations: v.tolerations,
        ...(v.affinity ? { affinity: v.affinity } : {}),
        ...(v.priorityClassName ? { priorityClassName: v.priorityClassName } : {}),
      },
    };
  });

/** Every path of plain objects and arrays in `value`, as key lists. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))];
}

function setAt(root: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (!path.length) return value;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  const copy = (Array.isArray(root) ? [...(root as unknown[])] : { ...(root as object) }) as Record<string | number, unknown>;
  copy[head] = setAt(copy[head], rest, value);
  return copy;
}

/** A valid manifest with one field (at any depth) replaced by any JSON value. */
export const hostileVm = fc
  .tuple(validVm, fc.nat(), fc.jsonValue({ maxDepth: 4 }), fc.constantFrom('replace', 'add'))
  .map(([vm, pick, value, how]) => {
    const all = paths(vm);
    const path = all[pick % all.length] ?? [];
    return how === 'add' ? setAt(vm, [...path, 'extra'], value) : setAt(vm, path, value);
  });
