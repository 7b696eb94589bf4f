/**
 * The launcher control API's contract (launcher/control/README.md): what a client sends and
 * what the launcher answers. The launcher parses requests with these schemas and builds its
 * answers from their types; the operator (and any other client) parses the answers with
 * them. One definition, so the two ends cannot drift apart silently: a mismatch is a
 * ControlContractError naming the field, never a crash.
 */
import { z } from 'zod';
import { NBD_EXPORT } from '../layout.js';
import { dnsLabel } from '../schema/common.js';
import { diskPhase } from '../schema/vm.js';

/** The launcher's lifecycle state of its VM. */
export const vmPhase = z.enum(['starting', 'running', 'paused', 'stopping', 'succeeded', 'failed']);

/** The accelerator QEMU actually uses (query-kvm), not the one asked for. */
export const accelerator = z.enum(['kvm', 'tcg']);

/** An attachment pod's NBD export (ADR 0005); port and export default to NBD_EXPORT's. */
export const nbdSource = z.strictObject({
  host: z.string().min(1).max(253).regex(/^[A-Za-z0-9._:-]+$/, 'host must be a DNS name or an IP address'),
  port: z.number().int().min(1).max(65535).default(NBD_EXPORT.port),
  export: z.string().min(1).max(256).default(NBD_EXPORT.name),
});

/** Body of POST /disks: exactly one of `path` (a local image) and `nbd` (an export). */
export const attachRequest = z
  .strictObject({
    name: dnsLabel,
    path: z.string().min(1).startsWith('/', 'path must be absolute').optional(),
    nbd: nbdSource.optional(),
    format: z.enum(['raw', 'qcow2']).optional(),
    bus: z.enum(['virtio', 'scsi']).optional(),
    readOnly: z.boolean().optional(),
    cache: z.enum(['none', 'writethrough', 'writeback']).optional(),
  })
  .superRefine((body, ctx) => {
    if ((body.path === undefined) === (body.nbd === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['path'], message: 'give exactly one of path (a local image) and nbd ({host, port, export} of an export)' });
    }
    if (body.nbd && body.format) ctx.addIssue({ code: 'custom', path: ['format'], message: 'not with nbd: the export serves the guest-visible bytes; drop format' });
  });

/** A disk as the launcher reports it (GET /status `disks`, POST /disks). */
export const diskStatus = z.object({
  name: z.string(),
  phase: diskPhase,
  target: z.string().optional(),
  message: z.string().optional(),
});

/** What the guest agent told the launcher. */
export const guestInfo = z.object({
  agentConnected: z.boolean(),
  hostname: z.string().optional(),
  osName: z.string().optional(),
  kernel: z.string().optional(),
  interfaces: z.array(z.object({ name: z.string(), macAddress: z.string().optional(), ipAddresses: z.array(z.string()) })).optional(),
});

/**
 * The launcher's report on its VM (GET /status, and the answer of pause, resume, reset,
 * shutdown and detach). Not the VirtualMachine's status: the operator builds that from this
 * and the pod. Unknown fields are ignored, so a newer launcher may add some.
 */
export const launcherStatus = z.object({
  state: vmPhase,
  reason: z.string().optional(),
  message: z.string().optional(),
  accelerator,
  /** When QEMU was started (RFC 3339). */
  startedAt: z.string(),
  disks: z.array(diskStatus),
  /** Present when the VM has a guest agent channel. */
  guest: guestInfo.optional(),
});

/**
 * The interactive console (`GET /console` with `Connection: Upgrade`): after `101 Switching
 * Protocols` the TLS stream carries the serial bytes both ways (ADR 0011). The answer's
 * {@link CONSOLE_MODE_HEADER} says whether this session types or is a read-only mirror of
 * another one.
 */
/**
 * How long a launcher waits for the guest to accept a port-forward connection before it answers
 * 504 GuestPortTimeout. Whoever dials the launcher must wait clearly longer, or it gives up
 * first and reports the launcher unreachable instead of the guest port silent.
 */
export const PORT_FORWARD_CONNECT_TIMEOUT_MS = 10_000;

export const CONSOLE_UPGRADE = 'kubevmm-console';
export const CONSOLE_MODE_HEADER = 'kubevmm-console-mode';
export const consoleMode = z.enum(['interactive', 'read-only']);
export type ConsoleMode = z.infer<typeof consoleMode>;

/**
 * The VM's display (`GET /vnc`, `Upgrade: kubevmm-vnc`): after `101 Switching Protocols` the TLS
 * stream is QEMU's RFB server, byte for byte. `409 NoDisplay` when the VM has no VNC display.
 */
