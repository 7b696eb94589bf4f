// Hostile and odd input (issue 16): each row is a manifest that used to pass validation and
// break something later (a pod, a Service, a QEMU option, a timer). Each must be refused
// here, naming the field: the CLI, the webhook and the operator all call validateVm.
import { validateClass, validateVm } from './validate.js';

function vm(spec: Record<string, unknown> = {}, name = 'web-1') {
  return {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: 'team-a' },
    spec: { memory: { guest: '1Gi' }, disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'web-1-root' } }], ...spec },
  };
}
const pvc = (name: string, claimName: string, extra: Record<string, unknown> = {}) => ({ name, persistentVolumeClaim: { claimName }, ...extra });
const ports = (...list: Record<string, unknown>[]) => ({ interfaces: [{ name: 'default', ports: list }] });
const nested = (levels: number): Record<string, unknown> => {
  let node: Record<string, unknown> = {};
  for (let i = 0; i < levels; i++) node = { x: node };
  return node;
};

const refusedVms: [string, unknown, string, RegExp][] = [
  // names that become pod, Service and Secret names
  ['a dotted VM name (its hotplug Service would be invalid)', vm({}, 'web.1'), 'metadata.name', /DNS-1035 label/],
  ['an upper-case VM name', vm({}, 'Web'), 'metadata.name', /DNS-1035 label/],
  ['an underscore in the VM name', vm({}, 'web_1'), 'metadata.name', /DNS-1035 label/],
  ['an emoji VM name', vm({}, 'web-🚀'), 'metadata.name', /DNS-1035 label/],
  ['a VM name starting with a digit', vm({}, '1web'), 'metadata.name', /starting with a letter/],
  ['a 56-character VM name', vm({}, 'a'.repeat(56)), 'metadata.name', /at most 55 characters/],
  ['a class name that is no object name', vm({ className: 'Small_Class' }), 'spec.className', /DNS-1123 subdomain/],
  // quantities
  ['memory that overflows', vm({ memory: { guest: '99999999999999999999999Ei' } }), 'spec.memory.guest', /must be at most 16Ti/],
  ['memory that is infinite', vm({ memory: { guest: '9e999' } }), 'spec.memory.guest', /must be at most 16Ti; got 9e999/],
  ['an absurd memory size', vm({ memory: { guest: '1Ei' } }), 'spec.memory.guest', /must be at most 16Ti/],
  ['memory of a fraction of a byte', vm({ memory: { guest: '1073741824500m' } }), 'spec.memory.guest', /whole number of bytes/],
  ['a negative memory size', vm({ memory: { guest: '-1Gi' } }), 'spec.memory.guest', /at least 16Mi/],
  ['an emptyDisk that overflows', vm({ disks: [{ name: 's', emptyDisk: { capacity: '9e999' } }] }), 'spec.disks[0].emptyDisk.capacity', /at most 1Pi/],
  ['an absurd emptyDisk', vm({ disks: [{ name: 's', emptyDisk: { capacity: '2Pi' } }] }), 'spec.disks[0].emptyDisk.capacity', /at most 1Pi/],
  ['memory as a float number of bytes', vm({ memory: { guest: 1.5e9 + 0.5 } }), 'spec.memory.guest', /quantity such as/],
  // a grace period a timer cannot hold
  ['terminationGracePeriodSeconds of 3,000,000', vm({ terminationGracePeriodSeconds: 3_000_000 }), 'spec.terminationGracePeriodSeconds', /at most 604800 \(a week\)/],
  // one disk image opened twice
  ['the same claim on two disks', vm({ disks: [pvc('a', 'data'), pvc('b', 'data')] }), 'spec.disks[1].persistentVolumeClaim.claimName', /duplicate value "data", already used by spec.disks\[0\].*one disk of a VM only/],
  ['a boot claim hotplugged again', vm({ disks: [pvc('root', 'data'), pvc('hot', 'data', { hotpluggable: true })] }), 'spec.disks[1].persistentVolumeClaim.claimName', /already used by spec.disks\[0\]/],
  // ports
  ['a guest port on the control port', vm(ports({ port: 9500 })), 'spec.interfaces[0].ports[0].port', /9500 is the launcher's control and metrics port/],
  ['a port name used twice', vm(ports({ port: 22, name: 'ssh' }, { port: 2222, name: 'ssh' })), 'spec.interfaces[0].ports[1].name', /already used by spec.interfaces\[0\].ports\[0\].name/],
  ['a port named control', vm(ports({ port: 22, name: 'control' })), 'spec.interfaces[0].ports[0].name', /already used by the launcher's control port/],
  ['a port name of digits only', vm(ports({ port: 22, name: '22' })), 'spec.interfaces[0].ports[0].name', /at least one letter/],
  ['a port name with a double hyphen', vm(ports({ port: 22, name: 'a--b' })), 'spec.interfaces[0].ports[0].name', /IANA service name/],
  // scheduling fields copied into the pod
  ['a nodeSelector key with a space', vm({ nodeSelector: { 'zone a': 'x' } }), 'spec.nodeSelector["zone a"]', /qualified name/],
  ['a nodeSelector key with two slashes', vm({ nodeSelector: { 'a/b/c': 'x' } }), 'spec.nodeSelector["a/b/c"]', /qualified name/],
  ['a nodeSelector key too long', vm({ nodeSelector: { [`example.com/${'k'.repeat(64)}`]: 'x' } }), `spec.nodeSelector["example.com/${'k'.repeat(64)}"]`, /at most 63/],
  ['a nodeSelector value with a slash', vm({ nodeSelector: { zone: 'a/b' } }), 'spec.nodeSelector.zone', /label value/],
  ['a nodeSelector value too long', vm({ nodeSelector: { zone: 'z'.repeat(64) } }), 'spec.nodeSelector.zone', /at most 63 characters/],
  ['a toleration key with a space', vm({ tolerations: [{ key: 'a b', operator: 'Exists' }] }), 'spec.tolerations[0].key', /qualified name/],
  ['a toleration with Exists and a value', vm({ tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] }), 'spec.tolerations[0].value', /empty when operator is Exists/],
  ['a toleration without key nor Exists', vm({ tolerations: [{ value: 'v' }] }), 'spec.tolerations[0].operator', /must be Exists when key is empty/],
  ['tolerationSeconds without NoExecute', vm({ tolerations: [{ key: 'k', operator: 'Exists', tolerationSeconds: 5 }] }), 'spec.tolerations[0].tolerationSeconds', /needs effect NoExecute/],
  ['a toleration value that is no label value', vm({ tolerations: [{ key: 'k', value: 'a b' }] }), 'spec.tolerations[0].value', /label value/],
  ['a priorityClassName with upper case', vm({ priorityClassName: 'High' }), 'spec.priorityClassName', /DNS-1123 subdomain/],
  ['a claim name with a slash', vm({ disks: [pvc('root', '../other')] }), 'spec.disks[0].persistentVolumeClaim.claimName', /DNS-1123 subdomain/],
  ['a Secret name with upper case', vm({ disks: [pvc('root', 'r'), { name: 'ci', cloudInit: { userDataSecretRef: { name: 'User_Data' } } }] }), 'spec.disks[1].cloudInit.userDataSecretRef.name', /DNS-1123 subdomain/],
  ['a containerDisk image with a space', vm({ disks: [{ name: 'os', containerDisk: { image: 'debian 12' } }] }), 'spec.disks[0].containerDisk.image', /image reference/],
  ['a containerDisk image with upper case', vm({ disks: [{ name: 'os', containerDisk: { image: 'Registry/OS:1' } }] }), 'spec.disks[0].containerDisk.image', /image reference/],
  // QEMU options
  ['a cpu.model that smuggles flags', vm({ cpu: { model: 'host,+vmx' } }), 'spec.cpu.model', /CPU flags cannot be added/],
  ['a cpu.model that smuggles a property', vm({ cpu: { model: 'max,migratable=off' } }), 'spec.cpu.model', /QEMU CPU model name/],
  ['a cpu.model asking QEMU for help', vm({ cpu: { model: '?' } }), 'spec.cpu.model', /QEMU CPU model name/],
  ['a multicast MAC', vm({ interfaces: [{ name: 'default', macAddress: '01:00:5e:00:00:01' }] }), 'spec.interfaces[0].macAddress', /unicast MAC/],
  ['the broadcast MAC', vm({ interfaces: [{ name: 'default', macAddress: 'ff:ff:ff:ff:ff:ff' }] }), 'spec.interfaces[0].macAddress', /unicast MAC/],
  ['the all-zero MAC', vm({ interfaces: [{ name: 'default', macAddress: '00:00:00:00:00:00' }] }), 'spec.interfaces[0].macAddress', /must not be all zeros/],
  ['a bootOrder beyond QEMU’s int32', vm({ disks: [pvc('root', 'r', { bootOrder: 2 ** 31 })] }), 'spec.disks[0].bootOrder', /at most 2147483647/],
  // affinity, copied into the pod: the API server's rules
  ['a misspelt affinity field', vm({ affinity: { nodeAfinity: {} } }), 'spec.affinity.nodeAfinity', /did you mean "nodeAffinity"/],
  ['node affinity In without values', vm({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In' }] }] } } } }), 'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values', /non-empty when operator is In/],
  ['node affinity Gt with a word', vm({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['many'] }] }] } } } }), 'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values', /single integer/],
  ['no node selector terms', vm({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } } }), 'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms', /at least 1/],
  ['a pod affinity weight of 0', vm({ affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 0, podAffinityTerm: { topologyKey: 'zone' } }] } } }), 'spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight', /at least 1/],
  ['a pod affinity term without topologyKey', vm({ affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: {} }] } } }), 'spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey', /is required/],
  ['a label selector value with a space', vm({ affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'zone', labelSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['a b'] }] } }] } } }), 'spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].values[0]', /label value/],
  ['matchFields with two node names', vm({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['a', 'b'] }] }] } } } }), 'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values', /exactly one node name/],
  // shapes that would crash recursive code
  ['deeply nested affinity', vm({ affinity: nested(10_000) }), 'spec.affinity' + '.x'.repeat(30), /nested more than 32 levels deep/],
  ['deeply nested unknown field', vm({ cpu: nested(40) }), 'spec.cpu' + '.x'.repeat(30), /nested more than 32 levels deep/],
  ['a spec too large for the pod annotation', vm({ affinity: { blob: 'x'.repeat(200_000) } }), 'spec', /at most 196608 fit in the launcher pod's annotation/],
];

