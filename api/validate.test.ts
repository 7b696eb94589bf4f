import { formatIssue } from './issues.js';
import { validateDocuments, validateVm } from './validate.js';

/** A small valid VM; each table row below breaks one thing in a copy of it. */
function vm(spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: 'web-1', namespace: 'team-a' },
    spec: {
      memory: { guest: '1Gi' },
      disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'web-1-root' } }],
      ...spec,
    },
    ...extra,
  };
}
const pvc = (name: string, extra: Record<string, unknown> = {}) => ({ name, persistentVolumeClaim: { claimName: name }, ...extra });
const cls = (spec: Record<string, unknown>) => ({
  apiVersion: 'kubevmm.io/v1alpha1',
  kind: 'VirtualMachineClass',
  metadata: { name: 'small' },
  spec,
});

const invalid: [string, unknown, string, RegExp][] = [
  ['typo in a field name', vm({ memroy: { guest: '1Gi' } }), 'spec.memroy', /unknown field "memroy"; did you mean "memory"\?/],
  ['typo deep in a disk', vm({ disks: [{ name: 'root', persistentVolumeClaim: { claimNme: 'x' } }] }), 'spec.disks[0].persistentVolumeClaim.claimNme', /did you mean "claimName"/],
  ['unknown top-level field', vm({}, { specs: {} }), 'specs', /unknown field "specs"; did you mean "spec"/],
  ['wrong apiVersion', { ...vm(), apiVersion: 'kubevirt.io/v1' }, 'apiVersion', /must be one of "kubevmm.io\/v1alpha1"/],
  ['bad runStrategy', vm({ runStrategy: 'Sometimes' }), 'spec.runStrategy', /must be one of "Always", "RerunOnFailure", "Once", "Manual", "Halted"/],
  ['cores zero', vm({ cpu: { cores: 0 } }), 'spec.cpu.cores', /must be at least 1/],
  ['sockets not a number', vm({ cpu: { sockets: 'two' } }), 'spec.cpu.sockets', /must be a number/],
  ['threads fractional', vm({ cpu: { threads: 1.5 } }), 'spec.cpu.threads', /must be an integer/],
  ['too many vCPUs', vm({ cpu: { sockets: 4, cores: 64, threads: 4 } }), 'spec.cpu', /= 1024; at most 512 vCPUs/],
  ['memory missing', vm({ memory: {} }), 'spec.memory.guest', /is required \(no className gives it\); set a size such as 2Gi/],
  ['memory bad unit', vm({ memory: { guest: '2GB' } }), 'spec.memory.guest', /quantity such as 512Mi/],
  ['memory too small', vm({ memory: { guest: '8Mi' } }), 'spec.memory.guest', /must be at least 16Mi; got 8Mi/],
  ['bad hugepage size', vm({ memory: { guest: '1Gi', hugepages: '4Mi' } }), 'spec.memory.hugepages', /must be one of "", "2Mi", "1Gi"/],
  ['memory not a hugepage multiple', vm({ memory: { guest: '1025Mi', hugepages: '2Mi' } }), 'spec.memory.guest', /multiple of the hugepage size 2Mi; use 1026Mi/],
  ['1Gi pages and 1536Mi', vm({ memory: { guest: '1536Mi', hugepages: '1Gi' } }), 'spec.memory.guest', /use 2Gi/],
  ['bad firmware', vm({ firmware: 'uefi' }), 'spec.firmware', /must be one of "bios", "efi"/],
  ['duplicate disk names', vm({ disks: [pvc('root'), pvc('root')] }), 'spec.disks[1].name', /duplicate value "root", already used by spec.disks\[0\].name/],
  ['duplicate bootOrder', vm({ disks: [pvc('a', { bootOrder: 1 }), pvc('b', { bootOrder: 1 })] }), 'spec.disks[1].bootOrder', /duplicate value 1/],
  ['bootOrder zero', vm({ disks: [pvc('a', { bootOrder: 0 })] }), 'spec.disks[0].bootOrder', /must be at least 1/],
  ['disk without source', vm({ disks: [{ name: 'root' }] }), 'spec.disks[0]', /set exactly one source .*; none is set/],
  ['containerDisk path with shell syntax', vm({ disks: [{ name: 'os', containerDisk: { image: 'r/os:1', path: '/disk; id > /dev/termination-log #' } }] }), 'spec.disks[0].containerDisk.path', /must be an absolute path of letters, digits/],
  ['containerDisk path climbing out', vm({ disks: [{ name: 'os', containerDisk: { image: 'r/os:1', path: '/disk/../etc' } }] }), 'spec.disks[0].containerDisk.path', /no segment starting with "\."/],
  ['containerDisk path relative', vm({ disks: [{ name: 'os', containerDisk: { image: 'r/os:1', path: 'disk' } }] }), 'spec.disks[0].containerDisk.path', /absolute path/],
  ['disk with two sources', vm({ disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'x' }, emptyDisk: { capacity: '1Gi' } }] }), 'spec.disks[0]', /persistentVolumeClaim and emptyDisk are set/],
  ['hotpluggable emptyDisk', vm({ disks: [pvc('root'), { name: 's', hotpluggable: true, emptyDisk: { capacity: '1Gi' } }] }), 'spec.disks[1].hotpluggable', /only persistentVolumeClaim disks can be hotpluggable/],
  ['hotpluggable sata', vm({ disks: [pvc('root'), pvc('data', { hotpluggable: true, bus: 'sata' })] }), 'spec.disks[1].bus', /sata disks cannot be hotplugged/],
  ['hotpluggable boot disk', vm({ disks: [pvc('root', { hotpluggable: true, bootOrder: 1 })] }), 'spec.disks[0].hotpluggable', /cannot be a boot disk/],
  ['disk name upper case', vm({ disks: [pvc('Root')] }), 'spec.disks[0].name', /DNS-1123 label/],
  ['bad bus', vm({ disks: [pvc('root', { bus: 'ide' })] }), 'spec.disks[0].bus', /"virtio", "scsi", "sata"/],
  ['bad cache', vm({ disks: [pvc('root', { cache: 'unsafe' })] }), 'spec.disks[0].cache', /"none", "writethrough", "writeback"/],
  ['emptyDisk too small', vm({ disks: [pvc('root'), { name: 's', emptyDisk: { capacity: '10Ki' } }] }), 'spec.disks[1].emptyDisk.capacity', /at least 1Mi/],
  ['emptyDisk bad capacity', vm({ disks: [{ name: 's', emptyDisk: { capacity: 'lots' } }] }), 'spec.disks[0].emptyDisk.capacity', /quantity/],
  ['image disk from another namespace', vm({ disks: [{ name: 'root', image: { name: 'debian', namespace: 'golden' } }] }), 'spec.disks[0].image.namespace', /unknown field "namespace"; remove it/],
  ['image disk too small', vm({ disks: [{ name: 'root', image: { name: 'debian', size: '10Ki' } }] }), 'spec.disks[0].image.size', /at least 1Mi/],
  ['hotpluggable image disk', vm({ disks: [pvc('root'), { name: 'os', hotpluggable: true, image: { name: 'debian' } }] }), 'spec.disks[1].hotpluggable', /only persistentVolumeClaim disks can be hotpluggable/],
  ['image name too long for its claim', vm({ disks: [{ name: 'root', image: { name: 'a'.repeat(58) } }] }), 'spec.disks[0].image.name', /57/],
  ['two cloudInit disks', vm({ disks: [pvc('root'), { name: 'c1', cloudInit: { userData: 'a' } }, { name: 'c2', cloudInit: { userData: 'b' } }] }), 'spec.disks[2].cloudInit', /only one cloudInit disk/],
  ['cloudInit with both sources', vm({ disks: [{ name: 'c', cloudInit: { userData: 'a', userDataSecretRef: { name: 's' } } }] }), 'spec.disks[0].cloudInit', /not both/],
  ['cloudInit with no data', vm({ disks: [{ name: 'c', cloudInit: { networkData: 'x' } }] }), 'spec.disks[0].cloudInit', /set userData or userDataSecretRef/],
  ['cloudInit too large', vm({ disks: [{ name: 'c', cloudInit: { userData: 'x'.repeat(70000) } }] }), 'spec.disks[0].cloudInit.userData', /70000 bytes; at most 65536 fit inline, use userDataSecretRef/],
  ['grace period negative', vm({ terminationGracePeriodSeconds: -1 }), 'spec.terminationGracePeriodSeconds', /at least 0/],
  ['bad interface name', vm({ interfaces: [{ name: 'eth_0' }] }), 'spec.interfaces[0].name', /DNS-1123/],
  ['duplicate interface', vm({ interfaces: [{ name: 'a' }, { name: 'a', binding: 'bridge' }] }), 'spec.interfaces[1].name', /duplicate interface name "a"/],
  ['two masquerade', vm({ interfaces: [{ name: 'a' }, { name: 'b' }] }), 'spec.interfaces[1].binding', /only one interface can use the pod network/],
  ['port out of range', vm({ interfaces: [{ name: 'a', ports: [{ port: 70000 }] }] }), 'spec.interfaces[0].ports[0].port', /at most 65535/],
  ['duplicate port', vm({ interfaces: [{ name: 'a', ports: [{ port: 22 }, { port: 22 }] }] }), 'spec.interfaces[0].ports[1]', /TCP\/22 is listed twice/],
  ['bad mac', vm({ interfaces: [{ name: 'a', macAddress: '52:54:00' }] }), 'spec.interfaces[0].macAddress', /MAC address/],
  ['bad binding', vm({ interfaces: [{ name: 'a', binding: 'sriov' }] }), 'spec.interfaces[0].binding', /"masquerade", "bridge"/],
  ['bad graphics', vm({ devices: { graphics: 'spice' } }), 'spec.devices.graphics', /"vnc", "none"/],
  ['bad restart time', vm({ restartRequestedAt: 'yesterday' }), 'spec.restartRequestedAt', /RFC 3339 time/],
  ['paused not boolean', vm({ paused: 'yes' }), 'spec.paused', /must be a boolean/],
  ['VM name too long for its Service', { ...vm(), metadata: { name: 'v'.repeat(56), namespace: 'team-a' } }, 'metadata.name', /at most 55 characters: the VM's Service hotplug-<name> must fit in 63/],
  ['disk name too long for its volume', vm({ disks: [pvc('d'.repeat(49))] }), 'spec.disks[0].name', /at most 48 characters/],
  ['bad port name', vm({ interfaces: [{ name: 'a', ports: [{ port: 22, name: 'SSH_port' }] }] }), 'spec.interfaces[0].ports[0].name', /IANA service name/],
  ['seven sata disks', vm({ disks: Array.from({ length: 7 }, (_, i) => pvc(`d${i}`, { bus: 'sata' })) }), 'spec.disks[6].bus', /at most 6 disks can use sata/],
  ['read-only sata disk', vm({ disks: [pvc('root', { bus: 'sata', readOnly: true })] }), 'spec.disks[0].readOnly', /sata hard disk cannot be read-only/],
  ['bridge binding', vm({ interfaces: [{ name: 'a', binding: 'bridge' }] }), 'spec.interfaces[0].binding', /bridge is not supported yet: it needs NET_ADMIN/],
  ['missing name', { ...vm(), metadata: {} }, 'metadata.name', /is required/],
];

