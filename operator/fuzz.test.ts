// Property-based fuzzing over validate -> resolve -> render -> plan (issue 16). Valid VMs
// never make any stage throw, and what they render passes the API server's own checks on
// names, ports, quantities and annotation size; hostile input never makes validation throw.
// The real API server's server-side dry run of a sample: test/operator/dry-run.test.ts.
import type { V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { hostileVm, validVm } from '../api/fuzz/arbitraries.js';
import { QUANTITY_PATTERN } from '../api/quantity.js';
import { resolveVm } from '../api/resolve.js';
import { DEFAULT_CONFIG } from '../api/schema/config.js';
import { DNS_1035_PATTERN, DNS_SUBDOMAIN_PATTERN, LABEL_VALUE_PATTERN, PORT_NAME_PATTERN } from '../api/schema/kube.js';
import type { VirtualMachine } from '../api/schema/vm.js';
import { validateVm } from '../api/validate.js';
import { planReconcile } from './reconcile/plan.js';
import type { LauncherStatus, Observed } from './reconcile/types.js';
import { renderAttachmentPod, renderHotplugService } from './render/attachment.js';
import { renderLauncherPod } from './render/pod.js';

const RUNS = { numRuns: 300 };
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const matches = (pattern: string, value: string) => new RegExp(pattern).test(value);

/** What the API server checks of a pod that a bad VM field could break. Returns the problems. */
export function podProblems(pod: V1Pod): string[] {
  const out: string[] = [];
  const spec = pod.spec!;
  const name = pod.metadata?.name ?? '';
  if (name.length > 253 || !matches(DNS_SUBDOMAIN_PATTERN, name)) out.push(`pod name ${name}`);
  for (const [k, v] of Object.entries(pod.metadata?.labels ?? {})) if (v.length > 63 || !matches(LABEL_VALUE_PATTERN, v)) out.push(`label ${k}=${v}`);
  const annotations = Object.entries(pod.metadata?.annotations ?? {}).reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v), 0);
  if (annotations > 256 * 1024) out.push(`annotations are ${annotations} bytes`);
  const containers = [...(spec.initContainers ?? []), ...spec.containers];
  const names = containers.map((c) => c.name);
  if (new Set(names).size !== names.length || names.some((n) => n.length > 63 || !dnsLabel.test(n))) out.push(`container names ${names.join(',')}`);
  const volumes = (spec.volumes ?? []).map((v) => v.name);
  if (new Set(volumes).size !== volumes.length || volumes.some((n) => n.length > 63 || !dnsLabel.test(n))) out.push(`volume names ${volumes.join(',')}`);
  for (const c of containers) {
    for (const m of [...(c.volumeMounts ?? []), ...(c.volumeDevices ?? [])]) if (!volumes.includes(m.name)) out.push(`mount of unknown volume ${m.name}`);
    const resources = { ...c.resources?.requests, ...c.resources?.limits };
    for (const [k, q] of Object.entries(resources)) if (!matches(QUANTITY_PATTERN, String(q)) || /Infinity|NaN|e\+/.test(String(q))) out.push(`${c.name} ${k}=${q}`);
  }
  const ports = spec.containers.flatMap((c) => c.ports ?? []);
  const portNames = ports.flatMap((p) => (p.name ? [p.name] : []));
  if (new Set(portNames).size !== portNames.length || portNames.some((n) => n.length > 15 || !matches(PORT_NAME_PATTERN, n))) out.push(`port names ${portNames.join(',')}`);
  const portKeys = ports.map((p) => `${p.protocol}/${p.containerPort}`);
  if (new Set(portKeys).size !== portKeys.length || ports.some((p) => p.containerPort < 1 || p.containerPort > 65535)) out.push(`ports ${portKeys.join(',')}`);
  const grace = spec.terminationGracePeriodSeconds ?? 0;
  if (!Number.isSafeInteger(grace) || grace < 0) out.push(`terminationGracePeriodSeconds ${grace}`);
  if (spec.priorityClassName && !matches(DNS_SUBDOMAIN_PATTERN, spec.priorityClassName)) out.push(`priorityClassName ${spec.priorityClassName}`);
  return out;
}

const now = new Date('2026-11-26T12:00:00Z');
const settings = { config: DEFAULT_CONFIG, crashLoopBaseMs: 10_000, crashLoopMaxMs: 300_000, pollMs: 5_000 };