describe('validateVm refuses odd and hostile input, naming the field', () => {
  it.each(refusedVms)('%s', (_title, manifest, path, message) => {
    const { value, issues } = validateVm(manifest);
    expect(value).toBeUndefined();
    const issue = issues.find((i) => i.path === path);
    if (!issue) throw new Error(`no issue at ${path}; got ${JSON.stringify(issues)}`);
    expect(issue.message).toMatch(message);
  });

  it('accepts the valid neighbours of those rows', () => {
    const ok = [
      vm({}, 'a'.repeat(55)),
      vm({ cpu: { model: 'Skylake-Server-v4' }, memory: { guest: '16Ti' } }),
      vm({ nodeSelector: { 'topology.kubernetes.io/zone': 'eu-1a', 'kubevmm.io/kvm': '' } }),
      vm({ tolerations: [{ operator: 'Exists' }, { key: 'k', value: 'v', effect: 'NoExecute', tolerationSeconds: 30 }] }),
      vm({ disks: [pvc('root', 'r.v1'), { name: 'os', containerDisk: { image: 'registry.example:5000/os/debian:12@sha256:' + 'a'.repeat(64) } }] }),
      vm({ interfaces: [{ name: 'default', macAddress: '52:54:00:12:34:56', ports: [{ port: 9500, protocol: 'UDP', name: 'p9500' }] }] }),
      vm({ terminationGracePeriodSeconds: 604800, priorityClassName: '', className: '' }),
      vm({ affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] } } }] } } }),
    ];
    for (const manifest of ok) expect(validateVm(manifest).issues).toEqual([]);
  });
});

