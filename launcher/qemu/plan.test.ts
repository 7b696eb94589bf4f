import { LauncherInputError, QemuPlanError, UnsupportedSpecError } from './errors.js';
import { OVMF_CODE } from './firmware.js';
import { planQemu } from './plan.js';
import { flagValues, parseOpts, testVm } from '../../test/fakes/launcher-vm.js';
import type { QemuInput } from './types.js';

const PVC = { persistentVolumeClaim: { claimName: 'pvc' } };
const RAW = { format: 'raw', driver: 'file' } as const;

function input(overrides: Partial<QemuInput> = {}): QemuInput {
  const vm = testVm(
    {
      disks: [
        { name: 'root', ...PVC },
        { name: 'data', bus: 'scsi', ...PVC },
        { name: 'hot', hotpluggable: true, ...PVC },
        { name: 'cloudinit', cloudInit: { userData: '#cloud-config' } },
      ],
      interfaces: [{ name: 'default', ports: [{ port: 22 }] }],
    },
    { hotplugPorts: 2 },
  );
  return {
    vm,
    accel: 'tcg',
    runtimeDir: '/run/kubevmm/runtime',
    disks: { root: { path: '/d/root', ...RAW }, data: { path: '/d/data', ...RAW }, cloudinit: { path: '/r/cidata.iso', ...RAW } },
    ...overrides,
  };
}

/** Ids defined by -device, in order, with the bus each one plugs into. */
function devices(argv: string[]) {
  return flagValues(argv, '-device').map((d) => parseOpts(d));
}

describe('planQemu', () => {
  it('creates every port before any device and in a fixed order: NICs, disks, devices, spares', () => {
    const list = devices(planQemu(input()).argv);
    const ports = list.filter((d) => d.head === 'pcie-root-port').map((d) => d.props.id);
    expect(ports).toEqual(['port-net-default', 'port-scsi', 'port-disk-root', 'port-disk-cloudinit', 'port-rng', 'port-balloon', 'port-serial', 'hotplug0', 'hotplug1']);
    const firstOther = list.findIndex((d) => d.head !== 'pcie-root-port');
    expect(list.slice(firstOther).some((d) => d.head === 'pcie-root-port')).toBe(false);
  });

  it('plugs every device into a bus that exists before it', () => {
    const builtIn = ['pcie.0', 'ide.0', 'ide.1', 'ide.2', 'ide.3', 'ide.4', 'ide.5'];
    const known = new Set(builtIn);
    for (const dev of devices(planQemu(input()).argv)) {
      if (dev.props.bus) expect({ id: dev.props.id, bus: known.has(dev.props.bus) }).toEqual({ id: dev.props.id, bus: true });
      known.add(dev.props.id as string);
      known.add(`${dev.props.id}.0`); // the child bus of a controller (scsi0.0, vserial.0)
    }
  });

  it('gives each device a unique id', () => {
    const ids = devices(planQemu(input()).argv).map((d) => d.props.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every(Boolean)).toBe(true);
  });

  it('reports disks, spare ports, the SCSI bus and sockets', () => {
    const plan = planQemu(input());
    expect(plan.disks).toEqual({
      root: { deviceId: 'disk-root', nodeName: 'fmt-root', target: 'vda', port: 'port-disk-root' },
      data: { deviceId: 'disk-data', nodeName: 'fmt-data', target: 'sda', port: 'port-scsi' },
      cloudinit: { deviceId: 'disk-cloudinit', nodeName: 'fmt-cloudinit', target: 'vdb', port: 'port-disk-cloudinit' },
    });
    expect(plan.sparePorts).toEqual(['hotplug0', 'hotplug1']);
    expect(plan.scsiBus).toBe('scsi0.0');
    expect(plan.sockets).toEqual({
      qmp: '/run/kubevmm/runtime/qmp.sock',
      serial: '/run/kubevmm/runtime/serial.sock',
      console: '/run/kubevmm/runtime/console.sock',
      serialLog: '/run/kubevmm/runtime/serial.log',
      vnc: '/run/kubevmm/runtime/vnc.sock',
      guestAgent: '/run/kubevmm/runtime/qga.sock',
    });
  });

  it('is deterministic', () => {
    expect(planQemu(input())).toEqual(planQemu(input()));
  });

  it.each([
    ['tcg', 'max', 'tcg,tb-size=32,thread=multi'],
    ['kvm', 'host', 'kvm'],
  ] as const)('%s: cpu %s, accel %s', (accel, cpu, accelOpts) => {
    const { argv } = planQemu(input({ accel }));
    expect(flagValues(argv, '-cpu')).toEqual([cpu]);
    expect(flagValues(argv, '-accel')).toEqual([accelOpts]);
  });

  it('wires hugepages and EFI flash into -machine', () => {
    const vm = { ...input().vm, firmware: 'efi' as const, memory: { guestBytes: 2 ** 30, hugepages: '2Mi' as const } };
    const { argv } = planQemu(input({ vm, firmware: { code: OVMF_CODE, vars: '/run/vars.fd' } }));
    expect(flagValues(argv, '-machine')).toEqual(['q35,usb=off,vmport=off,dump-guest-core=off,memory-backend=mem0,pflash0=fw-code,pflash1=fw-vars']);
  });

  it.each([
    ['a bridge interface', () => input({ vm: { ...input().vm, interfaces: [{ name: 'br', model: 'virtio', binding: 'bridge', ports: [] }] } }), UnsupportedSpecError, 'Unsupported'],
    ['efi without firmware paths', () => input({ vm: { ...input().vm, firmware: 'efi' } }), LauncherInputError, 'MissingInput'],
    ['a disk without backing', () => input({ disks: {} }), LauncherInputError, 'MissingInput'],
  ])('fails with a typed error for %s', (_name, make, type, reason) => {
    const error = (() => {
      try {
        planQemu(make());
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(type);
    expect(error).toBeInstanceOf(QemuPlanError);
    expect(error).toMatchObject({ reason });
  });
});
