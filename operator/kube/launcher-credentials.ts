/**
 * Writes each VM's credentials Secret (`<vm>-launcher-credentials`: the launcher's
 * certificate and key, the client CA, the NBD key) without ever reading one back (ADR 0009):
 * create, and when a Secret of that name exists (an earlier run of this VM, or a VM of the
 * same name before it), replace it whole. Neither call returns anything but what was sent.
 */
import type { V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import { VM_LABEL } from '../../api/layout.js';
import { API_VERSION } from '../../api/schema/common.js';
import type { VirtualMachineImage } from '../../api/schema/image.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { LAUNCHER_CERT_LIFETIME_MS, issueImporterClient, issueLauncherCredentials, issueSourceCredentials, renewalDue, type LauncherAuthority } from '../pki/launcher.js';
import { IMAGE_LABEL, importerSecretName } from '../render/importer.js';
import { sourceSecretName } from '../render/source-pod.js';
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
  /** Source pods (by pod UID) whose Secret this process wrote: once per pod is enough. */
  private readonly sources = new Set<string>();

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
    const uid = requireUid(vm, 'VirtualMachine');
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
    const at = this.written.get(requireUid(vm, 'VirtualMachine'));
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
  async ensureImporter(image: VirtualMachineImage, opts: { claimCopy?: boolean } = {}): Promise<void> {
    const uid = requireUid(image, 'VirtualMachineImage');
    const name = image.metadata.name;
    // A copy from another namespace: also the client certificate its source pod asks for.
    const extra = opts.claimCopy ? await issueImporterClient(this.authority, uid, this.now()) : {};
    await this.writeFor({ kind: 'VirtualMachineImage', name, uid, namespace: image.metadata.namespace ?? 'default', secretName: importerSecretName(name), labels: { [IMAGE_LABEL]: name } }, extra);
  }

  /**
   * A source pod's Secret (ADR 0019), in the source claim's namespace, owned by the source pod
   * itself (an owner reference cannot cross namespaces, and the operator deletes no Secret):
   * garbage collection removes it with the pod. The pod waits for it to mount.
   */
  async ensureSource(image: VirtualMachineImage, pod: { name: string; namespace: string; uid: string }, labels: Record<string, string>): Promise<void> {
    // Asked again while the pod waits (an operator stopped between the pod and its Secret): written once per process.
    if (this.sources.has(pod.uid)) return;
    const uid = requireUid(image, 'VirtualMachineImage');
    const data = await issueSourceCredentials(this.authority, { name: image.metadata.name, namespace: image.metadata.namespace ?? 'default', uid }, this.now());
    const owner = { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid, controller: true, blockOwnerDeletion: true };
    await this.put(tlsSecret({ name: sourceSecretName(uid), namespace: pod.namespace, labels, owner }, data));
    this.sources.add(pod.uid);
  }

  private async write(vm: VirtualMachine): Promise<void> {
    const uid = requireUid(vm, 'VirtualMachine');
    const name = vm.metadata.name;
    await this.writeFor({ kind: 'VirtualMachine', name, uid, namespace: vm.metadata.namespace ?? 'default', secretName: credentialsSecretName(name), labels: { [VM_LABEL]: name } });
    this.written.set(uid, this.now().getTime());
  }

  private async writeFor(owner: { kind: string; name: string; uid: string; namespace: string; secretName: string; labels: Record<string, string> }, extra: Record<string, string> = {}): Promise<void> {
    const { name, uid, namespace } = owner;
    const data = await issueLauncherCredentials(this.authority, { name, namespace, uid }, this.now());
    const ref = { apiVersion: API_VERSION, kind: owner.kind, name, uid, controller: true, blockOwnerDeletion: true };
    await this.put(tlsSecret({ name: owner.secretName, namespace, labels: owner.labels, owner: ref }, { ...data, ...extra }));
  }

  private async put(secret: V1Secret): Promise<void> {
    if ((await this.api.createSecret(secret)) === 'exists') await this.api.replaceSecret(secret);
  }
}

function tlsSecret(meta: { name: string; namespace: string; labels: Record<string, string>; owner: V1OwnerReference }, data: Record<string, string>): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name: meta.name, namespace: meta.namespace, labels: { ...meta.labels, 'app.kubernetes.io/managed-by': 'kubevmm' }, ownerReferences: [meta.owner] },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/** The object's UID, which its credentials name; an object the API server has not stored yet has none. */
function requireUid(object: VirtualMachine | VirtualMachineImage, kind: 'VirtualMachine' | 'VirtualMachineImage'): string {
  const uid = object.metadata.uid;
  if (!uid) throw new Error(`${kind} ${object.metadata.name} has no uid yet: its credentials name it`);
  return uid;
}
