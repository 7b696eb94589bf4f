import { resolveVm, type ResolvedVm } from '../../api/resolve.js';
import { DEFAULT_CONFIG, type OperatorConfig } from '../../api/schema/config.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import type { VirtualMachineClass } from '../../api/schema/class.js';
import { CONSOLE_SCRIPT } from './console-log.js';
import { specHash } from './hash.js';
import { memoryOverhead } from './overhead.js';
import { launcherPodName, renderLauncherPod } from './pod.js';
import { launcherResources } from './resources.js';
import { scheduling } from './scheduling.js';
import { diskSizeArgs, diskVolumes } from './volumes.js';

const MiB = 2 ** 20;

function vm(spec: Partial<VirtualMachine['spec']> = {}, uid?: string): VirtualMachine {
  return {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: 'web-1', namespace: 'team-a', ...(uid ? { uid } : {}) },
    spec: { memory: { guest: '2Gi' }, disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'web-1-root' } }], ...spec },
  };
}
const resolved = (spec: Partial<VirtualMachine['spec']> = {}, config: OperatorConfig = DEFAULT_CONFIG, cls?: VirtualMachineClass): ResolvedVm =>
  resolveVm(vm(spec), cls, config);

describe('memoryOverhead', () => {
  it.each([
    ['1 vCPU, 2Gi, vnc, kvm', { cpu: { cores: 1 } }, false, 64 + 48 + 2 + 4 + 16],
    ['4 vCPUs, 2Gi, vnc, kvm', { cpu: { cores: 4 } }, false, 64 + 48 + 8 + 4 + 16],
    ['1 vCPU, 8Gi, no graphics, kvm', { memory: { guest: '8Gi' }, devices: { graphics: 'none' as const } }, false, 64 + 48 + 2 + 16],
    ['1 vCPU, 2Gi, vnc, tcg', {}, true, 64 + 48 + 2 + 4 + 16 + 32],
  ])('%s = %d MiB', (_t, spec, tcg, mib) => {
    expect(memoryOverhead(resolved(spec), tcg)).toBe(mib * MiB);
  });

  it('stays well below KubeVirt’s ~230Mi measured cost for a typical VM', () => {
    expect(memoryOverhead(resolved({ cpu: { cores: 2 } }), false)).toBeLessThan(160 * MiB);
  });
});