export const VNC_UPGRADE = 'kubevmm-vnc';
/**
 * A guest TCP port (`GET /portforward?port=N`, `Upgrade: kubevmm-portforward`): after `101
 * Switching Protocols` the TLS stream is one TCP connection to that port of the guest.
 */
export const PORTFORWARD_UPGRADE = 'kubevmm-portforward';

/** Every stream the control API upgrades to, by its path. */
export const STREAM_UPGRADES = { '/console': CONSOLE_UPGRADE, '/vnc': VNC_UPGRADE, '/portforward': PORTFORWARD_UPGRADE } as const;

/** Query of `GET /portforward`. */
export const portForwardTarget = z.strictObject({
  port: z.coerce.number().int().min(1, 'port must be 1-65535').max(65535, 'port must be 1-65535'),
});

/** One disk's I/O counters since QEMU opened it. */
export const diskIoReport = z.object({
  name: z.string(),
  readBytes: z.number(),
  writeBytes: z.number(),
  readOps: z.number(),
  writeOps: z.number(),
  flushOps: z.number(),
});

/**
 * The VM's own numbers (`GET /vm-metrics`, client certificate required), what the
 * `virtualmachines/metrics` subresource answers: the same sources as `/metrics`, as JSON, for
 * charts that sample it every few seconds. A source that failed is absent and named in `failed`.
 */
export const vmMetricsReport = z.object({
  /** When the numbers were read (RFC 3339). */
  time: z.string(),
  state: vmPhase,
  cpu: z.object({
    /** CPU seconds of the whole QEMU process. */
    qemuSeconds: z.number().optional(),
    vcpus: z.array(z.object({ vcpu: z.number().int(), seconds: z.number() })).optional(),
  }),
  memory: z.object({
    /** The guest's RAM as configured. */
    guestBytes: z.number().optional(),
    /** QEMU's resident set. */
    residentBytes: z.number().optional(),
    /** What the balloon leaves the guest. */
    balloonBytes: z.number().optional(),
  }),
  disks: z.array(diskIoReport).optional(),
  failed: z.array(z.string()),
});

export type DiskIoReport = z.infer<typeof diskIoReport>;
export type VmMetricsReport = z.infer<typeof vmMetricsReport>;

/** The control API's clients, by the common name of their certificate from the launcher CA (ADR 0009, 0011). */
export const CONTROL_CLIENTS = { operator: 'kubevmm-operator', subresources: 'kubevmm-subresources' } as const;

/**
 * What each client may call, as `METHOD /path`: the operator everything; the subresource
 * server only the streams and the metrics report it serves users (ADR 0011 section 1), so its
 * certificate, held in the pod most exposed to users, cannot stop, reset or attach to a VM.
 * A client not listed may call nothing.
 */
const CONTROL_CLIENT_RIGHTS: Readonly<Record<string, 'all' | readonly string[]>> = {
  [CONTROL_CLIENTS.operator]: 'all',
  [CONTROL_CLIENTS.subresources]: ['GET /console', 'GET /vnc', 'GET /portforward', 'GET /vm-metrics'],
};

/** Whether the client with certificate common name `client` may call `method path`. */
export function controlClientMay(client: string, method: string, path: string): boolean {
  const rights = Object.hasOwn(CONTROL_CLIENT_RIGHTS, client) ? CONTROL_CLIENT_RIGHTS[client] : undefined;
  return rights === 'all' || (rights ?? []).includes(`${method.toUpperCase()} ${path}`);
}

/** Every error answer: a stable CamelCase reason and a sentence. */
export const controlError = z.object({ reason: z.string().min(1), message: z.string() });

export type VmPhase = z.infer<typeof vmPhase>;
export type Accelerator = z.infer<typeof accelerator>;
export type NbdSource = z.output<typeof nbdSource>;
/** An attach request with its defaults applied (what the launcher acts on; clients may omit defaulted fields). */
export type AttachRequest = z.output<typeof attachRequest>;
export type DiskStatus = z.infer<typeof diskStatus>;
export type GuestInfo = z.infer<typeof guestInfo>;
export type LauncherStatus = z.infer<typeof launcherStatus>;
export type ControlError = z.infer<typeof controlError>;

/** One line per zod issue, `field: message`, for errors that must name the field; `root` names the whole value. */
export function describeIssues(error: z.ZodError, root = 'body'): string {
  return error.issues.map((i) => `${i.path.join('.') || root}: ${i.message}`).join('; ');
}
