/**
 * The create-VM wizard's form into a VirtualMachine manifest, checked with the same zod schema
 * the operator and the CRD use (api/schema/vm.ts), so most mistakes are named on their field
 * before anything is sent.
 */
import { virtualMachine, type DiskSpec, type VirtualMachine } from '../../../api/schema/vm.js';
import { API_VERSION } from '../../../api/schema/common.js';

/** Where the VM boots from. */
export type BootSource = 'pvc' | 'containerDisk' | 'image';

/** What the wizard asks. */
export interface WizardForm {
  namespace: string;
  name: string;
  className: string;
  cpus: string;
  memory: string;
  bootSource: BootSource;
  /** A PVC name, a container image reference, or a VirtualMachineImage name. */
  bootValue: string;
  userData: string;
  sshKey: string;
  start: boolean;
}

/** The form's fields and the manifest paths they fill, to show a server cause on its field. */
export const FIELD_PATHS: Record<keyof Omit<WizardForm, 'namespace' | 'start'>, string[]> = {
  name: ['metadata.name'],
  className: ['spec.className'],
  cpus: ['spec.cpu'],
  memory: ['spec.memory'],
  bootSource: [],
  bootValue: ['spec.disks.0'],
  userData: ['spec.disks.1'],
  sshKey: [],
};

/**
 * The user data with the SSH key added: a #cloud-config gets `ssh_authorized_keys`; with no
 * user data, a #cloud-config holding only the key.
 */
export function userDataWithKey(userData: string, sshKey: string): string {
  const key = sshKey.trim();
  if (!key) return userData;
  const body = userData.trim() === '' ? '#cloud-config\n' : userData.replace(/\s*$/, '\n');
  if (!body.startsWith('#cloud-config')) throw new WizardError('sshKey', 'an SSH key can only be added to #cloud-config user data; add it to your script yourself or start it with #cloud-config');
  if (/^ssh_authorized_keys:/m.test(body)) throw new WizardError('sshKey', 'the user data already has ssh_authorized_keys: add the key there');
  return `${body}ssh_authorized_keys:\n  - ${JSON.stringify(key)}\n`;
}

/** A form value that cannot make a VM; `field` is the form field to show it on. */
export class WizardError extends Error {
  override readonly name = 'WizardError';
  constructor(
    readonly field: keyof WizardForm,
    message: string,
  ) {
    super(message);
  }
}

function bootDisk(form: WizardForm): DiskSpec {
  const value = form.bootValue.trim();
  if (!value) throw new WizardError('bootValue', 'choose what the VM boots from');
  if (form.bootSource === 'pvc') return { name: 'boot', persistentVolumeClaim: { claimName: value } };
  if (form.bootSource === 'image') return { name: 'boot', image: { name: value } };
  return { name: 'boot', containerDisk: { image: value } };
}

/** The manifest of the form, as the user will see it before it is applied. */
export function manifestOf(form: WizardForm): VirtualMachine {
  const cpus = form.cpus.trim() === '' ? undefined : Number(form.cpus);
  if (cpus !== undefined && (!Number.isInteger(cpus) || cpus < 1)) throw new WizardError('cpus', 'vCPUs must be a whole number of at least 1');
  const userData = userDataWithKey(form.userData, form.sshKey);
  const disks: DiskSpec[] = [bootDisk(form), ...(userData.trim() ? [{ name: 'cloudinit', cloudInit: { userData } }] : [])];
  return {
    apiVersion: API_VERSION,
    kind: 'VirtualMachine',
    metadata: { name: form.name.trim(), namespace: form.namespace },
    spec: {
      runStrategy: form.start ? 'Always' : 'Halted',
      ...(form.className ? { className: form.className } : {}),
      ...(cpus !== undefined ? { cpu: { sockets: 1, cores: cpus, threads: 1 } } : {}),
      ...(form.memory.trim() ? { memory: { guest: form.memory.trim() } } : {}),
      disks,
    },
  };
}

/** The form field a manifest path belongs to. */
export function fieldOfPath(path: string): keyof WizardForm | undefined {
  for (const [field, paths] of Object.entries(FIELD_PATHS)) {
    if (paths.some((p) => path === p || path.startsWith(`${p}.`))) return field as keyof WizardForm;
  }
  return undefined;
}

/** Checks the manifest with the VM schema; the issues by form field (unplaced ones under `name`'s neighbour `_`). */
export function checkManifest(vm: VirtualMachine): Map<string, string> {
  const issues = new Map<string, string>();
  const parsed = virtualMachine.safeParse(vm);
  if (parsed.success) return issues;
  for (const issue of parsed.error.issues) {
    const path = issue.path.join('.');
    const field = fieldOfPath(path) ?? '_';
    if (!issues.has(field)) issues.set(field, `${path}: ${issue.message}`);
  }
  return issues;
}
