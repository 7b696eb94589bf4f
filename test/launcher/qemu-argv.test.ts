// System test of the QEMU argv planner: for each VM of a matrix, start the real
// qemu-system-x86_64 (TCG, never KVM here) with exactly the planned argv and inspect it over
// QMP while it sits paused at -S. No guest boots, except one case that lets SeaBIOS enumerate
// PCI to prove the root-port topology works for firmware too.
//
// Needs: apt-get install qemu-system-x86 qemu-utils xorriso ovmf. A missing QEMU fails the
// suite with that hint; it is never skipped.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { freePort } from '../../launcher/runtime/ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { nocloudFiles, writeCidataIso } from '../../launcher/cloudinit/index.js';
import { blockNodes, OVMF_CODE, OVMF_VARS_TEMPLATE, planQemu } from '../../launcher/qemu/index.js';
import type { DiskBacking, QemuInput, QemuPlan } from '../../launcher/qemu/index.js';
import { testVm } from '../fakes/launcher-vm.js';
import {
  QmpCommandError,
  blockdevAdd,
  connectQmp,
  cont,
  deviceAdd,
  deviceDel,
  deviceDelAndWait,
  listPciDevices,
  queryBlock,
  queryKvm,
  queryPci,
  queryStatus,
  quit,
} from '../../launcher/qmp/index.js';
import type { BlockInfo, QmpClient } from '../../launcher/qmp/index.js';

const exec = promisify(execFile);
const QEMU = 'qemu-system-x86_64';
const QEMU_IMG = 'qemu-img';
const INSTALL_HINT = 'apt-get install qemu-system-x86 qemu-utils';

const PVC = { persistentVolumeClaim: { claimName: 'pvc' } };
const CLOUD_INIT = { cloudInit: { userData: '#cloud-config\nhostname: web-1\n' } };
/** 63 characters, the longest disk name: node names must be shortened to QEMU's 31. */
const LONG_NAME = `data-${'x'.repeat(58)}`;

interface Case {
  name: string;
  spec: VirtualMachine['spec'];
  hotplugPorts: number;
  uid?: string;
  /** Disks stored as qcow2 (others raw). */
  qcow2?: string[];
  /** Let the firmware run and check that it found every device behind its port. */
  bootFirmware?: boolean;
}

const CASES: Case[] = [
  {
    name: 'minimal (defaults: rng, balloon, vnc, guest agent) with a virtio cloud-init disk',
    spec: { disks: [{ name: 'root', ...PVC }, { name: 'cloudinit', ...CLOUD_INIT }] },
    hotplugPorts: 4,
    uid: '6f1c1b52-8d8a-4f8e-9c59-1c2f7e0e9a11',
  },
  {
    name: '2 sockets x 2 cores, no vnc, no agent, no rng, no balloon',
    spec: {
      cpu: { sockets: 2, cores: 2 },
      disks: [{ name: 'root', ...PVC }],
      devices: { rng: false, balloon: false, graphics: 'none', guestAgent: false },
    },
    hotplugPorts: 4,
  },
  {
    name: 'virtio + scsi + sata disks, qcow2, read-only, cache modes, sata cloud-init, a 63-character name',
    spec: {
      disks: [
        { name: 'root', cache: 'none', ...PVC },
        { name: 'os', readOnly: true, cache: 'writeback', ...PVC },
        { name: 'scsi1', bus: 'scsi', cache: 'writethrough', ...PVC },
        { name: 'scsiro', bus: 'scsi', readOnly: true, ...PVC },
        { name: 'sata1', bus: 'sata', ...PVC },
        { name: LONG_NAME, ...PVC },
        { name: 'hot', bus: 'scsi', hotpluggable: true, ...PVC },
        { name: 'cloudinit', bus: 'sata', ...CLOUD_INIT },
      ],
    },
    hotplugPorts: 4,
    qcow2: ['scsi1', LONG_NAME],
  },
  {
    name: 'efi with OVMF, scsi cloud-init CD-ROM',
    spec: { firmware: 'efi', disks: [{ name: 'root', ...PVC }, { name: 'cloudinit', bus: 'scsi', ...CLOUD_INIT }] },
    hotplugPorts: 4,
  },
  {
    name: 'masquerade with TCP and UDP ports, e1000e',
    spec: {
      disks: [{ name: 'root', ...PVC }],
      interfaces: [{ name: 'default', model: 'e1000e', ports: [{ port: 22 }, { port: 80 }, { port: 53, protocol: 'UDP' }] }],
    },
    hotplugPorts: 4,
  },
  {
    name: '8 hotplug ports, firmware enumerates the topology',
    spec: { disks: [{ name: 'root', ...PVC }, { name: 'data', bus: 'scsi', ...PVC }] },
    hotplugPorts: 8,
    bootFirmware: true,
  },
  {
    name: 'the most hotplug ports the operator allows (32)',
    spec: { disks: [{ name: 'root', ...PVC }] },
    hotplugPorts: 32,
  },
];

