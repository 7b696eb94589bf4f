import { EXIT, VerbError } from '../exit.js';
import { ClusterError } from './api-errors.js';
import { runEditFlow, type VmEditor } from './edit-flow.js';
import { lifecycleEdit, type LifecycleRequest } from './lifecycle.js';
import { EditRefused, type VmPatch } from '../../api/vm-edits.js';
import type { VmObject } from './vm-api.js';
import { volumeEdit } from './volumes.js';
import type { WatchHandlers } from './wait.js';

type Status = NonNullable<VmObject['status']>;

/**
 * One VM as the API server holds it: a patch bumps its resourceVersion and generation (the
 * operator's side is played by `operate`, which writes status and tells the watch).
 */
class Cluster implements VmEditor {
  readonly name = 'web';
  vm: VmObject;
  patches: VmPatch[] = [];
  /** Errors the next patches fail with, in order. */
  failPatches: unknown[] = [];
  private handlers: WatchHandlers | undefined;
  private watched: (() => void) | undefined;

  constructor(spec: VmObject['spec'], status: Status) {
    this.vm = { metadata: { name: 'web', resourceVersion: '1', generation: 1 }, spec, status: { observedGeneration: 1, ...status } };
  }

  private bump(): void {
    this.vm = { ...this.vm, metadata: { ...this.vm.metadata, resourceVersion: String(Number(this.vm.metadata.resourceVersion) + 1) } };
  }

  async get() {
    return structuredClone(this.vm);
  }

  async patch(patch: VmPatch) {
    this.patches.push(patch);
    const failure = this.failPatches.shift();
    if (failure) throw failure;
    this.bump();
    this.vm.metadata.generation! += 1;
    if (patch.type === 'merge') this.vm.spec = { ...this.vm.spec, ...patch.body.spec };
    return structuredClone(this.vm);
  }

  async watch(_rv: string, handlers: WatchHandlers) {
    this.handlers = handlers;
    this.watched?.();
    return () => undefined;
  }

  async watching(): Promise<void> {
    while (!this.handlers) await new Promise<void>((r) => (this.watched = r));
  }

  /** The operator reports `status` for the current generation. */
  operate(status: Status): void {
    this.bump();
    this.vm.status = { ...this.vm.status, ...status, observedGeneration: this.vm.metadata.generation! };
    this.handlers?.event('MODIFIED', structuredClone(this.vm));
  }

  /** Someone else edits the VM (a new resourceVersion). */
  touch(): void {
    this.bump();
  }
}

function output() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: { write: (c: string) => out.push(c) }, err: { write: (c: string) => err.push(c), isTTY: false } } };
}

const stop = (extra: Partial<LifecycleRequest> = {}): LifecycleRequest => ({ verb: 'stop', name: 'web', force: false, wait: true, timeout: 5, ...extra }) as LifecycleRequest;

function run(cluster: Cluster, request: LifecycleRequest, io: ReturnType<typeof output>['io']) {
  const now = new Date('2026-01-01T00:00:00Z');
  return runEditFlow({ client: cluster, verb: request.verb, edit: (vm) => lifecycleEdit(request, vm, now), wait: request, io });
}