describe('launcherResources', () => {
  const tcg = { ...DEFAULT_CONFIG, accelerator: 'tcg' as const };
  it.each([
    ['default: 100m per vCPU, no CPU limit, kvm device', { cpu: { cores: 2 } }, DEFAULT_CONFIG, { cpu: '200m', memory: '2184Mi', 'devices.kubevmm.io/kvm': '1' }, { memory: '2184Mi', 'devices.kubevmm.io/kvm': '1' }],
    ['ratio 4', { cpu: { cores: 2 } }, { ...DEFAULT_CONFIG, cpuAllocationRatio: 4 }, { cpu: '500m', memory: '2184Mi', 'devices.kubevmm.io/kvm': '1' }, { memory: '2184Mi', 'devices.kubevmm.io/kvm': '1' }],
    ['memory overcommit 200%', {}, { ...DEFAULT_CONFIG, memoryOvercommitPercent: 200 }, { cpu: '100m', memory: '1158Mi', 'devices.kubevmm.io/kvm': '1' }, { memory: '2182Mi', 'devices.kubevmm.io/kvm': '1' }],
    ['dedicated: Guaranteed QoS', { cpu: { cores: 4, dedicated: true } }, DEFAULT_CONFIG, { cpu: '4', memory: '2188Mi', 'devices.kubevmm.io/kvm': '1' }, { cpu: '4', memory: '2188Mi', 'devices.kubevmm.io/kvm': '1' }],
    ['hugepages: memory is the overhead only', { memory: { guest: '2Gi', hugepages: '2Mi' as const } }, DEFAULT_CONFIG, { cpu: '100m', memory: '134Mi', 'hugepages-2Mi': '2Gi', 'devices.kubevmm.io/kvm': '1' }, { memory: '134Mi', 'hugepages-2Mi': '2Gi', 'devices.kubevmm.io/kvm': '1' }],
    ['tcg: no kvm device, TCG cache in the overhead', {}, tcg, { cpu: '100m', memory: '2214Mi' }, { memory: '2214Mi' }],
    ['custom kvm resource name', {}, { ...DEFAULT_CONFIG, kvmResourceName: 'example.com/kvm' }, { cpu: '100m', memory: '2182Mi', 'example.com/kvm': '1' }, { memory: '2182Mi', 'example.com/kvm': '1' }],
  ])('%s', (_t, spec, config, requests, limits) => {
    expect(launcherResources(resolved(spec, config), config)).toEqual({ requests, limits });
  });

  it('takes overcommit from the class over the operator config', () => {
    const cls: VirtualMachineClass = { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineClass', metadata: { name: 'c' }, spec: { cpu: { cores: 4 }, overcommit: { cpuAllocationRatio: 2 } } };
    expect(launcherResources(resolved({ className: 'c' }, DEFAULT_CONFIG, cls), DEFAULT_CONFIG).requests?.cpu).toBe('2');
  });
});

describe('diskVolumes', () => {
  const opts = { launcherImage: 'launcher:1', pvcs: { 'blk-claim': { mode: 'Block' as const, sizeBytes: 2 ** 30 } }, containerDiskDelivery: 'copy' as const };
  const disks = (list: VirtualMachine['spec']['disks']) => diskVolumes(resolved({ disks: list }), opts);

  it('mounts a Filesystem PVC as a directory and a Block PVC as a device', () => {
    const out = disks([
      { name: 'root', persistentVolumeClaim: { claimName: 'root-claim' } },
      { name: 'raw', persistentVolumeClaim: { claimName: 'blk-claim' } },
    ]);
    expect(out.volumes).toEqual([
      { name: 'disk-root', persistentVolumeClaim: { claimName: 'root-claim', readOnly: false } },
      { name: 'disk-raw', persistentVolumeClaim: { claimName: 'blk-claim', readOnly: false } },
    ]);
    expect(out.mounts).toEqual([{ name: 'disk-root', mountPath: '/var/run/kubevmm/disks/root', readOnly: false }]);
    expect(out.devices).toEqual([{ name: 'disk-raw', devicePath: '/dev/kubevmm/raw' }]);
  });

  it('tells the launcher the size of each Filesystem PVC, for the disk.img of a blank claim', () => {
    const vmOf = resolved({
      disks: [
        { name: 'root', persistentVolumeClaim: { claimName: 'fs-claim' } },
        { name: 'raw', persistentVolumeClaim: { claimName: 'blk-claim' } },
        { name: 'unknown', persistentVolumeClaim: { claimName: 'not-read' } },
        { name: 'hot', hotpluggable: true, persistentVolumeClaim: { claimName: 'fs-claim' } },
      ],
    });
    const pvcs = { 'fs-claim': { mode: 'Filesystem' as const, sizeBytes: 5 * 2 ** 30 }, 'blk-claim': opts.pvcs['blk-claim'] };
    expect(diskSizeArgs(vmOf, pvcs)).toEqual(['--disk-size', `root=${5 * 2 ** 30}`]);
  });

  it('leaves hotpluggable PVCs to attachment pods', () => {
    const out = disks([{ name: 'data', hotpluggable: true, persistentVolumeClaim: { claimName: 'd' } }]);
    expect(out.volumes).toEqual([]);
  });

  it('gives an emptyDisk an emptyDir with a size limit just above its capacity', () => {
    expect(disks([{ name: 's', emptyDisk: { capacity: '10Gi' } }]).volumes).toEqual([{ name: 'disk-s', emptyDir: { sizeLimit: '10241Mi' } }]);
  });

  it('copies a containerDisk with the launcher’s static busybox, the path one argument of cp, no shell', () => {
    const out = disks([{ name: 'os', containerDisk: { image: 'reg/os:1' } }]);
    expect(out.initContainers.map((c) => [c.name, c.image])).toEqual([
      ['tools', 'launcher:1'],
      ['containerdisk-os', 'reg/os:1'],
    ]);
    expect(out.initContainers[1]?.command).toEqual(['/var/run/kubevmm/tools/busybox', 'cp', '-R', '-L', '--', '/disk', '/var/run/kubevmm/disks/os/containerdisk']);
    expect(out.volumes.map((v) => v.name)).toEqual(['disk-os', 'tools']);
  });

  it('mounts a containerDisk as a read-only image volume, with overlay scratch space only when the disk is writable', () => {
    const mounted = (list: VirtualMachine['spec']['disks']) => diskVolumes(resolved({ disks: list }), { ...opts, containerDiskDelivery: 'imageVolume' });
    const out = mounted([{ name: 'os', containerDisk: { image: 'reg/os:1', imagePullPolicy: 'Never' } }]);
    expect(out.initContainers).toEqual([]);
    expect(out.volumes).toEqual([
      { name: 'image-os', image: { reference: 'reg/os:1', pullPolicy: 'Never' } },
      { name: 'disk-os', emptyDir: {} },
    ]);
    expect(out.mounts).toEqual([
      { name: 'image-os', mountPath: '/var/run/kubevmm/containerdisks/os', readOnly: true },
      { name: 'disk-os', mountPath: '/var/run/kubevmm/disks/os' },
    ]);
    const readOnly = mounted([{ name: 'os', readOnly: true, containerDisk: { image: 'reg/os:1' } }]);
    expect(readOnly.volumes).toEqual([{ name: 'image-os', image: { reference: 'reg/os:1' } }]);
    expect(readOnly.mounts).toEqual([{ name: 'image-os', mountPath: '/var/run/kubevmm/containerdisks/os', readOnly: true }]);
  });

  it('starts a containerDisk VM with the guest console and the launcher only (imageVolume is the default)', () => {
    const spec = renderLauncherPod({ vm: vm({ disks: [{ name: 'os', containerDisk: { image: 'r/os:1' } }] }), config: DEFAULT_CONFIG }).spec!;
    expect(spec.initContainers?.map((c) => c.name)).toEqual(['guest-console']);
    expect(spec.volumes?.find((v) => v.name === 'tools')).toBeUndefined();
  });

  it('mounts a cloud-init Secret, and nothing for inline user data', () => {
    expect(disks([{ name: 'ci', cloudInit: { userDataSecretRef: { name: 'ud' } } }]).volumes).toEqual([{ name: 'cloudinit-ci', secret: { secretName: 'ud', defaultMode: 0o400 } }]);
    expect(disks([{ name: 'ci', cloudInit: { userData: '#cloud-config' } }]).volumes).toEqual([]);
  });
});

describe('scheduling', () => {
  it('merges class and VM placement, and adds a grace margin', () => {
    const cls: VirtualMachineClass = {
      apiVersion: 'kubevmm.io/v1alpha1',
      kind: 'VirtualMachineClass',
      metadata: { name: 'c' },
      spec: { nodeSelector: { pool: 'vms', zone: 'a' }, tolerations: [{ key: 'vms', operator: 'Exists' }] },
    };
    const out = scheduling(resolved({ className: 'c', nodeSelector: { zone: 'b' }, priorityClassName: 'high', terminationGracePeriodSeconds: 30, tolerations: [{ key: 'x', operator: 'Exists' }] }, DEFAULT_CONFIG, cls));
    expect(out).toEqual({
      nodeSelector: { pool: 'vms', zone: 'b' },
      tolerations: [{ key: 'vms', operator: 'Exists' }, { key: 'x', operator: 'Exists' }],
      priorityClassName: 'high',
      terminationGracePeriodSeconds: 45,
    });
  });
});

describe('renderLauncherPod', () => {
  const full = vm(
    {
      cpu: { cores: 2 },
      disks: [
        { name: 'root', persistentVolumeClaim: { claimName: 'web-1-root' } },
        { name: 'scratch', emptyDisk: { capacity: '1Gi' } },
        { name: 'data', hotpluggable: true, persistentVolumeClaim: { claimName: 'web-1-data' } },
        { name: 'cloudinit', cloudInit: { userData: '#cloud-config\nhostname: web-1\n' } },
      ],
      interfaces: [{ name: 'default', ports: [{ port: 22 }, { port: 80 }] }],
    },
    'uid-123',
  );

  it('renders the whole pod (snapshot)', () => {
    expect(renderLauncherPod({ vm: full, config: DEFAULT_CONFIG })).toMatchSnapshot();
  });

  it('runs the launcher unprivileged, with no service account token', () => {
    const pod = renderLauncherPod({ vm: full, config: DEFAULT_CONFIG });
    const spec = pod.spec!;
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 107, runAsGroup: 107, seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    }
    expect(JSON.stringify(spec)).not.toMatch(/hostPath|hostNetwork|hostPID/);
  });

  it('sets no CPU limit on the guest console of a shared-CPU VM, whose quota would throttle its start', () => {
    const spec = renderLauncherPod({ vm: vm(), config: DEFAULT_CONFIG }).spec!;
    expect(spec.initContainers?.[0]?.resources).toEqual({ requests: { cpu: '20m', memory: '16Mi' }, limits: { memory: '16Mi' } });
  });

  it('keeps a dedicated VM Guaranteed even with init containers', () => {
    const dedicated = vm({ cpu: { cores: 2, dedicated: true }, disks: [{ name: 'os', containerDisk: { image: 'r/os:1' } }] });
    const spec = renderLauncherPod({ vm: dedicated, config: DEFAULT_CONFIG }).spec!;
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
      expect(c.resources?.requests?.cpu).toBe(c.resources?.limits?.cpu);
      expect(c.resources?.requests?.memory).toBe(c.resources?.limits?.memory);
    }
  });

  it('prints the guest console from a sidecar that follows the launcher’s log', () => {
    const spec = renderLauncherPod({ vm: full, config: DEFAULT_CONFIG }).spec!;
    const sidecar = spec.initContainers?.[0];
    expect(sidecar).toMatchObject({ name: 'guest-console', image: DEFAULT_CONFIG.launcherImage, restartPolicy: 'Always' });
    expect(sidecar?.command).toEqual(['/bin/sh', '-c', CONSOLE_SCRIPT, '/var/run/kubevmm/runtime/serial.log']);
    expect(CONSOLE_SCRIPT).not.toContain('serial.log'); // the path is an argument, never script text
    expect(sidecar?.volumeMounts).toEqual([{ name: 'runtime', mountPath: '/var/run/kubevmm/runtime', readOnly: true }]);
    expect(spec.containers[0]?.volumeMounts).toContainEqual({ name: 'runtime', mountPath: '/var/run/kubevmm/runtime' });
  });

  it('names, labels and owns the pod for its VM', () => {
    const pod = renderLauncherPod({ vm: full, config: DEFAULT_CONFIG });
    expect(pod.metadata?.name).toBe(launcherPodName('web-1'));
    expect(pod.metadata?.namespace).toBe('team-a');
    expect(pod.metadata?.labels?.['kubevmm.io/vm']).toBe('web-1');
    expect(pod.metadata?.ownerReferences).toEqual([{ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', name: 'web-1', uid: 'uid-123', controller: true, blockOwnerDeletion: true }]);
    expect(renderLauncherPod({ vm: vm(), config: DEFAULT_CONFIG }).metadata?.ownerReferences).toEqual([]);
  });

  it('carries the resolved VM for the launcher and exposes the guest ports', () => {
    const pod = renderLauncherPod({ vm: full, config: { ...DEFAULT_CONFIG, accelerator: 'tcg' } });
    const carried = JSON.parse(pod.metadata?.annotations?.['kubevmm.io/vm'] ?? '{}');
    expect(carried).toMatchObject({ name: 'web-1', accelerator: 'tcg', hotplugPorts: 4, cpu: { vcpus: 2 } });
    expect(pod.spec?.containers[0]?.ports?.map((p) => p.containerPort)).toEqual([9500, 22, 80]);
  });

  it('changes the spec hash for restart-relevant edits only', () => {
    const hashOf = (spec: Partial<VirtualMachine['spec']>) => specHash({ ...resolveVm(vm(spec), undefined, DEFAULT_CONFIG), accelerator: 'kvm', hotplugPorts: 4 });
    const base = hashOf({});
    expect(hashOf({ paused: true })).toBe(base);
    expect(hashOf({ runStrategy: 'Manual' })).toBe(base);
    expect(hashOf({ disks: [...(vm().spec.disks ?? []), { name: 'hp', hotpluggable: true, persistentVolumeClaim: { claimName: 'x' } }] })).toBe(base);
    expect(hashOf({ cpu: { cores: 2 } })).not.toBe(base);
    expect(hashOf({ memory: { guest: '3Gi' } })).not.toBe(base);
  });

  it('keeps the spec hash across launcher images (an upgrade is not a spec change)', () => {
    const annotation = (launcherImage: string) => renderLauncherPod({ vm: full, config: { ...DEFAULT_CONFIG, launcherImage } }).metadata?.annotations?.['kubevmm.io/spec-hash'];
    expect(annotation('launcher:2')).toBe(annotation('launcher:1'));
  });
});
