/**
 * Writes each VM's credentials Secret (`<vm>-launcher-credentials`: the launcher's
 * certificate and key, the client CA, the NBD key) without ever reading one back (ADR 0009):
 * create, and when a Secret of that name exists (an earlier run of this VM, or a VM of the
 * same name before it), replace it whole. Neither call returns anything but what was sent.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { VM_LABEL } from '../../api/layout.js';
import { API_VERSION } from '../../api/schema/common.js';
import type { VirtualMachineImage } from '../../api/schema/image.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { LAUNCHER_CERT_LIFETIME_MS, issueLauncherCredentials, renewalDue, type LauncherAuthority } from '../pki/launcher.js';
import { IMAGE_LABEL, importerSecretName } from '../render/importer.js';
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

  /**
   * Before an image's importer pod is created: its Secret (`<image>-importer-credentials`),
   * issued for the image's UID as a launcher's is for its VM's, so the subresource server's
   * upload relay and the operator check the importer by the image's identity. Written for
   * every importer pod (one per spec generation): an import is short, so no renewal.
   */
  async ensureImporter(image: VirtualMachineImage): Promise<void> {
    const uid = image.metadata.uid;
    if (!uid) throw new Error(`VirtualMachineImage ${image.metadata.name} has no uid yet: its credentials name it`);
    const name = image.metadata.name;
    await this.writeFor({ kind: 'VirtualMachineImage', name, uid, namespace: image.metadata.namespace ?? 'default', secretName: importerSecretName(name), labels: { [IMAGE_LABEL]: name } });
  }

  private async write(vm: VirtualMachine): Promise<void> {
    const uid = requireUid(vm);
    const name = vm.metadata.name;
    await this.writeFor({ kind: 'VirtualMachine', name, uid, namespace: vm.metadata.namespace ?? 'default', secretName: credentialsSecretName(name), labels: { [VM_LABEL]: name } });
    this.written.set(uid, this.now().getTime());
  }

  private async writeFor(owner: { kind: string; name: string; uid: string; namespace: string; secretName: string; labels: Record<string, string> }): Promise<void> {
    const { name, uid, namespace } = owner;
    const data = await issueLauncherCredentials(this.authority, { name, namespace, uid }, this.now());
    const secret: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: owner.secretName,
        namespace,
        labels: { ...owner.labels, 'app.kubernetes.io/managed-by': 'kubevmm' },
        ownerReferences: [{ apiVersion: API_VERSION, kind: owner.kind, name, uid, controller: true, blockOwnerDeletion: true }],
      },
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    };
    if ((await this.api.createSecret(secret)) === 'exists') await this.api.replaceSecret(secret);
  }
}

function requireUid(vm: VirtualMachine): string {
  const uid = vm.metadata.uid;
  if (!uid) throw new Error(`VirtualMachine ${vm.metadata.name} has no uid yet: its credentials name it`);
  return uid;
}