describe('validateVm rejects invalid manifests with a message naming the field', () => {
  it.each(invalid)('%s', (_title, manifest, path, message) => {
    const { value, issues } = validateVm(manifest);
    expect(value).toBeUndefined();
    const issue = issues.find((i) => i.path === path);
    expect(issue).toBeDefined();
    expect(issue?.message).toMatch(message);
    expect(issue?.object).toMatch(/^VirtualMachine (team-a\/(web-1|v+)|\(unnamed\))$/);
  });

  it('has at least 30 cases', () => expect(invalid.length).toBeGreaterThanOrEqual(30));
});

describe('validateVm accepts valid manifests', () => {
  it.each([
    ['minimal', vm()],
    ['full topology and hugepages', vm({ cpu: { sockets: 2, cores: 2, threads: 2, dedicated: true }, memory: { guest: '2Gi', hugepages: '2Mi' } })],
    ['every disk source', vm({ disks: [pvc('root'), { name: 's', emptyDisk: { capacity: '1Gi' } }, { name: 'os', containerDisk: { image: 'r/os:1' } }, { name: 'ci', cloudInit: { userData: '#cloud-config' } }, pvc('data', { hotpluggable: true }), { name: 'sys', image: { name: 'debian-12', size: '20Gi', storageClassName: 'fast', retain: true } }] })],
    ['memory as bytes', vm({ memory: { guest: 1073741824 } })],
    ['no disks at all', vm({ disks: [] })],
  ])('%s', (_title, manifest) => {
    expect(validateVm(manifest).issues).toEqual([]);
  });
});

