// Disk hotplug over QMP: `blockdev-add` of the same two nodes a cold-plugged disk gets (or an
// nbd node under a raw one for a disk an attachment pod exports, ADR 0005), then `device_add`
// on a spare pcie-root-port (virtio) or the SCSI controller; unplug is the reverse, with the
// guest's consent (`DEVICE_DELETED`) in between. The guest picks its own device names, so the
// reported target is Linux's choice predicted: the lowest free letter.

import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AttachRequest, DiskStatus } from '../../api/contract/control.js';
import { LAYOUT, NBD_EXPORT } from '../../api/layout.js';
import { QmpCommandError, QmpTimeoutError, blockdevAdd, blockdevDel, deviceAdd, deviceDel, objectAdd, objectDel, type BlockdevAddOptions, type DeviceAddOptions, type QmpEvent, type QmpSession } from '../qmp/index.js';
import { blockNodes, diskDeviceId, type QemuPlan } from '../qemu/index.js';
import { driveLetters } from '../qemu/disks.js';
import { DEFAULT_NBD_TIMING, NBD_TLS_CREDS_ID, classifyNbdError, describeNbdServer, hasPskKey, nbdNodes, tlsPskClient, type NbdClientTiming, type NbdServer } from '../qemu/nbd.js';
import { inspectDisk, requireWritable } from './disks.js';
import { HotplugError, describeError } from './errors.js';

export type { AttachRequest, DiskStatus };

interface Attached {
  status: DiskStatus;
  deviceId: string;
  nodes: { file: string; format: string };
  port?: string;
  nbd?: NbdServer;
  /** status.message tells of an I/O error (cleared when the VM runs again). */
  ioError?: boolean;
}

/** The launcher's NBD client settings (`launcher run --psk-file --nbd-*`). */
export interface NbdClientOptions extends NbdClientTiming {
  /** The VM's keys.psk; QEMU reads `keys.psk` in its directory. */
  pskFile: string;
}

/** Defaults: the pod layout's key, 10 s to reconnect, 10 s to connect. */
export const DEFAULT_NBD_CLIENT: NbdClientOptions = { pskFile: LAYOUT.pskFile, ...DEFAULT_NBD_TIMING };

/** Options of {@link DiskHotplug}. */
export interface DiskHotplugOptions {
  qmp: QmpSession;
  plan: Pick<QemuPlan, 'disks' | 'sparePorts' | 'scsiBus'>;
  /** How long the guest gets to release a disk. Default 30 s. */
  detachTimeoutMs?: number;
  /** NBD client settings; defaults: {@link DEFAULT_NBD_CLIENT}. */
  nbd?: Partial<NbdClientOptions>;
}

type Nodes = [BlockdevAddOptions, BlockdevAddOptions];

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

/** The error of a failed attach; NBD connection failures get their own reason and a hint. */
function attachError(name: string, nbd: NbdServer | undefined, err: unknown): HotplugError {
  if (err instanceof HotplugError) return err;
  const detail = describeError(err).replace(/\s*\n\s*/g, '; ');
  if (!nbd) return new HotplugError({ disk: name, reason: 'AttachFailed', message: `attaching disk ${name} failed: ${detail}`, cause: err });
  const { reason, hint } = classifyNbdError(detail);
  const message = `attaching disk ${name} from nbd export ${describeNbdServer(nbd)} failed: ${detail}${hint ? `; ${hint}` : ''}`;
  return new HotplugError({ disk: name, reason, message, cause: err });
}

