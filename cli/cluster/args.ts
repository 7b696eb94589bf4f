/**
 * The cluster verbs' command line (shared/API.md, CLI contract): each verb with its flags and
 * kubectl's `--kubeconfig`, `--context` and `-n/--namespace`, parsed into one typed request.
 * Parsing loads nothing of Kubernetes: the verb's runner does, when it runs. Bad input is a
 * usage error (exit 2) whose message names the flag and what it takes.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { isQuantity } from '../../api/quantity.js';
import { addImageVerbs, type ImageImportRequest, type ImageUploadRequest } from './image-args.js';
import { addUiVerb, type UiRequest } from './ui-args.js';

/** Where and how: the flags every cluster verb takes. */
export interface ClusterFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** Waiting flags of the declarative verbs. */
export interface WaitFlags {
  wait: boolean;
  /** Seconds. */
  timeout: number;
}

/** One parsed verb. */
export type VerbRequest = ClusterFlags &
  (
    | ({ verb: 'start' | 'restart' | 'pause' | 'unpause'; name: string } & WaitFlags)
    | ({ verb: 'stop'; name: string; grace?: number; force: boolean } & WaitFlags)
    | { verb: 'console'; name: string }
    | { verb: 'vnc'; name: string; port?: number; screenshot?: string }
    | { verb: 'ssh'; name: string; sshArgs: string[] }
    | { verb: 'port-forward'; name: string; local: number; guest: number }
    | ({ verb: 'addvolume'; name: string; claim: string; disk?: string; bus?: 'virtio' | 'scsi' | 'sata' } & WaitFlags)
    | ({ verb: 'removevolume'; name: string; disk: string } & WaitFlags)
    | CreateVmRequest
    | ImageImportRequest
    | ImageUploadRequest
    | UiRequest
  );

/** Where `create vm` takes its root disk from: exactly one of the three flags. */
export type RootSource = { claim: string } | { containerDisk: string } | { image: string };

/** `create vm NAME ...`: a manifest to print, or to apply with `--apply`. */
export interface CreateVmRequest extends ClusterFlags {
  verb: 'create-vm';
  name: string;
  source: RootSource;
  className?: string;
  /** Guest memory (a quantity); default 1Gi without --class, the class's with it. */
  memory?: string;
  cores?: number;
  /** A file whose content becomes the cloud-init user data. */
  cloudInit?: string;
  /** With --image: the size of the VM's own disk (default: the image claim's). */
  size?: string;
  apply: boolean;
}

/** Guest memory `create vm` gives a VM that names no class (a class sets its own). */
export const DEFAULT_CREATE_MEMORY = '1Gi';

/** Default wait, seconds: a TCG boot on a busy node takes minutes. */
export const DEFAULT_TIMEOUT_S = 300;

function integer(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`${flag} takes a whole number from ${min} to ${max}`);
    return n;
  };
}

const port = integer('a port', 1, 65535);

/** `LOCAL:GUEST`, both ports. */
export function parsePortPair(value: string): { local: number; guest: number } {
  const match = /^(\d+):(\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError('give LOCAL:GUEST, two ports, e.g. 8080:80');
  return { local: port(match[1]!), guest: port(match[2]!) };
}

function withCluster(command: Command): Command {
  return command
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: its current context)')
    .option('-n, --namespace <ns>', "namespace (default: the context's, then default)");
}

function withWait(command: Command): Command {
  return command
    .option('--no-wait', 'return once the change is accepted, without waiting for the VM')
    .option('--timeout <seconds>', `how long to wait (default ${DEFAULT_TIMEOUT_S}); exit 3 when it runs out`, integer('--timeout', 1, 86_400), DEFAULT_TIMEOUT_S);
}

type Flags = ClusterFlags & Partial<WaitFlags> & Record<string, unknown>;

const cluster = (f: Flags): ClusterFlags => ({
  ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}),
  ...(f.context ? { context: f.context } : {}),
  ...(f.namespace ? { namespace: f.namespace } : {}),
});
const waiting = (f: Flags): WaitFlags => ({ wait: f.wait !== false, timeout: f.timeout ?? DEFAULT_TIMEOUT_S });

