/**
 * Writes each VM's credentials Secret (`<vm>-launcher-credentials`: the launcher's
 * certificate and key, the client CA, the NBD key) without ever reading one back (ADR 0009):
 * create, and when a Secret of that name exists (an earlier run of this VM, or a VM of the
 * same name before it), replace it whole. Neither call returns anything but what was sent.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { VM_LABEL } from '../../api/layout.js';
import { API_VERSION } from '../../api/schema/common.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { LAUNCHER_CERT_LIFETIME_MS, issueLauncherCredentials, renewalDue, type LauncherAuthority } from '../pki/launcher.js';
import { credentialsSecretName } from '../render/volumes.js';

/** The two writes (ClusterApi has them). */
export interface CredentialsApi {
  createSecret(secret: V1Secret): Promise<'created' | 'exists'>;
  replaceSecret(secret: V1Secret): Promise<void>;
}

/**
 * After a renewal the launcher keeps serving the old certificate until the kubelet has
 * updated its Secret volume (about a minute) and the launcher re-read it: no second renewal
 * in that time.
 */
const RENEWAL_SETTLE_MS = 10 * 60_000;

/** Issues and writes VM credentials; remembers what it wrote in this process. */
export class LauncherCredentials {
  /** By VM uid: when this process last wrote the VM's Secret. */
  private readonly written = new Map<string, number>();

  constructor(
    private readonly api: CredentialsApi,
    private readonly authority: LauncherAuthority,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Before a launcher pod is created: writes the VM's Secret unless this process wrote it
   * within the renewal window (a restarting VM reuses it; a new operator process writes once).
   */
  async ensure(vm: VirtualMachine): Promise<void> {
    const uid = requireUid(vm);
    const at = this.written.get(uid);
    if (at !== undefined && !renewalDue(new Date(at + LAUNCHER_CERT_LIFETIME_MS), LAUNCHER_CERT_LIFETIME_MS, this.now())) return;
    await this.write(vm);
  }

  /**
   * The running launcher serves a certificate valid until `servedNotAfter`: re-issue when a
   * third of its life is left. True when it wrote.
   */
  async renewIfDue(vm: VirtualMachine, servedNotAfter: Date): Promise<boolean> {
    const now = this.now();
    if (!renewalDue(servedNotAfter, LAUNCHER_CERT_LIFETIME_MS, now)) return false;
    const at = this.written.get(requireUid(vm));
    if (at !== undefined && now.getTime() - at < RENEWAL_SETTLE_MS) return false;
    await this.write(vm);
    return true;
  }

  /** Forgets a deleted VM. */
  forget(uid: string | undefined): void {
    if (uid) this.written.delete(uid);
  }

  private async write(vm: VirtualMachine): Promise<void> {
    const uid = requireUid(vm);
    const now = this.now();
    const namespace = vm.metadata.namespace ?? 'default';
    const data = await issueLauncherCredentials(this.authority, { name: vm.metadata.name, namespace, uid }, now);
    const secret: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: credentialsSecretName(vm.metadata.name),
        namespace,
        labels: { [VM_LABEL]: vm.metadata.name, 'app.kubernetes.io/managed-by': 'kubevmm' },
        ownerReferences: [{ apiVersion: API_VERSION, kind: 'VirtualMachine', name: vm.metadata.name, uid, controller: true, blockOwnerDeletion: true }],
      },
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    };
    if ((await this.api.createSecret(secret)) === 'exists') await this.api.replaceSecret(secret);
    this.written.set(uid, now.getTime());
  }
}

function requireUid(vm: VirtualMachine): string {
  const uid = vm.metadata.uid;
  if (!uid) throw new Error(`VirtualMachine ${vm.metadata.name} has no uid yet: its credentials name it`);
  return uid;
}
