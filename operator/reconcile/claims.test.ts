import type { V1Pod } from '@kubernetes/client-node';
import type { VirtualMachine, VmStatus } from '../../api/schema/vm.js';
import { claimConflicts, conflictMessage } from './claims.js';

function vm(name: string, status?: VmStatus, spec: Partial<VirtualMachine['spec']> = {}): VirtualMachine {
  return {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: 'team' },
    spec: { memory: { guest: '1Gi' }, disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'shared' } }], ...spec },
    ...(status ? { status } : {}),
  };
}
const podOf = (owner: string, claim: string, phase = 'Running', readOnly = false): V1Pod => ({
  metadata: { name: `${owner}-launcher`, namespace: 'team', labels: { 'kubevmm.io/vm': owner } },
  spec: { containers: [], volumes: [{ name: 'disk-root', persistentVolumeClaim: { claimName: claim, readOnly } }] },
  status: { phase },
});
const holders = (me: VirtualMachine, vms: VirtualMachine[], pods: V1Pod[] = []) => claimConflicts(me, vms, pods).map((c) => `${c.claim}:${c.holder}:${c.running}`);

describe('claimConflicts: one read-write user per claim, enforced by the operator', () => {
  it('a pod of another VM mounting the claim read-write holds it, whatever the names', () => {
    const [a, b] = [vm('a'), vm('b')];
    expect(holders(a, [a, b], [podOf('b', 'shared')])).toEqual(['shared:b:true']);
    expect(holders(b, [a, b], [podOf('b', 'shared')])).toEqual([]);
  });

  it('two VMs created at the same moment, no pod yet: exactly one may start, the same from both sides', () => {
    const [a, b] = [vm('a'), vm('b')];
    expect(holders(a, [a, b])).toEqual([]);
    expect(holders(b, [a, b])).toEqual(['shared:a:false']);
  });

  it('a VM in the middle of a run (crash-looping, no pod) keeps its claim against a new one', () => {
    const looping = vm('z', { printableStatus: 'CrashLoopBackOff', startedAt: '2026-11-26T10:00:00Z' });
    const fresh = vm('a');
    expect(holders(fresh, [looping, fresh])).toEqual(['shared:z:false']);
    expect(holders(looping, [looping, fresh])).toEqual([]);
  });

  it('stopped, Halted, deleting, waiting or read-only users, terminal pods and other namespaces hold nothing', () => {
    const me = vm('m');
    const others = [
      vm('a', { printableStatus: 'Stopped' }, { runStrategy: 'RerunOnFailure' }),
      vm('b', undefined, { runStrategy: 'Halted' }),
      vm('c', { printableStatus: 'ErrorPvcInUse' }),
      vm('d', undefined, { disks: [{ name: 'root', readOnly: true, persistentVolumeClaim: { claimName: 'shared' } }] }),
      { ...vm('e'), metadata: { name: 'e', namespace: 'elsewhere' } },
      { ...vm('f'), metadata: { name: 'f', namespace: 'team', deletionTimestamp: '2026-11-26T10:00:00Z' } },
    ];
    expect(holders(me, [me, ...others], [podOf('g', 'shared', 'Failed'), podOf('h', 'shared', 'Running', true)])).toEqual([]);
  });

  it('a VM Stopped under Always is restarting and keeps its claim', () => {
    const restarting = vm('z', { printableStatus: 'Stopped', startedAt: '2026-11-26T10:00:00Z' });
    expect(holders(vm('a'), [restarting, vm('a')])).toEqual(['shared:z:false']);
  });

  it('says who has the claim and what to do', () => {
    expect(conflictMessage(claimConflicts(vm('b'), [vm('a'), vm('b')], []))).toBe(
      'PersistentVolumeClaim shared goes to VirtualMachine a first (both want it read-write; the name that sorts first starts); stop a or set readOnly: true on both',
    );
  });
});