describe('a declarative verb against the cluster', () => {
  it('stop: patches runStrategy Halted, shows each phase on stderr, prints the final state on stdout, exit 0', async () => {
    const cluster = new Cluster({ runStrategy: 'Always' }, { printableStatus: 'Running' });
    const o = output();
    const done = run(cluster, stop({ grace: 5 }), o.io);
    await cluster.watching();
    cluster.operate({ printableStatus: 'Stopping' });
    cluster.operate({ printableStatus: 'Stopping' });
    cluster.operate({ printableStatus: 'Stopped' });
    await expect(done).resolves.toBe(EXIT.ok);
    expect(cluster.patches).toEqual([{ type: 'merge', body: { spec: { runStrategy: 'Halted', terminationGracePeriodSeconds: 5 } } }]);
    expect(o.err.map((l) => l.replace(/ \(\d+s\)/, ''))).toEqual(['vm/web: Running\n', 'vm/web: Stopping\n']);
    expect(o.out).toEqual(['vm/web: Stopped\n']);
  });

  it('--no-wait: returns once the patch is accepted, saying what it asked for', async () => {
    const cluster = new Cluster({ runStrategy: 'Halted' }, { printableStatus: 'Stopped' });
    const o = output();
    await expect(run(cluster, { verb: 'start', name: 'web', wait: false, timeout: 5 }, o.io)).resolves.toBe(EXIT.ok);
    expect(cluster.patches).toEqual([{ type: 'merge', body: { spec: { runStrategy: 'Always' } } }]);
    expect(o.out).toEqual(['vm/web: start requested; now Stopped (not waiting for Running)\n']);
  });

  it('--timeout: exit 3 with what the VM was last seen doing', async () => {
    const cluster = new Cluster({ runStrategy: 'Always' }, { printableStatus: 'Running' });
    const o = output();
    const done = run(cluster, stop({ timeout: 1 }), o.io);
    await cluster.watching();
    cluster.operate({ printableStatus: 'Stopping' });
    const err = (await done.catch((e: unknown) => e)) as VerbError;
    expect(err).toBeInstanceOf(VerbError);
    expect(err.exitCode).toBe(EXIT.timedOut);
    expect(err.message).toBe('timed out after 1s waiting for vm/web to be Stopped; last seen: vm/web: Stopping');
  });

  it('a wait that fails: exit 1 with the reason (the operator could not attach the disk)', async () => {
    const cluster = new Cluster({ disks: [] }, { printableStatus: 'Running' });
    const o = output();
    const done = runEditFlow({ client: cluster, verb: 'addvolume', edit: (vm) => volumeEdit({ verb: 'addvolume', name: 'web', claim: 'data', wait: true, timeout: 5 }, vm), wait: { wait: true, timeout: 5 }, io: o.io });
    await cluster.watching();
    cluster.operate({ printableStatus: 'Running', disks: [{ name: 'data', phase: 'Failed', message: 'PersistentVolumeClaim data is in read-write use by VirtualMachine db' }] });
    const err = (await done.catch((e: unknown) => e)) as VerbError;
    expect(err.exitCode).toBe(EXIT.failed);
    expect(err.message).toBe('addvolume vm/web failed: web: disk data Failed: PersistentVolumeClaim data is in read-write use by VirtualMachine db');
    expect(cluster.patches[0]).toEqual({ type: 'json', body: [{ op: 'test', path: '/metadata/resourceVersion', value: '1' }, { op: 'add', path: '/spec/disks', value: [{ name: 'data', hotpluggable: true, persistentVolumeClaim: { claimName: 'data' } }] }] });
  });

  it('a refused edit is not sent: exit 1 with the fix', async () => {
    const cluster = new Cluster({ runStrategy: 'Halted' }, { printableStatus: 'Stopped' });
    await expect(run(cluster, { verb: 'restart', name: 'web', wait: true, timeout: 5 }, output().io)).rejects.toThrow(new EditRefused('VM web is Halted, so there is nothing to restart: start it with `kubevmm start web`'));
    expect(cluster.patches).toEqual([]);
  });

  it('a VM changed between read and patch: the edit is worked out again from the VM as it is now', async () => {
    const cluster = new Cluster({ disks: [{ name: 'data', hotpluggable: true, persistentVolumeClaim: { claimName: 'data' } }] }, { printableStatus: 'Running' });
    cluster.failPatches = [new ClusterError('the API server refused the change to virtualmachine "web"', false, 422)];
    const refusedOnce = cluster.patch.bind(cluster);
    cluster.patch = async (p) => {
      if (cluster.failPatches.length) cluster.touch(); // someone else edited it meanwhile
      return refusedOnce(p);
    };
    const o = output();
    await expect(runEditFlow({ client: cluster, verb: 'removevolume', edit: (vm) => volumeEdit({ verb: 'removevolume', name: 'web', disk: 'data', wait: false, timeout: 5 }, vm), wait: { wait: false, timeout: 5 }, io: o.io })).resolves.toBe(EXIT.ok);
    expect(cluster.patches.map((p) => (p.type === 'json' ? p.body[0] : undefined))).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '1' },
      { op: 'test', path: '/metadata/resourceVersion', value: '2' },
    ]);
  });

  it('a refusal with the VM unchanged is the answer (not a conflict): exit 1 with it', async () => {
    const cluster = new Cluster({ disks: [] }, { printableStatus: 'Running' });
    const invalid = new ClusterError('the API server refused the change to virtualmachine "web" (the server said: hotpluggable disks use bus virtio or scsi)', false, 422);
    cluster.failPatches = [invalid];
    const flow = runEditFlow({ client: cluster, verb: 'addvolume', edit: (vm) => volumeEdit({ verb: 'addvolume', name: 'web', claim: 'data', bus: 'sata', wait: true, timeout: 5 }, vm), wait: { wait: true, timeout: 5 }, io: output().io });
    await expect(flow).rejects.toBe(invalid);
    expect(cluster.patches).toHaveLength(1);
  });
});