/** A launcher pod in one of the states reconcile meets, for the VM. */
const podState = fc.constantFrom('none', 'pending', 'running', 'unready', 'failed', 'succeeded', 'deleting');
const report: fc.Arbitrary<LauncherStatus | undefined> = fc.option(
  fc.record({
    state: fc.constantFrom('running', 'paused', 'starting', 'stopping'),
    accelerator: fc.constantFrom('kvm', 'tcg'),
    reason: fc.constantFrom('IoError', 'UserPaused'),
    startedAt: fc.constant(now.toISOString()),
    disks: fc.constant([]),
  }) as fc.Arbitrary<LauncherStatus>,
  { nil: undefined },
);

function podIn(state: string, vm: VirtualMachine): V1Pod | undefined {
  if (state === 'none') return undefined;
  const pod = renderLauncherPod({ vm, config: DEFAULT_CONFIG });
  const terminated = { exitCode: 1, message: 'QemuKilled: qemu exited', startedAt: new Date(now.getTime() - 60_000), finishedAt: now };
  const status: V1Pod['status'] = {
    pending: { phase: 'Pending' },
    running: { phase: 'Running', podIP: '10.0.0.7', conditions: [{ type: 'Ready', status: 'True' }] },
    unready: { phase: 'Running', podIP: '10.0.0.7', conditions: [{ type: 'Ready', status: 'False' }] },
    failed: { phase: 'Failed', containerStatuses: [{ name: 'launcher', image: 'l', imageID: '', ready: false, restartCount: 0, state: { terminated } }] },
    succeeded: { phase: 'Succeeded' },
    deleting: { phase: 'Running' },
  }[state];
  return { ...pod, metadata: { ...pod.metadata, ...(state === 'deleting' ? { deletionTimestamp: now } : {}) }, spec: { ...pod.spec!, nodeName: 'node-a' }, status };
}

describe('fuzz: validate -> resolve -> render -> plan', () => {
  it('the generator makes valid VMs (so the properties below reach every stage)', () => {
    fc.assert(
      fc.property(validVm, (manifest) => {
        expect(validateVm(manifest).issues).toEqual([]);
      }),
      RUNS,
    );
  });

  it('hostile input never makes validation throw; a refusal always names a field', () => {
    fc.assert(
      fc.property(fc.oneof(hostileVm, fc.anything()), (manifest) => {
        const { value, issues } = validateVm(manifest);
        if (!value) expect(issues.length).toBeGreaterThan(0);
        for (const issue of issues) expect(issue.message.length).toBeGreaterThan(0);
      }),
      { numRuns: 1000 },
    );
  });

  it('a valid VM renders a pod the API server would accept, and plans without throwing in any pod state', () => {
    fc.assert(
      fc.property(validVm, podState, report, fc.boolean(), (manifest, state, launcher, block) => {
        const vm = validateVm(manifest).value!;
        const resolved = resolveVm(vm, undefined, DEFAULT_CONFIG);
        expect(Number.isFinite(resolved.memory.guestBytes)).toBe(true);
        const claims = (vm.spec.disks ?? []).flatMap((d) => (d.persistentVolumeClaim ? [d.persistentVolumeClaim.claimName] : []));
        const pvcs = Object.fromEntries(claims.map((c) => [c, { mode: block ? ('Block' as const) : ('Filesystem' as const), sizeBytes: 2 ** 30 }]));
        expect(podProblems(renderLauncherPod({ vm, config: DEFAULT_CONFIG, pvcs }))).toEqual([]);
        const observed: Observed = { vm, missingPvcs: [], pvcs, now, ...(podIn(state, vm) ? { pod: podIn(state, vm) } : {}), ...(launcher ? { launcher } : {}) };
        const plan = planReconcile(observed, settings);
        expect(JSON.stringify(plan.status)).not.toMatch(/Infinity|NaN/);
      }),
      RUNS,
    );
  });

  it('every hotplug disk of a valid VM renders an attachment pod and a Service with valid names', () => {
    fc.assert(
      fc.property(validVm, (manifest) => {
        const vm = validateVm(manifest).value!;
        const service = renderHotplugService(vm);
        expect(service.metadata?.name).toMatch(new RegExp(DNS_1035_PATTERN));
        expect(service.metadata?.name?.length).toBeLessThanOrEqual(63);
        for (const d of (vm.spec.disks ?? []).filter((x) => x.hotpluggable && x.persistentVolumeClaim)) {
          const disk = { name: d.name, claimName: d.persistentVolumeClaim!.claimName, readOnly: d.readOnly ?? false };
          const pod = renderAttachmentPod({ vm, config: DEFAULT_CONFIG, disk, node: 'node-a', pvc: { mode: 'Filesystem', sizeBytes: 2 ** 30 } });
          expect(podProblems(pod)).toEqual([]);
          expect(`${pod.spec?.hostname}`.length).toBeLessThanOrEqual(63);
        }
      }),
      RUNS,
    );
  });
});
