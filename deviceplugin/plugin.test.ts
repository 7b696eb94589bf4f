/**
 * The device plugin against a fake kubelet: real gRPC over real unix sockets in a temporary
 * directory, with temporary files standing in for /dev/kvm and /dev/net/tun.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { FakeKubelet, type PluginClient } from '../test/fakes/kubelet.js';
import { KubevmmDevicePlugin, type DevicePluginConfig } from './plugin.js';
import type { ListAndWatchResponse } from './proto.js';

interface LogLine {
  level: number;
  msg: string;
  resource?: string;
  reason?: string;
}

interface World {
  root: string;
  pluginDir: string;
  devRoot: string;
  kubelet: FakeKubelet;
  plugin: KubevmmDevicePlugin;
  logs: LogLine[];
  clients: PluginClient[];
}

const worlds: World[] = [];

// Real sockets and gRPC servers: on two busy cores a test can take longer than jest's 5 s default.
jest.setTimeout(30_000);

/** A plugin dir with a fake kubelet (unless told otherwise) and a dev root with kvm and net/tun. */
async function world(config: Partial<DevicePluginConfig> = {}, opts: { kubelet?: boolean; devices?: string[] } = {}): Promise<World> {
  const root = await mkdtemp(join(tmpdir(), 'kubevmm-dp-'));
  const pluginDir = join(root, 'plugins');
  const devRoot = join(root, 'dev');
  await mkdir(pluginDir);
  await mkdir(join(devRoot, 'net'), { recursive: true });
  for (const node of opts.devices ?? ['kvm', 'net/tun']) await writeFile(join(devRoot, node), '');
  const kubelet = new FakeKubelet(pluginDir);
  if (opts.kubelet ?? true) await kubelet.start();
  const logs: LogLine[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const plugin = new KubevmmDevicePlugin(
    {
      pluginDir,
      devRoot,
      devicesPerResource: 3,
      resources: ['kvm', 'tun', 'vhost-net'],
      // Long: these tests see changes through fs.watch, not the timer (one test sets it short).
      checkIntervalMs: 60_000,
      registerTimeoutMs: 5_000,
      ...config,
    },
    log,
  );
  const w = { root, pluginDir, devRoot, kubelet, plugin, logs, clients: [] };
  worlds.push(w);
  return w;
}

function dial(w: World, endpoint: string): PluginClient {
  const client = w.kubelet.dial(endpoint);
  w.clients.push(client);
  return client;
}

/** A ListAndWatch message without the unset topology field proto-loader fills in. */
const plain = (m: ListAndWatchResponse | null) => m && { devices: m.devices.map(({ ID, health }) => ({ ID, health })) };

const allHealth = (health: string) => (m: ListAndWatchResponse | null) => m !== null && m.devices.every((d) => d.health === health);

afterEach(async () => {
  for (const w of worlds.splice(0)) {
    w.clients.forEach((c) => c.close());
    await w.plugin.stop();
    w.kubelet.stop();
    await rm(w.root, { recursive: true, force: true });
  }
});

describe('registration', () => {
  it('registers every resource with its name, API version v1beta1 and its socket as endpoint', async () => {
    const w = await world();
    await w.plugin.start();
    const got = [await w.kubelet.registrations.next(), await w.kubelet.registrations.next(), await w.kubelet.registrations.next()];
    expect(got.map((r) => [r.resource_name, r.version, r.endpoint]).sort()).toEqual([
      ['devices.kubevmm.io/kvm', 'v1beta1', 'kubevmm-kvm.sock'],
      ['devices.kubevmm.io/tun', 'v1beta1', 'kubevmm-tun.sock'],
      ['devices.kubevmm.io/vhost-net', 'v1beta1', 'kubevmm-vhost-net.sock'],
    ]);
    expect(got[0]?.options).toEqual({ pre_start_required: false, get_preferred_allocation_available: false });
    for (const r of got) expect(existsSync(join(w.pluginDir, r.endpoint))).toBe(true);
  });

  it('advertises only the resources asked for', async () => {
    const w = await world({ resources: ['kvm'] });
    await w.plugin.start();
    expect((await w.kubelet.registrations.next()).resource_name).toBe('devices.kubevmm.io/kvm');
    expect(existsSync(join(w.pluginDir, 'kubevmm-tun.sock'))).toBe(false);
  });

  it('waits for a kubelet that is not there yet and registers when kubelet.sock appears', async () => {
    const w = await world({}, { kubelet: false });
    await w.plugin.start();
    expect(w.logs.some((l) => l.msg.includes('waiting for the kubelet'))).toBe(true);
    await w.kubelet.start();
    expect((await w.kubelet.registrations.next((r) => r.resource_name === 'devices.kubevmm.io/kvm')).endpoint).toBe('kubevmm-kvm.sock');
  });

  it('registers again after a kubelet restart, and serves on the new sockets', async () => {
    const w = await world({}, { devices: ['kvm'] });
    await w.plugin.start();
    await w.kubelet.registrations.next((r) => r.resource_name === 'devices.kubevmm.io/kvm');
    const before = dial(w, 'kubevmm-kvm.sock').listAndWatch();
    expect(await before.inbox.next()).not.toBeNull();

    await w.kubelet.restart();
    const again = await w.kubelet.registrations.next((r) => r.resource_name === 'devices.kubevmm.io/kvm');
    expect(again).toMatchObject({ version: 'v1beta1', endpoint: 'kubevmm-kvm.sock' });
    // The old stream belonged to the old kubelet: it ends.
    expect(await before.inbox.next((m) => m === null)).toBeNull();
    const after = dial(w, 'kubevmm-kvm.sock').listAndWatch();
    expect(plain(await after.inbox.next())).toEqual({ devices: ['kvm-0', 'kvm-1', 'kvm-2'].map((ID) => ({ ID, health: 'Healthy' })) });
    after.cancel();
  });

  it('recreates its own socket when something deletes it', async () => {
    const w = await world({ resources: ['tun'] });
    await w.plugin.start();
    await w.kubelet.registrations.next();
    await rm(join(w.pluginDir, 'kubevmm-tun.sock'));
    expect((await w.kubelet.registrations.next()).resource_name).toBe('devices.kubevmm.io/tun');
    expect(await dial(w, 'kubevmm-tun.sock').options()).toEqual({ pre_start_required: false, get_preferred_allocation_available: false });
  });

  it('removes its sockets on stop and ends the ListAndWatch streams', async () => {
    const w = await world();
    await w.plugin.start();
    const watch = dial(w, 'kubevmm-kvm.sock').listAndWatch();
    expect(await watch.inbox.next()).not.toBeNull();
    await w.plugin.stop();
    expect(await watch.inbox.next((m) => m === null)).toBeNull();
    for (const sock of ['kubevmm-kvm.sock', 'kubevmm-tun.sock', 'kubevmm-vhost-net.sock']) expect(existsSync(join(w.pluginDir, sock))).toBe(false);
    expect(existsSync(join(w.pluginDir, 'kubelet.sock'))).toBe(true);
  });

  it('refuses a plugin directory that does not exist, naming the flag', async () => {
    const w = await world();
    const plugin = new KubevmmDevicePlugin(
      { pluginDir: join(w.root, 'nope'), devRoot: w.devRoot, devicesPerResource: 1, resources: ['kvm'], checkIntervalMs: 60_000, registerTimeoutMs: 1000 },
      pino({ level: 'silent' }),
    );
    await expect(plugin.start()).rejects.toThrow(/--plugin-dir .*nope cannot be watched \(ENOENT\)/);
    await plugin.stop();
  });
});

describe('ListAndWatch', () => {
  it('streams N healthy devices, Unhealthy when the node disappears, and Healthy again when it is back', async () => {
    const w = await world();
    await w.plugin.start();
    const watch = dial(w, 'kubevmm-kvm.sock').listAndWatch();
    expect(plain(await watch.inbox.next())).toEqual({
      devices: [
        { ID: 'kvm-0', health: 'Healthy' },
        { ID: 'kvm-1', health: 'Healthy' },
        { ID: 'kvm-2', health: 'Healthy' },
      ],
    });
    await rm(join(w.devRoot, 'kvm'));
    expect((await watch.inbox.next(allHealth('Unhealthy')))?.devices).toHaveLength(3);
    await writeFile(join(w.devRoot, 'kvm'), '');
    expect((await watch.inbox.next(allHealth('Healthy')))?.devices).toHaveLength(3);
    watch.cancel();
  });

  it('advertises a resource whose node is missing as Unhealthy and says why in the log', async () => {
    const w = await world();
    await w.plugin.start();
    const watch = dial(w, 'kubevmm-vhost-net.sock').listAndWatch();
    expect(plain(await watch.inbox.next())).toEqual({ devices: ['vhost-net-0', 'vhost-net-1', 'vhost-net-2'].map((ID) => ({ ID, health: 'Unhealthy' })) });
    const line = w.logs.find((l) => l.resource === 'devices.kubevmm.io/vhost-net');
    expect(line).toMatchObject({ level: 40, msg: expect.stringContaining('Unhealthy'), reason: expect.stringContaining('does not exist') });
    watch.cancel();
  });

  it('notices a node whose directory appears later (no watch possible: the timer finds it)', async () => {
    const w = await world({ resources: ['tun'], checkIntervalMs: 50 }, { devices: [] });
    await rm(join(w.devRoot, 'net'), { recursive: true });
    await w.plugin.start();
    const watch = dial(w, 'kubevmm-tun.sock').listAndWatch();
    expect(plain(await watch.inbox.next())?.devices[0]).toEqual({ ID: 'tun-0', health: 'Unhealthy' });
    await mkdir(join(w.devRoot, 'net'));
    await writeFile(join(w.devRoot, 'net', 'tun'), '');
    expect((await watch.inbox.next(allHealth('Healthy')))?.devices).toHaveLength(3);
    watch.cancel();
  });
});

describe('Allocate', () => {
  it('hands out the host node at the same path, read-write, once per container', async () => {
    const w = await world();
    await w.plugin.start();
    const kvm = dial(w, 'kubevmm-kvm.sock');
    const response = await kvm.allocate({ container_requests: [{ devices_ids: ['kvm-1'] }, { devices_ids: ['kvm-0', 'kvm-2'] }] });
    const spec = { container_path: '/dev/kvm', host_path: '/dev/kvm', permissions: 'rw' };
    expect(response.container_responses.map((c) => c.devices)).toEqual([[spec], [spec]]);
    const tun = await dial(w, 'kubevmm-tun.sock').allocate({ container_requests: [{ devices_ids: ['tun-0'] }] });
    expect(tun.container_responses[0]?.devices).toEqual([{ container_path: '/dev/net/tun', host_path: '/dev/net/tun', permissions: 'rw' }]);
  });

  it('refuses device IDs it never advertised', async () => {
    const w = await world();
    await w.plugin.start();
    const kvm = dial(w, 'kubevmm-kvm.sock');
    await expect(kvm.allocate({ container_requests: [{ devices_ids: ['kvm-7'] }] })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining('unknown device IDs kvm-7'),
    });
  });
});
