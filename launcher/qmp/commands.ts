// Typed wrappers for the QMP commands the launcher uses. Shapes follow QEMU's QAPI schema
// (qapi/*.json) with QEMU's own wire names, so what is written here is what QEMU reads;
// only fields the launcher looks at are typed. No I/O beyond `execute`.

import type { ExecuteOptions, QmpClient } from './client.js';
import { QmpClosedError } from './errors.js';
import type { QmpEvent, QmpEventData } from './protocol.js';

/** Anything that can run a QMP command (a QmpClient, or a fake in tests). */
export type QmpExecutor = Pick<QmpClient, 'execute'>;
/** A QmpExecutor that also delivers events. */
export type QmpSession = Pick<QmpClient, 'execute' | 'waitForEvent'>;

/** QEMU's RunState. */
export type RunState =
  | 'debug'
  | 'inmigrate'
  | 'internal-error'
  | 'io-error'
  | 'paused'
  | 'postmigrate'
  | 'prelaunch'
  | 'finish-migrate'
  | 'restore-vm'
  | 'running'
  | 'save-vm'
  | 'shutdown'
  | 'suspended'
  | 'watchdog'
  | 'guest-panicked'
  | 'colo';

/** Result of `query-status`. */
export interface StatusInfo {
  running: boolean;
  status: RunState;
  /** Deprecated in QEMU, absent in newer versions. */
  singlestep?: boolean;
}

/** Result of `query-kvm`: `present` = KVM usable on this host, `enabled` = in use by this VM. */
export interface KvmInfo {
  enabled: boolean;
  present: boolean;
}

interface BlockdevCommon {
  /** Required at the top level of `blockdev-add`; optional for nested children. */
  'node-name'?: string;
  'read-only'?: boolean;
  /** Lets QEMU fall back to read-only when the image is not writable (e.g. a ROX PVC). */
  'auto-read-only'?: boolean;
  discard?: 'ignore' | 'unmap';
  cache?: { direct?: boolean; 'no-flush'?: boolean };
  'detect-zeroes'?: 'off' | 'on' | 'unmap';
  'force-share'?: boolean;
}

/** A protocol node reading a file or a block device. */
export interface BlockdevProtocolSpec extends BlockdevCommon {
  driver: 'file' | 'host_device';
  filename: string;
  aio?: 'threads' | 'native' | 'io_uring';
  locking?: 'auto' | 'on' | 'off';
}

/** A format node on top of a protocol node (given inline or by node name). */
export interface BlockdevFormatSpec extends BlockdevCommon {
  driver: 'qcow2' | 'raw';
  file: string | BlockdevSpec;
  /** qcow2 only: backing node, or null for none. */
  backing?: string | BlockdevSpec | null;
}

/** An NBD client node (BlockdevOptionsNbd): a disk served by an attachment pod. */
export interface BlockdevNbdSpec extends BlockdevCommon {
  driver: 'nbd';
  server: { type: 'inet'; host: string; port: string };
  export?: string;
  /** QOM id of a tls-creds object. */
  'tls-creds'?: string;
  /** Seconds requests wait for a lost connection to come back before they fail. */
  'reconnect-delay'?: number;
  /** Seconds blockdev-add keeps retrying the first connection. */
  'open-timeout'?: number;
}

/** A block node definition; extend the union when the launcher needs another driver. */
export type BlockdevSpec = BlockdevProtocolSpec | BlockdevFormatSpec | BlockdevNbdSpec;

/** Arguments of `blockdev-add`: a node spec whose top node is named. */
export type BlockdevAddOptions = BlockdevSpec & { 'node-name': string };

/** Arguments of `device_add`. `id` is required so the device can be removed again. */
export interface DeviceAddOptions {
  driver: string;
  id: string;
  bus?: string;
  addr?: string;
  [property: string]: unknown;
}