describe('classes', () => {
  const limited = cls({ memory: { guest: '2Gi' }, limits: { maxCores: 4, maxMemory: '4Gi', maxDisks: 2 } });

  it('gives guest memory to a VM that names it', () => {
    const results = validateDocuments([limited, vm({ className: 'small', memory: undefined })]);
    expect(results.map((r) => r.issues)).toEqual([[], []]);
  });

  it('keeps VMs inside its limits', () => {
    const big = vm({ className: 'small', cpu: { cores: 8 }, memory: { guest: '8Gi' }, disks: [pvc('a'), pvc('b'), pvc('c')] });
    const [, result] = validateDocuments([limited, big]);
    expect(result?.issues.map(formatIssue)).toEqual([
      'VirtualMachine team-a/web-1: spec.cpu: 8 vCPUs exceed class "small" limit maxCores=4',
      'VirtualMachine team-a/web-1: spec.memory.guest: 8Gi exceeds class "small" limit maxMemory=4Gi',
      'VirtualMachine team-a/web-1: spec.disks: 3 disks exceed class "small" limit maxDisks=2',
    ]);
  });

  it('warns, but does not fail, when the named class is not in the input', () => {
    const [result] = validateDocuments([vm({ className: 'elsewhere', memory: undefined })]);
    expect(result?.issues).toEqual([]);
    expect(result?.warning).toMatch(/class "elsewhere" is not in the input/);
  });

  it('fails when the lookup is complete and the class is missing (webhook)', () => {
    const { issues } = validateVm(vm({ className: 'gone' }), { classes: new Map(), complete: true });
    expect(issues[0]?.message).toMatch(/VirtualMachineClass "gone" does not exist/);
  });

  it('rejects an unknown kind', () => {
    const [result] = validateDocuments([{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }]);
    expect(result?.issues[0]?.message).toMatch(/must be one of VirtualMachine, VirtualMachineClass, VirtualMachineImage/);
  });

  it('rejects a class with a typo', () => {
    const [result] = validateDocuments([cls({ limits: { maxCPUs: 3 } })]);
    expect(result?.issues[0]?.path).toBe('spec.limits.maxCPUs');
    expect(result?.issues[0]?.message).toMatch(/unknown field "maxCPUs"/);
  });
});