/** Fails (never skips) with the install hint when a program is missing. */
async function requireProgram(program: string): Promise<void> {
  try {
    await exec(program, ['--version']);
  } catch (err) {
    throw new Error(`${program} is required by this suite and could not run (${(err as Error).message}); install it with: ${INSTALL_HINT}`, { cause: err });
  }
}

async function hostPortsFor(vm: QemuInput['vm']): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const iface of vm.interfaces) for (const p of iface.ports) out[`${p.protocol}/${p.port}`] = await freePort();
  return out;
}

async function createImage(path: string, format: 'raw' | 'qcow2'): Promise<void> {
  await exec(QEMU_IMG, ['create', '-q', '-f', format, path, '8M']).catch((err: unknown) => {
    throw new Error(`${QEMU_IMG} failed (${(err as Error).message}); install it with: ${INSTALL_HINT}`, { cause: err });
  });
}

/** Disk images (and the cidata ISO) for every cold-plugged disk. */
async function backings(dir: string, vm: QemuInput['vm'], qcow2: readonly string[]): Promise<Record<string, DiskBacking>> {
  const out: Record<string, DiskBacking> = {};
  for (const disk of vm.disks.filter((d) => !d.hotpluggable)) {
    const path = join(dir, `${disk.name.slice(0, 20)}.img`);
    const format = qcow2.includes(disk.name) ? 'qcow2' : 'raw';
    if (disk.source === 'cloudInit') await writeCidataIso(nocloudFiles(vm, disk), path);
    else await createImage(path, format);
    out[disk.name] = { path, format, driver: 'file' };
  }
  return out;
}

/** A running QEMU, its plan and a QMP connection. */
interface Running {
  dir: string;
  input: QemuInput;
  plan: QemuPlan;
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
  qmp: QmpClient;
}

async function start(c: Case): Promise<Running> {
  // Short paths: unix socket addresses hold at most 107 bytes.
  const dir = await mkdtemp(join(tmpdir(), 'kvq-'));
  try {
    return await startIn(dir, c);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startIn(dir: string, c: Case): Promise<Running> {
  const vm = testVm(c.spec, { hotplugPorts: c.hotplugPorts, ...(c.uid ? { uid: c.uid } : {}) });
  let firmware: QemuInput['firmware'];
  if (vm.firmware === 'efi') {
    firmware = { code: OVMF_CODE, vars: join(dir, 'vars.fd') };
    await copyFile(OVMF_VARS_TEMPLATE, firmware.vars);
  }
  const input: QemuInput = {
    vm,
    accel: 'tcg',
    disks: await backings(dir, vm, c.qcow2 ?? []),
    runtimeDir: dir,
    hostPorts: await hostPortsFor(vm),
    ...(firmware ? { firmware } : {}),
  };
  const plan = planQemu(input);
  const child = spawn(QEMU, plan.argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (output += s));
  const gone = new AbortController();
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      output += `\n${err.message}; install it with: ${INSTALL_HINT}`;
      gone.abort(new Error(`${QEMU} did not start: ${output}`));
      resolve(null);
    });
    child.once('exit', (code) => {
      gone.abort(new Error(`${QEMU} exited with ${code}: ${output}`));
      resolve(code);
    });
  });
  const qmp = await connectQmp(plan.sockets.qmp, { retryUntilMs: 15_000, signal: gone.signal });
  return { dir, input, plan, child, exited, output: () => output, qmp };
}

async function stop(vm: Running | undefined): Promise<void> {
  if (!vm) return;
  if (!vm.qmp.closed) await quit(vm.qmp).catch(() => undefined);
  await vm.qmp.close();
  const timer = setTimeout(() => vm.child.kill('SIGKILL'), 10_000);
  await vm.exited;
  clearTimeout(timer);
  await rm(vm.dir, { recursive: true, force: true });
}

function qomGet<T>(qmp: QmpClient, path: string, property: string): Promise<T> {
  return qmp.execute<T>('qom-get', { path, property });
}

/** The bus a device is plugged into, e.g. `/machine/peripheral/port-disk-root/port-disk-root`. */
function parentBus(qmp: QmpClient, id: string): Promise<string> {
  return qomGet<string>(qmp, `/machine/peripheral/${id}`, 'parent_bus');
}

/** query-block's entry for a front end: virtio reports the backend's QOM path, others the id. */
function blockOf(blocks: BlockInfo[], deviceId: string): BlockInfo | undefined {
  return blocks.find((b) => b.qdev === deviceId || b.qdev === `/machine/peripheral/${deviceId}/virtio-backend`);
}

