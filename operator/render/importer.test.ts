import { IMPORT_ANNOTATION, IMPORTER_LAYOUT } from '../../api/contract/importer.js';
import { renderImporterPod, type ImporterPodInput } from './importer.js';

const input: ImporterPodInput = {
  name: 'debian-importer',
  namespace: 'team-a',
  owner: { kind: 'VirtualMachineImage', name: 'debian', uid: 'img-uid', generation: 4 },
  labels: { 'kubevmm.io/image': 'debian' },
  launcherImage: 'kubevmm/launcher:1',
  task: { source: { kind: 'upload' }, target: { mode: 'Block', capacityBytes: 2 ** 30 } },
  target: { claimName: 'debian-image', mode: 'Block' },
  scratchBytes: 3 * 2 ** 30,
  credentialsSecret: 'debian-importer-credentials',
};

describe('renderImporterPod', () => {
  const pod = renderImporterPod(input);
  const container = pod.spec?.containers[0];

  it('runs unprivileged like a launcher: UID 107, no token, no capabilities, read-only root, never restarted', () => {
    expect(pod.spec).toMatchObject({ restartPolicy: 'Never', automountServiceAccountToken: false, enableServiceLinks: false, securityContext: { runAsNonRoot: true, runAsUser: 107, fsGroup: 107, seccompProfile: { type: 'RuntimeDefault' } } });
    expect(container?.securityContext).toEqual({ allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    expect(container?.args).toEqual(['import']);
    expect(container?.ports).toEqual([{ name: 'importer', containerPort: 9501, protocol: 'TCP' }]);
  });

  it('carries the task in the annotation the downward API hands over, and the generation it is for', () => {
    expect(JSON.parse(pod.metadata?.annotations?.[IMPORT_ANNOTATION] ?? '')).toEqual(input.task);
    expect(pod.metadata?.annotations?.['kubevmm.io/generation']).toBe('4');
    expect(pod.spec?.volumes).toContainEqual({ name: 'podinfo', downwardAPI: { items: [{ path: 'task.json', fieldRef: { fieldPath: `metadata.annotations['${IMPORT_ANNOTATION}']` } }] } });
    expect(container?.volumeMounts).toContainEqual({ name: 'podinfo', mountPath: IMPORTER_LAYOUT.podinfoDir, readOnly: true });
  });

  it('mounts only the TLS files of the credentials Secret (not the NBD key), a Block target as the device, sized scratch', () => {
    expect(pod.spec?.volumes).toContainEqual({ name: 'credentials', secret: { secretName: 'debian-importer-credentials', defaultMode: 0o400, items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }, { key: 'ca.crt', path: 'ca.crt' }] } });
    expect(container?.volumeDevices).toEqual([{ name: 'target', devicePath: IMPORTER_LAYOUT.targetDevice }]);
    expect(container?.volumeMounts?.some((m) => m.name === 'target')).toBe(false);
    expect(pod.spec?.volumes).toContainEqual({ name: 'scratch', emptyDir: { sizeLimit: '3Gi' } });
    expect(pod.metadata?.ownerReferences).toEqual([{ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineImage', name: 'debian', uid: 'img-uid', controller: true, blockOwnerDeletion: true }]);
  });

  it('copies a registry image with the launcher image busybox and no shell: the path is one argument', () => {
    const reg = renderImporterPod({ ...input, registry: { image: 'registry.example/os:1', path: '/disk; rm -rf /' } });
    const copy = reg.spec?.initContainers?.find((c) => c.name === 'registry');
    expect(copy?.command).toEqual(['/var/run/kubevmm/tools/busybox', 'cp', '-R', '-L', '--', '/disk; rm -rf /', '/var/run/kubevmm/import/scratch/registry-disk']);
    expect(copy?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });
});
