// Disk hotplug over QMP: `blockdev-add` of the same two nodes a cold-plugged disk gets, then
// `device_add` on a spare pcie-root-port (virtio) or the SCSI controller; unplug is the
// reverse, with the guest's consent (`DEVICE_DELETED`) in between. The guest picks its own
// device names, so the reported target is Linux's choice predicted: the lowest free letter.

import type { ResolvedDisk } from '../../api/resolve.js';
import { QmpCommandError, QmpTimeoutError, blockdevAdd, blockdevDel, deviceAdd, deviceDel, type DeviceAddOptions, type QmpEvent, type QmpSession } from '../qmp/index.js';
import { blockNodes, diskDeviceId, type DiskBacking, type QemuPlan } from '../qemu/index.js';
import { driveLetters } from '../qemu/disks.js';
import { inspectDisk, requireWritable } from './disks.js';
import { HotplugError, describeError } from './errors.js';

/** A disk as reported in status.disks. */
export interface DiskStatus {
  name: string;
  phase: 'Pending' | 'Attaching' | 'Attached' | 'Detaching' | 'Failed';
  target?: string;
  message?: string;
}

/** What to attach: a local image file or block device. */
export interface AttachRequest {
  name: string;
  path: string;
  /** Detected from the image's magic bytes when absent. */
  format?: DiskBacking['format'];
  bus?: 'virtio' | 'scsi';
  readOnly?: boolean;
  cache?: ResolvedDisk['cache'];
}

interface Attached {
  status: DiskStatus;
  deviceId: string;
  nodes: { file: string; format: string };
  port?: string;
}

/** Options of {@link DiskHotplug}. */
export interface DiskHotplugOptions {
  qmp: QmpSession;
  plan: Pick<QemuPlan, 'disks' | 'sparePorts' | 'scsiBus'>;
  /** How long the guest gets to release a disk. Default 30 s. */
  detachTimeoutMs?: number;
}

/** Lowest free `<prefix><letters>` name, as Linux assigns them (pure). */
export function nextTarget(prefix: 'vd' | 'sd', taken: Iterable<string | undefined>): string {
  const used = new Set(taken);
  for (let i = 0; ; i++) if (!used.has(`${prefix}${driveLetters(i)}`)) return `${prefix}${driveLetters(i)}`;
}

function isUnplugPending(err: unknown): boolean {
  return err instanceof QmpCommandError && /in the process of unplug|already.*unplug/i.test(err.desc);
}

function isDeviceGone(err: unknown): boolean {
  return err instanceof QmpCommandError && err.errorClass === 'DeviceNotFound';
}

/** Attaches and detaches disks of one running VM and tracks them. */
export class DiskHotplug {
  private readonly attached = new Map<string, Attached>();
  private readonly detaching = new Map<string, Promise<void>>();

  constructor(private readonly options: DiskHotplugOptions) {}

  /** Hotplugged disks with their phase. */
  list(): DiskStatus[] {
    return [...this.attached.values()].map((a) => ({ ...a.status }));
  }

  /** True when `name` was hotplugged (and not yet fully detached). */
  has(name: string): boolean {
    return this.attached.has(name);
  }

  /** Attach a disk; resolves once QEMU has the device (the guest notices a moment later). */
  async attach(request: AttachRequest): Promise<DiskStatus> {
    const { name } = request;
    const bus = request.bus ?? 'virtio';
    const backing = await this.backingFor(request);
    const port = bus === 'virtio' ? this.freePort(name) : undefined;
    const nodes = blockNodes({ disk: { name, readOnly: request.readOnly ?? false, cache: request.cache ?? 'none' }, backing });
    const entry: Attached = {
      status: { name, phase: 'Attaching', target: this.guessTarget(bus) },
      deviceId: diskDeviceId(name),
      nodes: { file: nodes[0]['node-name'], format: nodes[1]['node-name'] },
      ...(port ? { port } : {}),
    };
    const device: DeviceAddOptions = {
      driver: bus === 'virtio' ? 'virtio-blk-pci' : 'scsi-hd',
      id: entry.deviceId,
      bus: port ?? this.scsiBus(name),
      drive: entry.nodes.format,
      serial: name.slice(0, 20),
      // Same policy as cold-plugged disks: pause on I/O errors rather than let the guest see them.
      werror: 'stop',
      rerror: 'stop',
    };
    this.attached.set(name, entry);
    try {
      await this.addToQemu(nodes, device);
    } catch (err) {
      this.attached.delete(name);
      throw new HotplugError({ disk: name, reason: 'AttachFailed', message: `attaching disk ${name} failed: ${describeError(err)}`, cause: err });
    }
    entry.status = { ...entry.status, phase: 'Attached' };
    return { ...entry.status };
  }

  /** Checks before anything is sent to QEMU: a new name, an image that exists and opens. */
  private async backingFor(request: AttachRequest): Promise<DiskBacking> {
    const { name, path } = request;
    if (this.options.plan.disks[name] || this.attached.has(name)) {
      throw new HotplugError({ disk: name, reason: 'DiskExists', kind: 'conflict', message: `disk ${name} is already attached` });
    }
    const inspected = await inspectDisk(name, path);
    if (!request.readOnly) await requireWritable(name, path);
    return { ...inspected, format: request.format ?? inspected.format };
  }