/** One entry of `query-block`. */
export interface BlockInfo {
  /** Legacy drive name; empty for devices attached with `-blockdev`/`blockdev-add`. */
  device: string;
  /** QOM path of the front end; for virtio it is `/machine/peripheral/ID/virtio-backend`. */
  qdev?: string;
  removable: boolean;
  locked: boolean;
  tray_open?: boolean;
  'io-status'?: 'ok' | 'failed' | 'nospace';
  inserted?: {
    file: string;
    'node-name'?: string;
    ro: boolean;
    drv: string;
    [field: string]: unknown;
  };
}

/** One PCI function as reported by `query-pci`. */
export interface PciDeviceInfo {
  bus: number;
  slot: number;
  function: number;
  class_info: { class: number; desc?: string };
  id: { device: number; vendor: number; subsystem?: number; 'subsystem-vendor'?: number };
  irq?: number;
  qdev_id: string;
  /** Present on bridges and root ports; devices behind them are nested here. */
  pci_bridge?: { bus: { number: number; secondary: number; subordinate: number }; devices?: PciDeviceInfo[] };
  regions: Array<Record<string, unknown>>;
}

/** One PCI root bus of `query-pci`. */
export interface PciInfo {
  bus: number;
  devices: PciDeviceInfo[];
}

/** `query-status`: the VM's run state. */
export function queryStatus(qmp: QmpExecutor, options?: ExecuteOptions): Promise<StatusInfo> {
  return qmp.execute<StatusInfo>('query-status', undefined, options);
}

/** `query-kvm`: whether the VM really runs on KVM (else TCG, which status must report). */
export function queryKvm(qmp: QmpExecutor, options?: ExecuteOptions): Promise<KvmInfo> {
  return qmp.execute<KvmInfo>('query-kvm', undefined, options);
}

async function run(qmp: QmpExecutor, command: string, options?: ExecuteOptions): Promise<void> {
  await qmp.execute(command, undefined, options);
}

/** `cont`: start (from `-S`) or resume the vCPUs. Emits `RESUME`. */
export function cont(qmp: QmpExecutor, options?: ExecuteOptions): Promise<void> {
  return run(qmp, 'cont', options);
}

/** `stop`: pause the vCPUs. Emits `STOP`. */
export function stop(qmp: QmpExecutor, options?: ExecuteOptions): Promise<void> {
  return run(qmp, 'stop', options);
}

/** `system_powerdown`: press the ACPI power button; the guest decides (watch `SHUTDOWN`). */
export function systemPowerdown(qmp: QmpExecutor, options?: ExecuteOptions): Promise<void> {
  return run(qmp, 'system_powerdown', options);
}

/** `system_reset`: hard reset, like the reset button. Emits `RESET`. */
export function systemReset(qmp: QmpExecutor, options?: ExecuteOptions): Promise<void> {
  return run(qmp, 'system_reset', options);
}

/**
 * `quit`: terminate QEMU at once. QEMU closes the monitor right after replying, so a close
 * that beats the reply is success too.
 */
export async function quit(qmp: QmpExecutor, options?: ExecuteOptions): Promise<void> {
  try {
    await run(qmp, 'quit', options);
  } catch (err) {
    if (!(err instanceof QmpClosedError)) throw err;
  }
}

/** `blockdev-add`: create a block node graph (e.g. qcow2 over file) for a later device. */
export async function blockdevAdd(
  qmp: QmpExecutor,
  spec: BlockdevAddOptions,
  options?: ExecuteOptions,
): Promise<void> {
  await qmp.execute('blockdev-add', spec, options);
}

/** `blockdev-del`: remove a top-level node once no device uses it. */
export async function blockdevDel(qmp: QmpExecutor, nodeName: string, options?: ExecuteOptions): Promise<void> {
  await qmp.execute('blockdev-del', { 'node-name': nodeName }, options);
}

/** Arguments of `object-add`: a QOM type, an id, and the type's own properties. */
export interface ObjectAddOptions {
  'qom-type': string;
  id: string;
  [property: string]: unknown;
}