async function commandError(promise: Promise<unknown>): Promise<QmpCommandError | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    if (err instanceof QmpCommandError) return err;
    throw err;
  }
}

beforeAll(async () => {
  await requireProgram(QEMU);
  await requireProgram(QEMU_IMG);
});

describe.each(CASES)('QEMU 7.2 runs the planned argv: $name', (c) => {
  let vm: Running;

  beforeAll(async () => {
    vm = await start(c);
  });

  afterAll(async () => {
    await stop(vm);
  });

  it('starts paused (-S) under TCG', async () => {
    expect(await queryStatus(vm.qmp)).toMatchObject({ status: 'prelaunch', running: false });
    expect(await queryKvm(vm.qmp)).toMatchObject({ enabled: false });
  });

  it('attaches every planned disk with its node, format and read-only flag', async () => {
    const blocks = await queryBlock(vm.qmp);
    for (const disk of vm.input.vm.disks.filter((d) => !d.hotpluggable)) {
      const planned = vm.plan.disks[disk.name];
      const block = planned && blockOf(blocks, planned.deviceId);
      expect({ disk: disk.name, node: block?.inserted?.['node-name'], ro: block?.inserted?.ro, drv: block?.inserted?.drv }).toEqual({
        disk: disk.name,
        node: planned?.nodeName,
        ro: disk.readOnly,
        drv: vm.input.disks[disk.name]?.format,
      });
      const cache = block?.inserted?.cache as { direct: boolean } | undefined;
      expect({ disk: disk.name, direct: cache?.direct }).toEqual({ disk: disk.name, direct: disk.cache === 'none' });
    }
  });

  it('creates every root port, spare ones included, and puts each device on its own', async () => {
    const ids = listPciDevices(await queryPci(vm.qmp)).map((d) => d.qdev_id);
    const ports = vm.plan.argv.filter((a) => a.startsWith('pcie-root-port,')).map((a) => /id=([^,]+)/.exec(a)?.[1]);
    expect(ports.filter((p) => p?.startsWith('hotplug'))).toEqual(vm.plan.sparePorts);
    expect(ids).toEqual(expect.arrayContaining(ports));
    for (const disk of Object.values(vm.plan.disks)) {
      if (disk.port && disk.port !== 'port-scsi') expect(await parentBus(vm.qmp, disk.deviceId)).toMatch(new RegExp(`/${disk.port}$`));
    }
    if (vm.plan.scsiBus) expect(await parentBus(vm.qmp, 'scsi0')).toMatch(/\/port-scsi$/);
  });

  it('refuses to unplug a boot disk on its hotplug=off port', async () => {
    const root = vm.plan.disks.root;
    const error = await commandError(deviceDel(vm.qmp, root?.deviceId ?? 'disk-root'));
    expect(error?.desc).toBe(`Bus '${root?.port}' does not support hotplugging`);
    expect(blockOf(await queryBlock(vm.qmp), root?.deviceId ?? '')).toBeDefined();
  });

  it('hotplugs a disk on a spare port, with the same block nodes as a cold-plugged one', async () => {
    const path = join(vm.dir, 'hot.img');
    await createImage(path, 'qcow2');
    const [file, format] = blockNodes({ disk: { name: 'hot', readOnly: false, cache: 'none' }, backing: { path, format: 'qcow2', driver: 'file' } });
    await blockdevAdd(vm.qmp, file);
    await blockdevAdd(vm.qmp, format);
    const port = vm.plan.sparePorts[0] ?? 'hotplug0';
    await deviceAdd(vm.qmp, { driver: 'virtio-blk-pci', id: 'disk-hot', bus: port, drive: format['node-name'] });
    expect(await parentBus(vm.qmp, 'disk-hot')).toMatch(new RegExp(`/${port}$`));
    expect(blockOf(await queryBlock(vm.qmp), 'disk-hot')?.inserted?.['node-name']).toBe('fmt-hot');
  });

  if (c.spec.disks?.some((d) => d.bus === 'sata' && !d.cloudInit)) {
    it('refuses to unplug a SATA disk (AHCI has no hotplug)', async () => {
      const error = await commandError(deviceDel(vm.qmp, 'disk-sata1'));
      expect(error?.desc).toMatch(/^Bus 'ide\.\d' does not support hotplugging$/);
    });

    it('hotplugs a SCSI disk on the controller bus', async () => {
      const path = join(vm.dir, 'hots.img');
      await createImage(path, 'raw');
      const [file, format] = blockNodes({ disk: { name: 'hots', readOnly: false, cache: 'writeback' }, backing: { path, format: 'raw', driver: 'file' } });
      await blockdevAdd(vm.qmp, file);
      await blockdevAdd(vm.qmp, format);
      await deviceAdd(vm.qmp, { driver: 'scsi-hd', id: 'disk-hots', bus: vm.plan.scsiBus ?? '', drive: format['node-name'] });
      expect(blockOf(await queryBlock(vm.qmp), 'disk-hots')).toBeDefined();
    });

    // Pinned quirk: QEMU 7.2 lets any disk on a virtio-scsi bus be unplugged (the controller's
    // hotplug=off does not stop it), so for SCSI boot disks only the launcher can refuse.
    it('QEMU quirk: a cold-plugged SCSI disk CAN be unplugged', async () => {
      await deviceDelAndWait(vm.qmp, 'disk-scsi1', 10_000);
      expect(blockOf(await queryBlock(vm.qmp), 'disk-scsi1')).toBeUndefined();
    });
  }

  it('creates the sockets of the devices it has, and only those', async () => {
    const exists = (p: string | undefined) => (p ? stat(p).then(() => true, () => false) : Promise.resolve(false));
    const { devices } = vm.input.vm;
    expect(await exists(vm.plan.sockets.serial)).toBe(true);
    expect(await exists(vm.plan.sockets.vnc)).toBe(devices.graphics === 'vnc');
    expect(await exists(vm.plan.sockets.guestAgent)).toBe(devices.guestAgent);
    const vnc = await vm.qmp.execute<{ enabled: boolean; family?: string }>('query-vnc');
    expect(vnc.enabled).toBe(devices.graphics === 'vnc');
  });

  it('has the planned CPU topology and memory', async () => {
    const cpus = await vm.qmp.execute<{ props: { 'socket-id': number; 'core-id': number } }[]>('query-cpus-fast');
    const { cpu, memory } = vm.input.vm;
    expect(cpus).toHaveLength(cpu.vcpus);
    expect(new Set(cpus.map((x) => x.props['socket-id'])).size).toBe(cpu.sockets);
    const summary = await vm.qmp.execute<{ 'base-memory': number }>('query-memory-size-summary');
    expect(summary['base-memory']).toBe(memory.guestBytes);
  });

  it('forwards the interface ports from the planned host ports', async () => {
    const usernet = await vm.qmp.execute<string>('human-monitor-command', { 'command-line': 'info usernet' });
    for (const [key, hostPort] of Object.entries(vm.input.hostPorts ?? {})) {
      const [protocol, guestPort] = key.split('/');
      expect(usernet).toMatch(new RegExp(`${protocol}\\[HOST_FORWARD\\]\\s+\\d+\\s+\\*\\s+${hostPort}\\s+10\\.0\\.2\\.15\\s+${guestPort}\\s`));
    }
  });

  if (c.uid) {
    it('gives the guest the VM uid as system UUID', async () => {
      expect(await vm.qmp.execute('query-uuid')).toEqual({ UUID: c.uid });
    });
  }

  if (c.spec.firmware === 'efi') {
    it('maps OVMF code read-only and the per-VM vars writable on pflash', async () => {
      const blocks = await queryBlock(vm.qmp);
      const flash = (n: number) => blocks.find((b) => b.qdev === `/machine/system.flash${n}`)?.inserted;
      expect(flash(0)).toMatchObject({ 'node-name': 'fw-code', ro: true, file: OVMF_CODE });
      expect(flash(1)).toMatchObject({ 'node-name': 'fw-vars', ro: false, file: vm.input.firmware?.vars });
    });
  }

  if (c.bootFirmware) {
    it('firmware numbers every root port and finds each device behind its own', async () => {
      await cont(vm.qmp);
      const expected = vm.plan.argv
        .filter((a) => /^(virtio-[a-z-]+-pci|e1000e),/.test(a))
        .map((a) => [/id=([^,]+)/.exec(a)?.[1], /bus=([^,]+)/.exec(a)?.[1]]);
      const deadline = Date.now() + 60_000;
      let found: string[][] = [];
      while (Date.now() < deadline) {
        const devices = listPciDevices(await queryPci(vm.qmp));
        found = devices.flatMap((port) => (port.pci_bridge?.devices ?? []).map((d) => [d.qdev_id, port.qdev_id]));
        if (found.length >= expected.length) break;
        await sleep(250);
      }
      expect(found.sort()).toEqual(expect.arrayContaining(expected.sort()));
      expect(found.filter(([id]) => id === 'disk-hot')).toHaveLength(1);
    });
  }

  it('quits cleanly', async () => {
    await quit(vm.qmp);
    expect(await vm.exited).toBe(0);
    expect(vm.output()).not.toMatch(/warning|error/i);
  });
});
