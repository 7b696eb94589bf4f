import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QmpClient } from './client.js';
import {
  blockdevAdd,
  blockdevDel,
  cont,
  deviceAdd,
  deviceDel,
  deviceDelAndWait,
  executeAwaitingEvent,
  listPciDevices,
  queryBlock,
  queryKvm,
  queryPci,
  queryStatus,
  quit,
  stop,
  systemPowerdown,
  systemReset,
} from './commands.js';
import type { PciDeviceInfo, PciInfo } from './commands.js';
import { connectQmp } from './connect.js';
import { QmpCommandError } from './errors.js';
import { FakeQmpServer } from '../../test/fakes/qmp-server.js';
import type { FakeQmpConnection, ReceivedCommand } from '../../test/fakes/qmp-server.js';

/** A tiny model of QEMU's state, enough to see that each helper sends what QEMU expects. */
class FakeVm {
  status = 'prelaunch';
  readonly nodes = new Map<string, Record<string, unknown>>();
  readonly devices = new Map<string, Record<string, unknown>>();
  resets = 0;
  powerButtonPresses = 0;

  handle(command: ReceivedCommand, conn: FakeQmpConnection): void {
    const args = command.arguments ?? {};
    switch (command.execute) {
      case 'query-status':
        return conn.reply(command, { status: this.status, singlestep: false, running: this.status === 'running' });
      case 'query-kvm':
        return conn.reply(command, { enabled: false, present: false });
      case 'cont':
        this.status = 'running';
        conn.event('RESUME');
        return conn.reply(command);
      case 'stop':
        this.status = 'paused';
        conn.event('STOP');
        return conn.reply(command);
      case 'system_reset':
        this.resets++;
        return conn.reply(command);
      case 'system_powerdown':
        this.powerButtonPresses++;
        return conn.reply(command);
      case 'quit':
        conn.event('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' });
        return conn.end(); // QEMU may exit before the reply is flushed
      case 'blockdev-add':
        this.nodes.set(String(args['node-name']), args);
        return conn.reply(command);
      case 'blockdev-del':
        if (!this.nodes.delete(String(args['node-name']))) return conn.fail(command, 'GenericError', 'no node');
        return conn.reply(command);
      case 'device_add':
        this.devices.set(String(args.id), args);
        return conn.reply(command);
      case 'device_del':
        return this.deviceDel(command, conn);
      case 'query-block':
        return conn.reply(command, [{ device: '', qdev: 'disk0', removable: false, locked: false }]);
      case 'query-pci':
        return conn.reply(command, [{ bus: 0, devices: [] }]);
      default:
        return conn.fail(command, 'CommandNotFound', `The command ${command.execute} has not been found`);
    }
  }

  private deviceDel(command: ReceivedCommand, conn: FakeQmpConnection): void {
    const id = String(command.arguments?.id);
    if (!this.devices.has(id)) return conn.fail(command, 'DeviceNotFound', `Device '${id}' not found`);
    conn.reply(command);
    // The guest acknowledges the unplug later; QEMU then reports the backend and the device.
    setTimeout(() => {
      this.devices.delete(id);
      conn.event('DEVICE_DELETED', { path: `/machine/peripheral/${id}/virtio-backend` });
      conn.event('DEVICE_DELETED', { device: id, path: `/machine/peripheral/${id}` });
    }, 20);
  }
}

let dir: string;
let server: FakeQmpServer;
let client: QmpClient;
let vm: FakeVm;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-qmp-'));
  vm = new FakeVm();
  server = await FakeQmpServer.start({ path: join(dir, 'qmp.sock'), onCommand: (c, conn) => vm.handle(c, conn) });
  client = await connectQmp(join(dir, 'qmp.sock'), { timeoutMs: 2000 });
});