/** Adds the cluster verbs to `program`; each parsed call goes to `run`. */
export function addClusterVerbs(program: Command, run: (request: VerbRequest) => Promise<void>): Command {
  for (const [verb, what] of [
    ['start', 'start the VM (runStrategy Always, or a start request for a Manual VM) and wait until it runs'],
    ['restart', 'restart the VM once (spec.restartRequestedAt) and wait until it runs again'],
    ['pause', 'pause the VM (spec.paused: vCPUs stopped, memory kept) and wait until Paused'],
    ['unpause', 'resume a paused VM and wait until Running'],
  ] as const) {
    withWait(withCluster(program.command(verb).description(what).argument('<name>', 'VirtualMachine'))).action((name: string, f: Flags) => run({ verb, name, ...cluster(f), ...waiting(f) }));
  }
  withWait(withCluster(program.command('stop').description('stop the VM (runStrategy Halted) and wait until Stopped').argument('<name>', 'VirtualMachine')))
    .option('--grace <seconds>', "seconds the guest gets to power off (kept as the VM's terminationGracePeriodSeconds)", integer('--grace', 0, 86_400))
    .option('--force', 'no grace: QEMU quits at once')
    .action((name: string, f: Flags) => run({ verb: 'stop', name, ...(f.grace === undefined ? {} : { grace: f.grace as number }), force: f.force === true, ...cluster(f), ...waiting(f) }));
  withCluster(program.command('console').description('attach this terminal to the VM serial console (Ctrl-] detaches)').argument('<name>', 'VirtualMachine')).action((name: string, f: Flags) =>
    run({ verb: 'console', name, ...cluster(f) }),
  );
  withCluster(program.command('vnc').description("open the VM's display on a local port for any VNC viewer, or save one frame as PNG").argument('<name>', 'VirtualMachine'))
    .addOption(new Option('--port <port>', 'local port (default: a free one, printed)').argParser(port).conflicts('screenshot'))
    .option('--screenshot <file.png>', 'write one frame of the screen as a PNG and exit')
    .action((name: string, f: Flags) => run({ verb: 'vnc', name, ...(f.port ? { port: f.port as number } : {}), ...(f.screenshot ? { screenshot: f.screenshot as string } : {}), ...cluster(f) }));
  withCluster(program.command('ssh').description("ssh to the guest through the VM's portforward subresource (port 22)").argument('<name>', 'VirtualMachine, or USER@VM to log in as USER').argument('[ssh-args...]', 'after --: passed to ssh'))
    .action((name: string, sshArgs: string[], f: Flags) => run({ verb: 'ssh', name, sshArgs, ...cluster(f) }));
  withCluster(program.command('port-forward').description('forward a local port to a guest port').argument('<name>', 'VirtualMachine').argument('<local:guest>', 'ports, e.g. 8080:80', parsePortPair))
    .action((name: string, ports: { local: number; guest: number }, f: Flags) => run({ verb: 'port-forward', name, ...ports, ...cluster(f) }));
  withWait(withCluster(program.command('addvolume').description('hotplug a PVC into the running VM (spec.disks) and wait until Attached').argument('<name>', 'VirtualMachine')))
    .requiredOption('--claim <pvc>', 'the PersistentVolumeClaim')
    .option('--name <disk>', "the disk's name (default: the claim's)")
    .addOption(new Option('--bus <bus>', 'disk bus').choices(['virtio', 'scsi', 'sata']))
    .action((name: string, f: Flags) => run({ verb: 'addvolume', name, claim: f.claim as string, ...(f.name ? { disk: f.name as string } : {}), ...(f.bus ? { bus: f.bus as 'virtio' } : {}), ...cluster(f), ...waiting(f) }));
  withWait(withCluster(program.command('removevolume').description('unplug a hotplugged disk (spec.disks) and wait until it is gone').argument('<name>', 'VirtualMachine').argument('<disk>', 'the disk')))
    .action((name: string, disk: string, f: Flags) => run({ verb: 'removevolume', name, disk, ...cluster(f), ...waiting(f) }));
  addCreateVm(program, run);
  addImageVerbs(program, run, { flags: withCluster, read: cluster });
  addUiVerb(program, run, { flags: withCluster, read: cluster });
  return program;
}

const SOURCE_FLAGS = ['claim', 'container-disk', 'image'] as const;

function rootSource(f: Flags): RootSource | undefined {
  if (f.claim) return { claim: f.claim as string };
  if (f.containerDisk) return { containerDisk: f.containerDisk as string };
  if (f.image) return { image: f.image as string };
  return undefined;
}

/** `create vm`: the manifest `kubectl create --dry-run=client -o yaml` would print, or applied. */
function addCreateVm(program: Command, run: (request: VerbRequest) => Promise<void>): void {
  const create = program.command('create').description('create kubevmm objects: prints the manifest, --apply applies it');
  const source = (flag: (typeof SOURCE_FLAGS)[number], value: string, what: string) =>
    new Option(`--${flag} <${value}>`, what).conflicts(SOURCE_FLAGS.filter((other) => other !== flag));
  withCluster(create.command('vm').description('a VirtualMachine booting from one root disk (exactly one of --claim, --container-disk, --image)').argument('<name>', 'VirtualMachine'))
    .option('--class <name>', 'VirtualMachineClass: CPU and memory defaults and limits')
    .addOption(source('claim', 'pvc', 'root disk: an existing PersistentVolumeClaim'))
    .addOption(source('container-disk', 'image', 'root disk: a container image holding a disk image (guest writes are lost at stop)'))
    .addOption(source('image', 'vmimage', 'root disk: a copy of a VirtualMachineImage'))
    .option('--memory <quantity>', `guest memory, e.g. 2Gi (default: the class's, else ${DEFAULT_CREATE_MEMORY})`)
    .option('--cores <n>', "vCPU cores (default: the class's, else 1)", integer('--cores', 1, 512))
    .option('--cloud-init <file>', 'cloud-init user data (#cloud-config or a script), embedded in the VM')
    .option('--size <quantity>', "with --image: the VM disk's size, at least the image's (default: the image claim's)", (value: string) => {
      if (!isQuantity(value)) throw new InvalidArgumentError('--size takes a quantity such as 20Gi');
      return value;
    })
    .option('--apply', 'server-side apply the VM instead of printing it')
    .action((name: string, f: Flags, command: Command) => {
      const root = rootSource(f);
      if (!root) command.error('error: give the root disk: exactly one of --claim PVC, --container-disk IMAGE, --image VMIMAGE', { exitCode: 2, code: 'kubevmm.missingSource' });
      if (f.size && !('image' in root)) command.error('error: --size sizes the disk made from --image; a claim or container disk has its own size', { exitCode: 2, code: 'kubevmm.sizeWithoutImage' });
      return run({
        verb: 'create-vm',
        name,
        source: root,
        ...(f.class ? { className: f.class as string } : {}),
        ...(f.memory ? { memory: f.memory as string } : {}),
        ...(f.cores ? { cores: f.cores as number } : {}),
        ...(f.cloudInit ? { cloudInit: f.cloudInit as string } : {}),
        ...(f.size ? { size: f.size as string } : {}),
        apply: f.apply === true,
        ...cluster(f),
      });
    });
}
