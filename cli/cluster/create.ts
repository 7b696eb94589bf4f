/**
 * `create vm NAME`: a VirtualMachine booting from one root disk, printed as YAML (as
 * `kubectl create --dry-run=client -o yaml` prints) or, with `--apply`, server-side applied as
 * the calling user. The manifest is checked with `kubevmm validate`'s code before it is shown
 * or sent, so what it prints always passes `kubevmm validate`; a flag that makes it invalid is
 * a usage error naming the flag. Printing needs no cluster: only `--apply` loads the client.
 */
import { readFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { formatIssue, type ValidationIssue } from '../../api/issues.js';
import { API_VERSION } from '../../api/schema/common.js';
import { DISK_SOURCES } from '../../api/schema/vm.js';
import { validateDocuments } from '../../api/validate.js';
import { EXIT, VerbError } from '../exit.js';
import { DEFAULT_CREATE_MEMORY, type CreateVmRequest } from './args.js';
import type { ClusterContext } from './context.js';
import { processOutput, type Output } from './progress.js';

/** The VirtualMachine `create vm` makes. */
export interface VmManifest {
  apiVersion: string;
  kind: 'VirtualMachine';
  metadata: { name: string; namespace?: string };
  spec: Record<string, unknown>;
}

/** The root disk's name; the cloud-init disk's. */
export const ROOT_DISK = 'root';
export const CLOUD_INIT_DISK = 'cloudinit';

/**
 * Whether this build's schema has the `image` disk source (shared/API.md: `image: {name}`, a
 * per-VM claim copied from a VirtualMachineImage). It arrives with VirtualMachineImage; until
 * then `--image` is refused rather than printing a manifest the API server would not take.
 */
export const IMAGE_DISKS = (DISK_SOURCES as readonly string[]).includes('image');

function rootDisk(source: CreateVmRequest['source'], size?: string): Record<string, unknown> {
  if ('claim' in source) return { name: ROOT_DISK, persistentVolumeClaim: { claimName: source.claim } };
  if ('containerDisk' in source) return { name: ROOT_DISK, containerDisk: { image: source.containerDisk } };
  if (!IMAGE_DISKS) {
    throw new VerbError(
      `--image ${source.image}: this kubevmm has no image disk source yet: disks from a VirtualMachineImage (spec.disks[].image) arrive with the VirtualMachineImage kind; give the root disk with --claim PVC or --container-disk IMAGE`,
    );
  }
  return { name: ROOT_DISK, image: { name: source.image, ...(size ? { size } : {}) } };
}

/** The manifest for `request`; `userData` is the --cloud-init file's content. */
export function createVmManifest(request: CreateVmRequest, opts: { userData?: string; namespace?: string } = {}): VmManifest {
  const disks = [rootDisk(request.source, request.size), ...(opts.userData === undefined ? [] : [{ name: CLOUD_INIT_DISK, cloudInit: { userData: opts.userData } }])];
  // A class gives memory (and CPUs) of its own; without one the VM must say how much.
  const memory = request.memory ?? (request.className ? undefined : DEFAULT_CREATE_MEMORY);
  return {
    apiVersion: API_VERSION,
    kind: 'VirtualMachine',
    metadata: { name: request.name, ...(opts.namespace ? { namespace: opts.namespace } : {}) },
    spec: {
      ...(request.className ? { className: request.className } : {}),
      ...(request.cores ? { cpu: { cores: request.cores } } : {}),
      ...(memory ? { memory: { guest: memory } } : {}),
      disks,
    },
  };
}

/** The flag behind a field of the manifest, so an invalid value is reported against what the user typed. */
export function flagOf(path: string, request: CreateVmRequest): string {
  const source = 'claim' in request.source ? '--claim' : 'containerDisk' in request.source ? '--container-disk' : '--image';
  const flags: [RegExp, string][] = [
    [/^metadata\.name\b/, 'NAME'],
    [/^metadata\.namespace\b/, '-n/--namespace'],
    [/^spec\.className\b/, '--class'],
    [/^spec\.memory\b/, '--memory'],
    [/^spec\.cpu\b/, '--cores'],
    [/^spec\.disks\[0\]\.image\.size\b/, '--size'],
    [/^spec\.disks\[0\]/, source],
    [/^spec(\.disks\[1\].*)?$/, '--cloud-init'],
  ];
  return flags.find(([re]) => re.test(path))?.[1] ?? path;
}

/** Refuses a manifest `kubevmm validate` would refuse: a usage error (exit 2) naming each flag. */
export function checkManifest(manifest: VmManifest, request: CreateVmRequest): void {
  const [result] = validateDocuments([manifest]);
  const issues: ValidationIssue[] = result?.issues ?? [];
  if (issues.length === 0) return;
  throw new VerbError(`these flags make an invalid VirtualMachine:\n${issues.map((i) => `  ${flagOf(i.path, request)}: ${formatIssue(i)}`).join('\n')}`, EXIT.usage);
}

/** The --cloud-init file as text; it travels in the VM as userData. */
export async function readUserData(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new VerbError(`--cloud-init ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new VerbError(`--cloud-init ${file}: not UTF-8 text; cloud-init user data is #cloud-config YAML or a script (a gzip or binary payload goes in a Secret: userDataSecretRef)`);
  }
}

/** Runs `create vm`: prints the manifest, or applies it in the cluster `connect` loads. */
export async function runCreateVm(request: CreateVmRequest, connect: () => Promise<ClusterContext>, io: Output = processOutput()): Promise<number> {
  const userData = request.cloudInit === undefined ? undefined : await readUserData(request.cloudInit);
  const data = userData === undefined ? {} : { userData };
  // Checked before any cluster is asked: a bad flag needs no kubeconfig to be reported.
  checkManifest(createVmManifest(request, { ...data, namespace: request.namespace ?? 'default' }), request);
  if (!request.apply) {
    io.out.write(stringify(createVmManifest(request, { ...data, ...(request.namespace ? { namespace: request.namespace } : {}) })));
    return EXIT.ok;
  }
  const ctx = await connect();
  const { VmClient } = await import('./vm-api.js');
  const result = await new VmClient(ctx, request.name).apply(createVmManifest(request, { ...data, namespace: ctx.namespace }));
  io.out.write(`virtualmachine.kubevmm.io/${request.name} ${result}\n`);
  return EXIT.ok;
}
