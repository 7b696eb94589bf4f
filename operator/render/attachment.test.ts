import type { VirtualMachine } from '../../api/schema/vm.js';
import { attachmentHost, boundedLabel, hotplugServiceName, renderAttachmentPod, renderHotplugService } from './attachment.js';

const vm: VirtualMachine = {
  apiVersion: 'kubevmm.io/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name: 'web', namespace: 'team', uid: 'u1' },
  spec: { memory: { guest: '1Gi' }, tolerations: [{ key: 'vm', operator: 'Exists' }] },
};

const input = (mode: 'Filesystem' | 'Block', readOnly = false) => ({
  vm,
  config: { launcherImage: 'launcher:1' },
  disk: { name: 'data', claimName: 'web-data', readOnly },
  node: 'node-a',
  pvc: { mode, sizeBytes: 10 * 2 ** 30 },
});

describe('renderAttachmentPod', () => {
  const pod = renderAttachmentPod(input('Filesystem'));
  const container = pod.spec!.containers[0]!;

  it('is pinned to the VM node by required node affinity, with the VM tolerations', () => {
    expect(pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms).toEqual([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-a'] }] }]);
    expect(pod.spec?.tolerations).toEqual([{ key: 'vm', operator: 'Exists' }]);
  });

  it('exports a Filesystem PVC as disk.img at its size, with the VM PSK only', () => {
    expect(container.args).toEqual(['export', '--source', '/var/run/kubevmm/export', '--mode', 'filesystem', '--size', String(10 * 2 ** 30), '--port', '10809', '--psk-dir', '/var/run/kubevmm/nbd']);
    expect(pod.spec?.volumes).toEqual([
      { name: 'disk', persistentVolumeClaim: { claimName: 'web-data', readOnly: false } },
      { name: 'psk', secret: { secretName: 'web-launcher-credentials', items: [{ key: 'keys.psk', path: 'keys.psk' }], defaultMode: 0o400 } },
    ]);
    expect(container.volumeMounts?.map((m) => m.mountPath)).toEqual(['/var/run/kubevmm/nbd', '/var/run/kubevmm/export']);
  });

  it('exports a Block PVC as its device, read-only when the disk is', () => {
    const block = renderAttachmentPod(input('Block', true)).spec!.containers[0]!;
    expect(block.args).toEqual(expect.arrayContaining(['--source', '/dev/kubevmm/export', '--mode', 'block', '--read-only']));
    expect(block.volumeDevices).toEqual([{ name: 'disk', devicePath: '/dev/kubevmm/export' }]);
  });

  it('runs unprivileged, owned by the VM, named in the VM hotplug Service', () => {
    expect(pod.spec?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 107 });
    expect(container.securityContext).toMatchObject({ privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.spec?.automountServiceAccountToken).toBe(false);
    expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'VirtualMachine', name: 'web', uid: 'u1', controller: true });
    expect(pod.metadata?.labels).toMatchObject({ 'kubevmm.io/vm': 'web', 'kubevmm.io/disk': 'data' });
    expect([pod.spec?.hostname, pod.spec?.subdomain]).toEqual(['disk-data', 'hotplug-web']);
    expect(container.readinessProbe).toMatchObject({ tcpSocket: { port: 10809 } });
  });
});

describe('the hotplug Service', () => {
  it('is headless and selects only this VM attachment pods', () => {
    const svc = renderHotplugService(vm);
    expect(svc.spec).toMatchObject({ clusterIP: 'None', selector: { 'kubevmm.io/vm': 'web', 'app.kubernetes.io/component': 'attachment' } });
    expect(attachmentHost('web', 'team', 'data')).toBe('disk-data.hotplug-web.team.svc');
  });

  it('keeps names of long VMs within a DNS label, distinct by hash', () => {
    const a = hotplugServiceName('a'.repeat(63));
    const b = hotplugServiceName(`${'a'.repeat(62)}b`);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
    expect(boundedLabel('hotplug-', 'short')).toBe('hotplug-short');
  });
});