afterEach(async () => {
  await client.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('lifecycle helpers', () => {
  it('queryStatus and queryKvm return typed results', async () => {
    await expect(queryStatus(client)).resolves.toEqual({ status: 'prelaunch', running: false, singlestep: false });
    await expect(queryKvm(client)).resolves.toEqual({ enabled: false, present: false });
  });

  it('cont and stop change the run state and raise RESUME and STOP', async () => {
    const resumed = client.waitForEvent('RESUME', undefined, 1000);
    await cont(client);
    await resumed;
    expect(await queryStatus(client)).toMatchObject({ status: 'running', running: true });
    const stopped = client.waitForEvent('STOP', undefined, 1000);
    await stop(client);
    await stopped;
    expect(await queryStatus(client)).toMatchObject({ status: 'paused', running: false });
  });

  it('systemReset and systemPowerdown reach the VM', async () => {
    await systemReset(client);
    await systemPowerdown(client);
    expect(vm.resets).toBe(1);
    expect(vm.powerButtonPresses).toBe(1);
  });

  it('quit succeeds even though QEMU hangs up instead of replying', async () => {
    const shutdown = client.waitForEvent('SHUTDOWN', undefined, 1000);
    await quit(client);
    await expect(shutdown).resolves.toMatchObject({ data: { guest: false, reason: 'host-qmp-quit' } });
    expect(client.closed).toBe(true);
  });
});

describe('hotplug helpers', () => {
  it('blockdevAdd and deviceAdd create the node and the device with QEMU argument names', async () => {
    await blockdevAdd(client, {
      'node-name': 'disk1-fmt',
      driver: 'qcow2',
      file: { driver: 'file', filename: '/var/run/kubevmm/disks/disk1.qcow2', 'node-name': 'disk1-file' },
      'read-only': false,
      discard: 'unmap',
    });
    await deviceAdd(client, { driver: 'virtio-blk-pci', id: 'disk1', drive: 'disk1-fmt', bus: 'hotplug1' });
    expect(vm.nodes.get('disk1-fmt')).toMatchObject({ driver: 'qcow2', file: { filename: expect.any(String) } });
    expect(vm.devices.get('disk1')).toEqual({ driver: 'virtio-blk-pci', id: 'disk1', drive: 'disk1-fmt', bus: 'hotplug1' });
  });

  it('deviceDelAndWait resolves only after the matching DEVICE_DELETED', async () => {
    await deviceAdd(client, { driver: 'virtio-blk-pci', id: 'disk1', drive: 'n1' });
    await deviceDelAndWait(client, 'disk1', 1000);
    expect(vm.devices.has('disk1')).toBe(false);
  });

  it('deviceDel only requests removal', async () => {
    await deviceAdd(client, { driver: 'virtio-blk-pci', id: 'disk1', drive: 'n1' });
    await deviceDel(client, 'disk1');
    expect(vm.devices.has('disk1')).toBe(true); // the guest has not acknowledged yet
  });

  it('blockdevDel removes the node and reports QEMU errors', async () => {
    await blockdevAdd(client, { 'node-name': 'n1', driver: 'file', filename: '/dev/null' });
    await blockdevDel(client, 'n1');
    expect(vm.nodes.size).toBe(0);
    await expect(blockdevDel(client, 'n1')).rejects.toBeInstanceOf(QmpCommandError);
  });

  it('executeAwaitingEvent reports the command error and leaves no listener behind', async () => {
    const error = await executeAwaitingEvent(client, {
      command: 'device_del',
      args: { id: 'missing' },
      event: 'DEVICE_DELETED',
      timeoutMs: 1000,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ errorClass: 'DeviceNotFound', command: 'device_del' });
    expect(client.listenerCount('event')).toBe(0);
  });

  it('queryBlock and queryPci return the lists', async () => {
    await expect(queryBlock(client)).resolves.toEqual([
      { device: '', qdev: 'disk0', removable: false, locked: false },
    ]);
    await expect(queryPci(client)).resolves.toEqual([{ bus: 0, devices: [] }]);
  });
});

describe('listPciDevices', () => {
  const device = (qdev_id: string, extra: Partial<PciDeviceInfo> = {}): PciDeviceInfo => ({
    bus: 0,
    slot: 0,
    function: 0,
    class_info: { class: 0 },
    id: { device: 0, vendor: 0x1af4 },
    qdev_id,
    regions: [],
    ...extra,
  });

  it('descends into bridges such as q35 root ports', () => {
    const buses: PciInfo[] = [
      {
        bus: 0,
        devices: [
          device(''),
          device('hotplug1', {
            pci_bridge: { bus: { number: 1, secondary: 1, subordinate: 1 }, devices: [device('disk1', { bus: 1 })] },
          }),
          device('hotplug2', { pci_bridge: { bus: { number: 2, secondary: 2, subordinate: 2 } } }),
        ],
      },
    ];
    expect(listPciDevices(buses).map((d) => d.qdev_id)).toEqual(['', 'hotplug1', 'disk1', 'hotplug2']);
  });
});
