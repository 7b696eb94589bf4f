// The fuzz suite's other half (operator/fuzz.test.ts holds the properties): a sample of the
// generated valid VMs is accepted by the real API server's CRD schema and CEL rules, and the
// pods, attachment pods and Services rendered from them pass its server-side dry run (full
// validation and admission, nothing stored). A field the API server would refuse in a pod
// shows up here before any user meets it.
import type { V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { validVm } from '../../api/fuzz/arbitraries.js';
import { DEFAULT_CONFIG } from '../../api/schema/config.js';
import { validateVm } from '../../api/validate.js';
import { renderAttachmentPod, renderHotplugService } from '../../operator/render/attachment.js';
import { renderLauncherPod } from '../../operator/render/pod.js';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlane, type ControlPlane } from './helpers/control-plane.js';
import { createNamespace, kubectl } from './helpers/operator-process.js';

const NS = `dryrun-${Date.now().toString(36).slice(-5)}`;
const SAMPLE = 40;
let cp: ControlPlane;

beforeAll(async () => {
  cp = await useControlPlane();
  await cp.kubectl('apply', '--server-side', '--force-conflicts', '-f', 'crds/');
  await cp.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/virtualmachines.kubevmm.io');
  createNamespace(NS);
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  kubectl(['delete', 'namespace', NS, '--wait=false'], { allowFail: true });
  await cp?.release();
});

/** The sample, renamed into this suite's namespace with unique names. */
function sample() {
  return fc.sample(validVm, { numRuns: SAMPLE, seed: 16 }).map((vm, i) => {
    const name = `v${i}-${vm.metadata.name}`.slice(0, 55).replace(/-+$/, '');
    return { ...vm, metadata: { ...vm.metadata, name, namespace: NS } };
  });
}

/** Dry-runs `items` on the server; returns kubectl's complaints (empty when all were accepted). */
function dryRun(items: unknown[]): string {
  const r = kubectl(['create', '--dry-run=server', '-o', 'name', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }), allowFail: true });
  return r.code === 0 ? '' : r.stderr;
}

/** A PriorityClass must exist for admission, which is about the cluster, not the pod's validity. */
function withoutPriority(pod: V1Pod): V1Pod {
  const { priorityClassName: _priority, ...spec } = pod.spec!;
  return { ...pod, spec };
}

describe('fuzz sample against the real API server', () => {
  it('accepts every generated VM with the CRD schema and its CEL rules', () => {
    const vms = sample();
    for (const vm of vms) expect(validateVm(vm).issues).toEqual([]);
    expect(dryRun(vms)).toBe('');
  });

  it('accepts the launcher pod, attachment pods and Service rendered from each, in a server-side dry run', () => {
    const objects = sample().flatMap((manifest, i) => {
      const vm = validateVm(manifest).value!;
      const claims = (vm.spec.disks ?? []).flatMap((d) => (d.persistentVolumeClaim ? [d.persistentVolumeClaim.claimName] : []));
      const pvcs = Object.fromEntries(claims.map((c) => [c, { mode: i % 2 ? ('Block' as const) : ('Filesystem' as const), sizeBytes: 2 ** 30 }]));
      const hot = (vm.spec.disks ?? []).filter((d) => d.hotpluggable && d.persistentVolumeClaim);
      return [
        withoutPriority(renderLauncherPod({ vm, config: DEFAULT_CONFIG, pvcs })),
        ...(hot.length ? [renderHotplugService(vm)] : []),
        ...hot.map((d) => withoutPriority(renderAttachmentPod({ vm, config: DEFAULT_CONFIG, disk: { name: d.name, claimName: d.persistentVolumeClaim!.claimName, readOnly: d.readOnly ?? false }, node: 'node-a', pvc: { mode: i % 2 ? 'Block' : 'Filesystem', sizeBytes: 2 ** 30 } }))),
      ];
    });
    console.log(`dry-run: ${objects.length} objects from ${SAMPLE} generated VMs`);
    expect(objects.length).toBeGreaterThanOrEqual(SAMPLE);
    expect(dryRun(objects)).toBe('');
  });
});
