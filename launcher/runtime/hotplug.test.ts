import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectQmp, type QmpClient } from '../qmp/index.js';
import { FakeQmpServer, type FakeQmpConnection, type ReceivedCommand } from '../../test/fakes/qmp-server.js';
import { DiskHotplug, nextTarget } from './hotplug.js';

/** QEMU's block layer and qdev as far as hotplug touches them. */
class FakeQemu {
  readonly nodes = new Set<string>();
  readonly devices = new Map<string, Record<string, unknown>>();
  readonly objects = new Set<string>();
  /** The guest releases unplugged devices (else it ignores the request). */
  guestReleases = true;
  failDeviceAdd = false;
  /** QEMU's error for blockdev-add of an nbd node (a refused handshake, say). */
  nbdError: string | undefined;

  handle = (command: ReceivedCommand, conn: FakeQmpConnection): void => {
    const args = command.arguments ?? {};
    switch (command.execute) {
      case 'blockdev-add':
        if (args.driver === 'nbd' && this.nbdError) return conn.fail(command, 'GenericError', this.nbdError);
        if (args.driver === 'nbd' && !this.objects.has(String(args['tls-creds']))) return conn.fail(command, 'GenericError', 'No TLS credentials with id');
        this.nodes.add(String(args['node-name']));
        return conn.reply(command);
      case 'object-add':
        if (this.objects.has(String(args.id))) return conn.fail(command, 'GenericError', `attempt to add duplicate property '${String(args.id)}'`);
        this.objects.add(String(args.id));
        return conn.reply(command);
      case 'object-del':
        if (!this.objects.delete(String(args.id))) return conn.fail(command, 'GenericError', `object '${String(args.id)}' not found`);
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

  describe('over NBD', () => {
    const nbd = { host: '10.0.0.7', port: 10809, export: 'disk' };
    let pskFile: string;
    const sent = () => server.commands.filter((c) => c.execute !== 'qmp_capabilities').map((c) => c.execute);

    beforeEach(async () => {
      pskFile = join(dir, 'keys.psk');
      await writeFile(pskFile, 'kubevmm:00112233445566778899aabbccddeeff\n');
      hotplug = new DiskHotplug({ qmp, plan, detachTimeoutMs: 100, nbd: { pskFile, reconnectDelaySeconds: 7 } });
    });

    it('adds the TLS object once, an nbd node under a raw node, and a virtio-blk device', async () => {
      expect(await hotplug.attach({ name: 'data', nbd })).toEqual({ name: 'data', phase: 'Attached', target: 'vdb' });
      await hotplug.attach({ name: 'more', nbd, readOnly: true });
      expect(sent()).toEqual(['object-add', 'blockdev-add', 'blockdev-add', 'device_add', 'blockdev-add', 'blockdev-add', 'device_add']);
      const [object, protocol, format, device] = server.commands.filter((c) => c.execute !== 'qmp_capabilities').map((c) => c.arguments);
      expect(object).toMatchObject({ 'qom-type': 'tls-creds-psk', id: 'tls-nbd', endpoint: 'client', dir, username: 'kubevmm' });
      expect(protocol).toMatchObject({ driver: 'nbd', 'node-name': 'file-data', server: { type: 'inet', host: '10.0.0.7', port: '10809' }, export: 'disk', 'tls-creds': 'tls-nbd', 'reconnect-delay': 7, 'open-timeout': 10 });
      expect(format).toMatchObject({ driver: 'raw', file: 'file-data', 'node-name': 'fmt-data' });
      expect(device).toEqual({ driver: 'virtio-blk-pci', id: 'disk-data', bus: 'hotplug0', drive: 'fmt-data', serial: 'data', werror: 'stop', rerror: 'stop' });
    });

    it('drops the TLS object with the last NBD disk, not before', async () => {
      await hotplug.attach({ name: 'a', nbd });
      await hotplug.attach({ name: 'b', nbd });
      await hotplug.detach('a');
      expect(qemu.objects.has('tls-nbd')).toBe(true);
      await hotplug.detach('b');
      expect(qemu.objects.size).toBe(0);
      expect(qemu.nodes.size).toBe(0);
      await hotplug.attach({ name: 'c', nbd }); // a fresh object, which reads a rotated key
      expect(qemu.objects.has('tls-nbd')).toBe(true);
    });

    it('refuses a missing or malformed key file before QEMU is asked anything', async () => {
      await rm(pskFile);
      await expect(hotplug.attach({ name: 'data', nbd })).rejects.toMatchObject({ reason: 'NbdKeyMissing', kind: 'conflict', message: expect.stringContaining(pskFile) });
      await writeFile(pskFile, 'qemu:00ff\n');
      await expect(hotplug.attach({ name: 'data', nbd })).rejects.toMatchObject({ reason: 'NbdKeyInvalid', message: expect.stringContaining('kubevmm:<hex key>') });
      expect(sent()).toEqual([]);
      expect(hotplug.list()).toEqual([]);
    });

    it('refuses path and nbd together, and neither', async () => {
      await expect(hotplug.attach({ name: 'data', nbd, path: image })).rejects.toMatchObject({ reason: 'InvalidRequest', kind: 'invalid' });
      await expect(hotplug.attach({ name: 'data', nbd, format: 'qcow2' })).rejects.toMatchObject({ reason: 'InvalidRequest' });
      await expect(hotplug.attach({ name: 'data' })).rejects.toMatchObject({ reason: 'InvalidRequest' });
      expect(sent()).toEqual([]);
    });

    it.each([
      ['TLS handshake failed: The TLS connection was non-properly terminated.', 'NbdTlsFailed', 'same keys.psk'],
      ["Failed to connect to '10.0.0.7:10809': Connection refused", 'NbdUnreachable', 'attachment pod running'],
    ])('a refused connection (%s) is %s, with nothing left in QEMU', async (error, reason, hint) => {
      qemu.nbdError = error;
      const attempt = hotplug.attach({ name: 'data', nbd });
      await expect(attempt).rejects.toMatchObject({ reason, message: expect.stringContaining('from nbd export 10.0.0.7:10809/disk failed') });
      await expect(attempt).rejects.toMatchObject({ message: expect.stringContaining(hint) });
      expect(qemu.nodes.size).toBe(0);
      expect(qemu.objects.size).toBe(0);
      expect(hotplug.list()).toEqual([]);
    });

    it('tells an I/O error in the disk status and names the disk of the node, until the VM runs again', async () => {
      await hotplug.attach({ name: 'data', nbd });
      const event = (name: string, data: Record<string, unknown>) => ({ event: name, data, timestamp: { seconds: 0, microseconds: 0 } });
      const ioError = event('BLOCK_IO_ERROR', { device: '', 'node-name': 'fmt-data', operation: 'write', action: 'stop', reason: 'Input/output error' });
      expect(hotplug.diskOfEvent(ioError)).toBe('data');
      expect(hotplug.diskOfEvent({ ...ioError, data: { ...ioError.data, 'node-name': 'fmt-root' } })).toBe('root');
      expect(hotplug.diskOfEvent(event('STOP', {}))).toBeUndefined();
      hotplug.onEvent(ioError);
      expect(hotplug.list()[0]).toEqual({
        name: 'data',
        phase: 'Attached',
        target: 'vdb',
        message: 'write error: Input/output error on nbd export 10.0.0.7:10809/disk (unreachable for over 7s?); the vm is paused and resumed once the disk answers again',
      });
      hotplug.onEvent(event('RESUME', {}));
      expect(hotplug.list()[0]).toEqual({ name: 'data', phase: 'Attached', target: 'vdb' });
    });
  });
});