const cls = (spec: Record<string, unknown>, name = 'small') => ({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineClass', metadata: { name }, spec });

describe('validateClass refuses the same input in a class', () => {
  it.each([
    ['an upper-case class name', cls({}, 'Small'), 'metadata.name', /DNS-1123 subdomain/],
    ['an overflowing maxMemory', cls({ limits: { maxMemory: '9e999' } }), 'spec.limits.maxMemory', /at most 16Ti/],
    ['a negative maxMemory', cls({ limits: { maxMemory: '-1Gi' } }), 'spec.limits.maxMemory', /at least 16Mi/],
    ['an infinite default memory', cls({ memory: { guest: '9e999' } }), 'spec.memory.guest', /at most 16Ti/],
    ['a cpu.model with flags', cls({ cpu: { model: 'host,+vmx' } }), 'spec.cpu.model', /CPU flags cannot be added/],
    ['a bad nodeSelector key', cls({ nodeSelector: { 'a b': 'c' } }), 'spec.nodeSelector["a b"]', /qualified name/],
    ['a bad toleration', cls({ tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] }), 'spec.tolerations[0].value', /empty when operator is Exists/],
  ])('%s', (_title, manifest, path, message) => {
    const { issues } = validateClass(manifest);
    const issue = issues.find((i) => i.path === path);
    if (!issue) throw new Error(`no issue at ${path}; got ${JSON.stringify(issues)}`);
    expect(issue.message).toMatch(message);
  });
});