  /** blockdev-add both nodes, then device_add; on failure, remove what was added. */
  private async addToQemu(nodes: ReturnType<typeof blockNodes>, device: DeviceAddOptions): Promise<void> {
    const { qmp } = this.options;
    const added: string[] = [];
    try {
      for (const node of nodes) {
        await blockdevAdd(qmp, node);
        added.push(node['node-name']);
      }
      await deviceAdd(qmp, device);
    } catch (err) {
      for (const node of added.reverse()) await blockdevDel(qmp, node).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Detach a hotplugged disk: the guest must release it within the timeout, else the disk
   * is marked Failed (a later detach or a late release finishes the job).
   */
  detach(name: string): Promise<void> {
    const entry = this.attached.get(name);
    if (!entry) {
      const boot = this.options.plan.disks[name] !== undefined;
      throw new HotplugError({
        disk: name,
        reason: boot ? 'NotHotplugged' : 'DiskNotAttached',
        kind: boot ? 'conflict' : 'not-found',
        message: boot ? `disk ${name} was attached at start and cannot be detached while the vm runs` : `disk ${name} is not attached`,
      });
    }
    if (entry.status.phase === 'Attaching') {
      throw new HotplugError({ disk: name, reason: 'DiskBusy', kind: 'conflict', message: `disk ${name} is still being attached` });
    }
    let running = this.detaching.get(name);
    if (!running) {
      running = this.runDetach(entry).finally(() => this.detaching.delete(name));
      this.detaching.set(name, running);
    }
    return running;
  }

  /** Feed QMP events: a guest that releases a disk after the detach timed out still gets it cleaned up. */
  onEvent(event: QmpEvent): void {
    if (event.event !== 'DEVICE_DELETED') return;
    const entry = [...this.attached.values()].find((a) => a.deviceId === event.data.device);
    if (entry?.status.phase === 'Failed') void this.removeNodes(entry).catch(() => undefined);
  }

  private async runDetach(entry: Attached): Promise<void> {
    const { qmp, detachTimeoutMs = 30_000 } = this.options;
    const name = entry.status.name;
    entry.status = { ...entry.status, phase: 'Detaching', message: undefined };
    // Registered before device_del: QEMU may report the deletion before its reply.
    const abandon = new AbortController();
    const deleted = qmp.waitForEvent('DEVICE_DELETED', (ev) => ev.data.device === entry.deviceId, detachTimeoutMs, abandon.signal);
    deleted.catch(() => undefined);
    try {
      await deviceDel(qmp, entry.deviceId);
    } catch (err) {
      if (isDeviceGone(err)) {
        abandon.abort(err); // released while nobody was waiting
        return this.removeNodes(entry);
      }
      if (!isUnplugPending(err)) {
        abandon.abort(err);
        this.markFailed(entry, 'DetachFailed', `detaching disk ${name} failed: ${describeError(err)}`, err);
      }
      // A repeated detach: the first request is still pending, so keep waiting for the guest.
    }
    try {
      await deleted;
    } catch (err) {
      if (!(err instanceof QmpTimeoutError)) this.markFailed(entry, 'DetachFailed', `detaching disk ${name} failed: ${describeError(err)}`, err);
      const within = detachTimeoutMs >= 1000 ? `${Math.round(detachTimeoutMs / 1000)}s` : `${detachTimeoutMs} ms`;
      this.markFailed(entry, 'DetachTimeout', `guest did not release disk ${name} within ${within}; it stays attached until the guest lets go`, err);
    }
    await this.removeNodes(entry);
  }

  private markFailed(entry: Attached, reason: string, message: string, cause: unknown): never {
    entry.status = { ...entry.status, phase: 'Failed', message };
    throw new HotplugError({ disk: entry.status.name, reason, message, cause });
  }

  private async removeNodes(entry: Attached): Promise<void> {
    try {
      await blockdevDel(this.options.qmp, entry.nodes.format);
      await blockdevDel(this.options.qmp, entry.nodes.file);
    } catch (err) {
      entry.status = { ...entry.status, phase: 'Failed', message: `disk ${entry.status.name} left the guest but its block nodes remain: ${describeError(err)}` };
      throw new HotplugError({ disk: entry.status.name, reason: 'DetachFailed', message: entry.status.message!, cause: err });
    }
    this.attached.delete(entry.status.name);
  }

  private freePort(name: string): string {
    const used = new Set([...this.attached.values()].map((a) => a.port));
    const port = this.options.plan.sparePorts.find((p) => !used.has(p));
    if (port) return port;
    const n = this.options.plan.sparePorts.length;
    throw new HotplugError({ disk: name, reason: 'NoFreeHotplugPort', kind: 'conflict', message: `all ${n} hotplug ports are in use; detach a disk or raise hotplugPorts in the operator config` });
  }

  private scsiBus(name: string): string {
    const bus = this.options.plan.scsiBus;
    if (bus) return bus;
    throw new HotplugError({ disk: name, reason: 'NoScsiController', kind: 'invalid', message: `disk ${name}: the vm has no SCSI controller (no scsi disk at start); use bus virtio` });
  }

  private guessTarget(bus: 'virtio' | 'scsi'): string {
    const prefix = bus === 'virtio' ? 'vd' : 'sd';
    const targets = [...Object.values(this.options.plan.disks).map((d) => d.target), ...[...this.attached.values()].map((a) => a.status.target)];
    return nextTarget(prefix, targets);
  }
}