/** `object-add`: create a user-creatable object (e.g. TLS credentials for NBD). */
export async function objectAdd(qmp: QmpExecutor, object: ObjectAddOptions, options?: ExecuteOptions): Promise<void> {
  await qmp.execute('object-add', object, options);
}

/** `object-del`: remove an object created by `object-add`. */
export async function objectDel(qmp: QmpExecutor, id: string, options?: ExecuteOptions): Promise<void> {
  await qmp.execute('object-del', { id }, options);
}

/** `device_add`: hotplug a device (properties use QEMU's names, e.g. `drive`, `serial`). */
export async function deviceAdd(qmp: QmpExecutor, device: DeviceAddOptions, options?: ExecuteOptions): Promise<void> {
  await qmp.execute('device_add', device, options);
}

/**
 * `device_del`: request removal. For PCI the guest must acknowledge, so the device is gone
 * only at `DEVICE_DELETED`; use {@link deviceDelAndWait} when the caller needs that.
 */
export async function deviceDel(qmp: QmpExecutor, id: string, options?: ExecuteOptions): Promise<void> {
  await qmp.execute('device_del', { id }, options);
}

/** Options of {@link executeAwaitingEvent}. */
export interface ExecuteAwaitingEventOptions<N extends string> {
  command: string;
  args?: object;
  event: N;
  predicate?: (event: QmpEvent<QmpEventData<N>>) => boolean;
  /** Deadline for the event, counted from before the command is sent. */
  timeoutMs: number;
}

/**
 * Run a command and wait for the event it causes. The wait is registered first, because
 * QEMU may send the event before the reply (as it does for `cont` -> `RESUME`).
 */
export async function executeAwaitingEvent<N extends string>(
  qmp: QmpSession,
  options: ExecuteAwaitingEventOptions<N>,
): Promise<QmpEvent<QmpEventData<N>>> {
  const { command, args, event, predicate, timeoutMs } = options;
  const abandon = new AbortController();
  const arrived = qmp.waitForEvent(event, predicate, timeoutMs, abandon.signal);
  try {
    await qmp.execute(command, args, { timeoutMs });
  } catch (err) {
    arrived.catch(() => undefined); // the command's error is the one worth reporting
    abandon.abort(err);
    throw err;
  }
  return arrived;
}

/** `device_del`, then wait for the matching `DEVICE_DELETED`. */
export async function deviceDelAndWait(qmp: QmpSession, id: string, timeoutMs: number): Promise<void> {
  await executeAwaitingEvent(qmp, {
    command: 'device_del',
    args: { id },
    event: 'DEVICE_DELETED',
    predicate: (ev) => ev.data.device === id,
    timeoutMs,
  });
}

/** `query-block`: the block devices and the nodes inserted in them. */
export function queryBlock(qmp: QmpExecutor, options?: ExecuteOptions): Promise<BlockInfo[]> {
  return qmp.execute<BlockInfo[]>('query-block', undefined, options);
}

/** `query-pci`: PCI buses and devices; see {@link listPciDevices} for a flat list. */
export function queryPci(qmp: QmpExecutor, options?: ExecuteOptions): Promise<PciInfo[]> {
  return qmp.execute<PciInfo[]>('query-pci', undefined, options);
}

/**
 * Flatten `query-pci` output. On q35 hotpluggable devices sit behind pcie-root-ports, i.e.
 * nested under a bridge, so a lookup by `qdev_id` must descend. QEMU lists devices behind a
 * port only once firmware has numbered its bus: before the guest boots (`-S`) they are missing.
 */
export function listPciDevices(buses: PciInfo[]): PciDeviceInfo[] {
  const out: PciDeviceInfo[] = [];
  const visit = (devices: PciDeviceInfo[]): void => {
    for (const device of devices) {
      out.push(device);
      visit(device.pci_bridge?.devices ?? []);
    }
  };
  for (const bus of buses) visit(bus.devices);
  return out;
}