/** Attaches and detaches disks of one running VM and tracks them. */
export class DiskHotplug {
  private readonly attached = new Map<string, Attached>();
  private readonly detaching = new Map<string, Promise<void>>();
  private readonly nbd: NbdClientOptions;
  /** Whether QEMU holds the shared TLS-PSK object; changed only through `tlsQueue`. */
  private tlsPresent = false;
  private tlsQueue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: DiskHotplugOptions) {
    this.nbd = { ...DEFAULT_NBD_CLIENT, ...options.nbd };
  }

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
    const { name, nbd } = request;
    const bus = request.bus ?? 'virtio';
    const nodes = nbd ? await this.nbdNodesFor(request, nbd) : await this.fileNodesFor(request);
    const port = bus === 'virtio' ? this.freePort(name) : undefined;
    const entry: Attached = {
      status: { name, phase: 'Attaching', target: this.guessTarget(bus) },
      deviceId: diskDeviceId(name),
      nodes: { file: nodes[0]['node-name'], format: nodes[1]['node-name'] },
      ...(port ? { port } : {}),
      ...(nbd ? { nbd } : {}),
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
      if (nbd) await this.withTls(() => this.addTlsCreds());
      await this.addToQemu(nodes, device);
    } catch (err) {
      this.attached.delete(name);
      if (nbd) await this.withTls(() => this.dropUnusedTlsCreds()).catch(() => undefined);
      throw attachError(name, nbd, err);
    }
    entry.status = { ...entry.status, phase: 'Attached' };
    return { ...entry.status };
  }

  /** Checks before anything is sent to QEMU: a new name, an image that exists and opens. */
  private async fileNodesFor(request: AttachRequest): Promise<Nodes> {
    const { name, path } = request;
    this.requireNewDisk(request);
    if (!path) throw new HotplugError({ disk: name, reason: 'InvalidRequest', kind: 'invalid', message: `disk ${name}: give either path (a local image) or nbd (an export)` });
    const inspected = await inspectDisk(name, path);
    if (!request.readOnly) await requireWritable(name, path);
    const backing = { ...inspected, format: request.format ?? inspected.format };
    return blockNodes({ disk: { name, readOnly: request.readOnly ?? false, cache: request.cache ?? 'none' }, backing });
  }

  /** Checks for an NBD disk: a new name, one source, and a key QEMU will accept. */
  private async nbdNodesFor(request: AttachRequest, server: NbdServer): Promise<Nodes> {
    const { name } = request;
    this.requireNewDisk(request);
    if (request.path !== undefined || request.format !== undefined) {
      throw new HotplugError({ disk: name, reason: 'InvalidRequest', kind: 'invalid', message: `disk ${name}: nbd goes without path and format (the export serves the guest-visible bytes)` });
    }
    await this.requirePskKey(name);
    return nbdNodes({ disk: { name, readOnly: request.readOnly ?? false }, server, timing: this.nbd });
  }

  private requireNewDisk({ name }: AttachRequest): void {
    if (this.options.plan.disks[name] || this.attached.has(name)) {
      throw new HotplugError({ disk: name, reason: 'DiskExists', kind: 'conflict', message: `disk ${name} is already attached` });
    }
  }

  /** The key file must exist and hold our user's line: QEMU's own errors name neither the fix nor the Secret. */
  private async requirePskKey(disk: string): Promise<void> {
    const file = this.nbd.pskFile;
    let content: string;
    try {
      content = await readFile(file, 'utf8');
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      const message = missing
        ? `disk ${disk}: no TLS-PSK key at ${file} (--psk-file); the VM's Secret must hold keys.psk and be mounted there`
        : `disk ${disk}: cannot read the TLS-PSK key ${file} (--psk-file): ${describeError(err)}`;
      throw new HotplugError({ disk, reason: missing ? 'NbdKeyMissing' : 'NbdKeyUnreadable', kind: 'conflict', message, cause: err });
    }
    if (!hasPskKey(content, NBD_EXPORT.pskUser)) {
      throw new HotplugError({ disk, reason: 'NbdKeyInvalid', kind: 'conflict', message: `disk ${disk}: ${file} has no line "${NBD_EXPORT.pskUser}:<hex key>"; fix the keys.psk key of the VM's Secret` });
    }
  }

  /** Runs TLS object changes one at a time, so an attach never races a removal. */
  private withTls<T>(change: () => Promise<T>): Promise<T> {
    const run = this.tlsQueue.then(change);
    this.tlsQueue = run.catch(() => undefined);
    return run;
  }

  /** One tls-creds-psk object serves every NBD disk; it reads the key when created. */
  private async addTlsCreds(): Promise<void> {
    if (this.tlsPresent) return;
    await objectAdd(this.options.qmp, tlsPskClient(dirname(this.nbd.pskFile)));
    this.tlsPresent = true;
  }

  /** Drop the object once no NBD disk uses it: the next attach then reads a rotated key. */
  private async dropUnusedTlsCreds(): Promise<void> {
    if (!this.tlsPresent || [...this.attached.values()].some((a) => a.nbd)) return;
    await objectDel(this.options.qmp, NBD_TLS_CREDS_ID);
    this.tlsPresent = false;
  }

  /** blockdev-add both nodes, then device_add; on failure, remove what was added. */
  private async addToQemu(nodes: Nodes, device: DeviceAddOptions): Promise<void> {
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

  /**
   * Feed QMP events: a guest that releases a disk after the detach timed out still gets it
   * cleaned up; an I/O error is told in the disk's status until the VM runs again.
   */
  onEvent(event: QmpEvent): void {
    if (event.event === 'BLOCK_IO_ERROR') return this.onIoError(event);
    if (event.event === 'RESUME') return this.clearIoErrors();
    if (event.event !== 'DEVICE_DELETED') return;
    const entry = [...this.attached.values()].find((a) => a.deviceId === event.data.device);
    if (entry?.status.phase === 'Failed') void this.removeNodes(entry).catch(() => undefined);
  }

  /** The disk (cold-plugged or hotplugged) a BLOCK_IO_ERROR is about, by its node name. */
  diskOfEvent(event: QmpEvent): string | undefined {
    if (event.event !== 'BLOCK_IO_ERROR') return undefined;
    const node = event.data['node-name'];
    if (typeof node !== 'string' || !node) return undefined;
    const planned = Object.entries(this.options.plan.disks).find(([, d]) => d.nodeName === node);
    return planned?.[0] ?? this.entryOfNode(node)?.status.name;
  }

  private entryOfNode(node: unknown): Attached | undefined {
    return [...this.attached.values()].find((a) => a.nodes.format === node || a.nodes.file === node);
  }

  private onIoError(event: QmpEvent): void {
    const entry = this.entryOfNode(event.data['node-name']);
    if (!entry || entry.status.phase !== 'Attached') return;
    const { operation = 'i/o', reason = 'unknown', action } = event.data as { operation?: string; reason?: string; action?: string };
    const paused = action === 'stop' ? '; the vm is paused and resumed once the disk answers again' : '';
    const where = entry.nbd ? ` on nbd export ${describeNbdServer(entry.nbd)} (unreachable for over ${this.nbd.reconnectDelaySeconds}s?)` : '';
    entry.status = { ...entry.status, message: `${operation} error: ${reason}${where}${paused}` };
    entry.ioError = true;
  }

  private clearIoErrors(): void {
    for (const entry of this.attached.values()) {
      if (!entry.ioError) continue;
      entry.ioError = false;
      entry.status = { ...entry.status, message: undefined };
    }
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
    // Best effort: a leftover object costs nothing and the next NBD attach reuses it.
    if (entry.nbd) await this.withTls(() => this.dropUnusedTlsCreds()).catch(() => undefined);
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
