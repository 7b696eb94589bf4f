import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectQmp, type QmpClient } from '../qmp/index.js';
import { FakeQmpServer, type FakeQmpConnection, type ReceivedCommand } from '../qmp/fake-server.js';
import { DiskHotplug, nextTarget } from './hotplug.js';

/** QEMU's block layer and qdev as far as hotplug touches them. */
class FakeQemu {
  readonly nodes = new Set<string>();
  readonly devices = new Map<string, Record<string, unknown>>();
  /** The guest releases unplugged devices (else it ignores the request). */
  guestReleases = true;
  failDeviceAdd = false;

  handle = (command: ReceivedCommand, conn: FakeQmpConnection): void => {
    const args = command.arguments ?? {};
    switch (command.execute) {
      case 'blockdev-add':
        this.nodes.add(String(args['node-name']));
        return conn.reply(command);
      case 'blockdev-del':
        if (!this.nodes.delete(String(args['node-name']))) return conn.fail(command, 'GenericError', 'Failed to find node');
        return conn.reply(command);
      case 'device_add':
        if (this.failDeviceAdd) return conn.fail(command, 'GenericError', "Bus 'hotplug0' does not support hotplugging");
        this.devices.set(String(args.id), args);
        return conn.reply(command);
      case 'device_del': {
        const id = String(args.id);
        if (!this.devices.has(id)) return conn.fail(command, 'DeviceNotFound', `Device '${id}' not found`);
        conn.reply(command);
        if (this.guestReleases) this.release(conn, id);
        return;
      }
      default:
        return conn.reply(command);
    }
  };

  release(conn: FakeQmpConnection, id: string): void {
    this.devices.delete(id);
    conn.event('DEVICE_DELETED', { path: `/machine/peripheral/${id}/virtio-backend` });
    conn.event('DEVICE_DELETED', { device: id, path: `/machine/peripheral/${id}` });
  }
}

describe('DiskHotplug', () => {
  let dir: string;
  let server: FakeQmpServer;
  let qemu: FakeQemu;
  let qmp: QmpClient;
  let image: string;
  const plan = {
    disks: { root: { deviceId: 'disk-root', nodeName: 'fmt-root', target: 'vda', port: 'port-disk-root' } },
    sparePorts: ['hotplug0', 'hotplug1'],
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hotplug-'));
    qemu = new FakeQemu();
    server = await FakeQmpServer.start({ path: join(dir, 'qmp.sock'), onCommand: qemu.handle });
    qmp = await connectQmp(join(dir, 'qmp.sock'));
    qmp.on('event', (event) => hotplug.onEvent(event));
    image = join(dir, 'data.img');
    await writeFile(image, Buffer.alloc(4096));
    hotplug = new DiskHotplug({ qmp, plan, detachTimeoutMs: 100 });
  });
  let hotplug: DiskHotplug;
  afterEach(async () => {
    await qmp.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('adds protocol and format nodes, then a virtio-blk device on a spare port', async () => {
    expect(await hotplug.attach({ name: 'data', path: image })).toEqual({ name: 'data', phase: 'Attached', target: 'vdb' });
    const sent = server.commands.filter((c) => c.execute !== 'qmp_capabilities');
    expect(sent.map((c) => [c.execute, c.arguments?.['node-name'] ?? c.arguments?.id])).toEqual([
      ['blockdev-add', 'file-data'],
      ['blockdev-add', 'fmt-data'],
      ['device_add', 'disk-data'],
    ]);
    expect(sent[0]!.arguments).toMatchObject({ driver: 'file', filename: image, 'read-only': false });
    expect(sent[1]!.arguments).toMatchObject({ driver: 'raw', file: 'file-data' });
    expect(sent[2]!.arguments).toEqual({ driver: 'virtio-blk-pci', id: 'disk-data', bus: 'hotplug0', drive: 'fmt-data', serial: 'data', werror: 'stop', rerror: 'stop' });
    expect(await hotplug.attach({ name: 'more', path: image, readOnly: true })).toMatchObject({ target: 'vdc' });
    expect(qemu.devices.get('disk-more')).toMatchObject({ bus: 'hotplug1' });
  });

  it('refuses duplicates, a full port list, missing images and SCSI without a controller', async () => {
    await expect(hotplug.attach({ name: 'root', path: image })).rejects.toMatchObject({ reason: 'DiskExists', kind: 'conflict' });
    await expect(hotplug.attach({ name: 'x', path: join(dir, 'missing.img') })).rejects.toMatchObject({ reason: 'DiskNotFound', kind: 'invalid' });
    await expect(hotplug.attach({ name: 'x', path: image, bus: 'scsi' })).rejects.toMatchObject({ reason: 'NoScsiController' });
    await hotplug.attach({ name: 'a', path: image });
    await hotplug.attach({ name: 'b', path: image });
    await expect(hotplug.attach({ name: 'c', path: image })).rejects.toMatchObject({ reason: 'NoFreeHotplugPort', message: expect.stringContaining('hotplugPorts') });
    expect(qemu.nodes.size).toBe(4);
  });

  it('rolls back the nodes when device_add fails', async () => {
    qemu.failDeviceAdd = true;
    await expect(hotplug.attach({ name: 'data', path: image })).rejects.toMatchObject({ reason: 'AttachFailed', message: expect.stringContaining('does not support hotplugging') });
    expect(qemu.nodes.size).toBe(0);
    expect(hotplug.list()).toEqual([]);
  });

  it('detaches: device_del, DEVICE_DELETED, then both nodes; the port is free again', async () => {
    await hotplug.attach({ name: 'data', path: image });
    await hotplug.detach('data');
    expect(qemu.devices.size).toBe(0);
    expect(qemu.nodes.size).toBe(0);
    expect(hotplug.list()).toEqual([]);
    expect(server.commands.slice(-3).map((c) => c.execute)).toEqual(['device_del', 'blockdev-del', 'blockdev-del']);
    await hotplug.attach({ name: 'again', path: image });
    expect(qemu.devices.get('disk-again')).toMatchObject({ bus: 'hotplug0' });
  });

  it('refuses to detach a boot disk or an unknown one', async () => {
    expect(() => hotplug.detach('root')).toThrow(expect.objectContaining({ reason: 'NotHotplugged', kind: 'conflict' }));
    expect(() => hotplug.detach('nope')).toThrow(expect.objectContaining({ reason: 'DiskNotAttached', kind: 'not-found' }));
  });

  it('marks the disk Failed when the guest does not release it, and cleans up on a late release', async () => {
    await hotplug.attach({ name: 'data', path: image });
    qemu.guestReleases = false;
    await expect(hotplug.detach('data')).rejects.toMatchObject({ reason: 'DetachTimeout', message: 'guest did not release disk data within 100 ms; it stays attached until the guest lets go' });
    expect(hotplug.list()).toEqual([expect.objectContaining({ name: 'data', phase: 'Failed' })]);
    qemu.release(server.connection, 'disk-data'); // the guest lets go after all
    for (let i = 0; i < 50 && hotplug.has('data'); i++) await new Promise((r) => setTimeout(r, 5));
    expect(hotplug.list()).toEqual([]);
    expect(qemu.nodes.size).toBe(0);
  });

  it('predicts Linux names: the lowest free letter', () => {
    expect(nextTarget('vd', ['vda', 'vdc'])).toBe('vdb');
    expect(nextTarget('sd', [])).toBe('sda');
    expect(nextTarget('vd', Array.from({ length: 26 }, (_, i) => `vd${String.fromCharCode(97 + i)}`))).toBe('vdaa');
  });
});
