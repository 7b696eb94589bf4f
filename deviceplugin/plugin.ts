/**
 * The device plugin process's core: one health monitor and one gRPC server per resource, each
 * registered with the kubelet. It keeps that true over time: a restarted kubelet deletes the
 * plugin sockets and recreates kubelet.sock, so on any change in the directory (fs.watch) and on
 * a timer the plugin compares what is there with what it registered and, where they differ,
 * restarts the server and registers again.
 */
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { deviceIds, deviceList, resourceSpec, type ResourceShortName, type ResourceSpec } from './catalog.js';
import { HealthMonitor, ownershipWarning, type HealthState } from './health.js';
import { API_VERSION, KUBELET_SOCKET, type Device } from './proto.js';
import { fileIdentity, register } from './registration.js';
import { serialRunner, type SerialRunner } from './serial.js';
import { PLUGIN_OPTIONS, ResourceServer } from './server.js';

/** Settings of the device plugin (see config.ts for where they come from). */
export interface DevicePluginConfig {
  /** The kubelet's device plugin directory: kubelet.sock and the plugin sockets. */
  pluginDir: string;
  /** Where the host's /dev is visible to this process (the chart mounts it at /host/dev). */
  devRoot: string;
  devicesPerResource: number;
  resources: ResourceShortName[];
  /** How often health and the socket directory are checked without an inotify event. */
  checkIntervalMs: number;
  /** Deadline of one Register call. */
  registerTimeoutMs: number;
}

/** One advertised resource and its live parts. */
interface Slot {
  spec: ResourceSpec;
  ids: string[];
  monitor: HealthMonitor;
  server?: ResourceServer;
  /** Identity of our socket file as bound. */
  socket?: string;
  /** Identity of the kubelet.sock the current server was offered to (a new one means a restarted kubelet). */
  servedKubelet?: string;
  /** Identity of the kubelet.sock we registered with. */
  registeredWith?: string;
}

/** The whole plugin: start() once, stop() on SIGTERM. */
export class KubevmmDevicePlugin {
  private readonly slots: Slot[];
  private readonly runner: SerialRunner;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private kubeletMissingLogged = false;

  constructor(
    private readonly config: DevicePluginConfig,
    private readonly log: Logger,
  ) {
    this.slots = config.resources.map((short) => this.slot(resourceSpec(short)));
    this.runner = serialRunner(
      () => this.sync(),
      (err) => this.log.error({ err: String(err) }, 'socket check failed'),
    );
  }

  /** Absolute path of a resource's socket. */
  socketPath(short: ResourceShortName): string {
    return join(this.config.pluginDir, resourceSpec(short).endpoint);
  }

  /** Checks health, serves every resource, registers with the kubelet when it is there, then keeps watching. */
  async start(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.monitor.start()));
    try {
      this.watcher = watch(this.config.pluginDir, { persistent: false }, () => void this.runner.trigger());
    } catch (err) {
      throw new Error(`--plugin-dir ${this.config.pluginDir} cannot be watched (${(err as NodeJS.ErrnoException).code}): set it to the kubelet's device plugin directory (<kubelet root-dir>/device-plugins)`, { cause: err });
    }
    this.watcher.on('error', (err) => this.log.warn({ err: String(err) }, 'plugin directory watch failed; relying on the timer'));
    this.timer = setInterval(() => void this.runner.trigger(), this.config.checkIntervalMs);
    this.timer.unref();
    await this.runner.trigger();
  }

  /** Re-checks the socket directory now; resolves when registration is up to date (as far as the kubelet lets it). */
  resync(): Promise<void> {
    return this.runner.trigger();
  }

  /** Stops watching, ends the servers and removes their sockets. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.watcher?.close();
    await this.runner.trigger();
    for (const slot of this.slots) {
      slot.monitor.stop();
      await slot.server?.stop();
      slot.server = undefined;
    }
  }

  private slot(spec: ResourceSpec): Slot {
    const slot: Slot = {
      spec,
      ids: deviceIds(spec.short, this.config.devicesPerResource),
      monitor: new HealthMonitor({
        path: join(this.config.devRoot, spec.devicePath.replace(/^\/dev\//, '')),
        intervalMs: this.config.checkIntervalMs,
        onChange: (state) => this.healthChanged(slot, state),
      }),
    };
    return slot;
  }

  private devices(slot: Slot): Device[] {
    return deviceList(slot.ids, slot.monitor.state?.healthy ? 'Healthy' : 'Unhealthy');
  }

  private healthChanged(slot: Slot, state: HealthState): void {
    const fields = { resource: slot.spec.resourceName, node: slot.spec.devicePath, reason: state.reason, devices: slot.ids.length };
    if (state.healthy) this.log.info(fields, 'device node usable: devices advertised as Healthy');
    else this.log.warn(fields, 'device node unusable: devices advertised as Unhealthy');
    const warning = ownershipWarning(state);
    if (warning) this.log.warn({ resource: slot.spec.resourceName, node: slot.spec.devicePath }, warning);
    slot.server?.publish();
  }

  private async sync(): Promise<void> {
    if (this.stopped) return;
    const kubelet = await fileIdentity(join(this.config.pluginDir, KUBELET_SOCKET));
    if (!kubelet) {
      if (!this.kubeletMissingLogged) this.log.warn({ pluginDir: this.config.pluginDir }, `no ${KUBELET_SOCKET} yet: waiting for the kubelet`);
      this.kubeletMissingLogged = true;
      for (const slot of this.slots) slot.registeredWith = undefined;
    } else this.kubeletMissingLogged = false;
    for (const slot of this.slots) {
      if (this.stopped) return;
      await this.syncSlot(slot, kubelet);
    }
  }

  private async syncSlot(slot: Slot, kubelet: string | undefined): Promise<void> {
    const socketPath = join(this.config.pluginDir, slot.spec.endpoint);
    const kubeletRestarted = kubelet !== undefined && slot.servedKubelet !== undefined && slot.servedKubelet !== kubelet;
    if (!slot.server || (await fileIdentity(socketPath)) !== slot.socket || kubeletRestarted) {
      await slot.server?.stop();
      const server = new ResourceServer({ resource: slot.spec, socketPath, ids: new Set(slot.ids), devices: () => this.devices(slot), log: this.log });
      await server.start();
      slot.server = server;
      slot.socket = await fileIdentity(socketPath);
      slot.registeredWith = undefined;
    }
    if (kubelet === undefined || slot.registeredWith === kubelet) return;
    slot.servedKubelet = kubelet;
    const request = { version: API_VERSION, endpoint: slot.spec.endpoint, resource_name: slot.spec.resourceName, options: PLUGIN_OPTIONS };
    try {
      await register(join(this.config.pluginDir, KUBELET_SOCKET), request, this.config.registerTimeoutMs);
      slot.registeredWith = kubelet;
      this.log.info({ resource: slot.spec.resourceName, endpoint: socketPath, health: slot.monitor.state }, 'registered with the kubelet');
    } catch (err) {
      this.log.warn({ resource: slot.spec.resourceName, err: String(err) }, 'registration failed; retrying on the next check');
    }
  }
}
