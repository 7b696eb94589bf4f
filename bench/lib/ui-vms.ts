// VMs for bench/ui-inventory.ts: N VirtualMachines created through the API with a status the
// bench writes as the operator would (the operator does not run), and a steady stream of
// status patches so the page has watch events to keep up with.
import { PatchStrategy, setHeaderOptions, type CustomObjectsApi } from '@kubernetes/client-node';

// client-node 1.x takes the patch type from the call's options; a status writer sends a merge patch.
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const GROUP = 'kubevmm.io';
const VERSION = 'v1alpha1';
const PLURAL = 'virtualmachines';

/** The name of VM `i` (zero-padded, so name order is creation order). */
export const vmName = (i: number): string => `vm-${String(i).padStart(4, '0')}`;

function status(i: number, tick: number): Record<string, unknown> {
  const running = (i + tick) % 7 !== 0;
  return {
    printableStatus: running ? 'Running' : 'Stopped',
    nodeName: `kwok-node-${i % 4}`,
    cpus: 1 + (i % 4),
    memory: `${1 + (i % 8)}Gi`,
    interfaces: running ? [{ name: 'default', ipAddress: `10.244.${Math.floor(i / 250)}.${i % 250}` }] : [],
    guest: running ? { agentConnected: true, osName: i % 2 ? 'Debian GNU/Linux' : 'Ubuntu', hostname: vmName(i) } : {},
  };
}

async function inFlight<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** Makes VMs 0..count-1 exist in `namespace` (creating the missing ones), each with a status. */
export async function ensureVms(api: CustomObjectsApi, namespace: string, count: number, have: number): Promise<void> {
  const todo = Array.from({ length: count - have }, (_, k) => have + k);
  await inFlight(todo, 20, async (i) => {
    const body = { apiVersion: `${GROUP}/${VERSION}`, kind: 'VirtualMachine', metadata: { name: vmName(i), namespace }, spec: { runStrategy: 'Always', cpu: { cores: 1 }, memory: { guest: '1Gi' }, disks: [{ name: 'root', containerDisk: { image: 'registry.example/os/debian:12' } }] } };
    await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, body });
    await patchStatus(api, namespace, i, 0);
  });
}

/** Writes VM i's status for `tick` (a merge patch of the status subresource). */
export async function patchStatus(api: CustomObjectsApi, namespace: string, i: number, tick: number): Promise<void> {
  await api.patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name: vmName(i), body: { status: status(i, tick) } }, mergePatch);
}


/** Patches `perTick` statuses every `everyMs` until stopped; returns the stop function and the count sent. */
export function keepPatching(api: CustomObjectsApi, namespace: string, opts: { count: number; perTick: number; everyMs: number }): { stop: () => Promise<number> } {
  let tick = 1;
  let sent = 0;
  let cursor = 0;
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    const batch = Array.from({ length: opts.perTick }, () => cursor++ % opts.count);
    const t = tick++;
    running = running.then(() => inFlight(batch, 10, async (i) => {
      await patchStatus(api, namespace, i, t);
      sent++;
    })).catch((err: unknown) => {
      process.stderr.write(`status patch failed: ${String(err)}\n`);
    });
  }, opts.everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
      return sent;
    },
  };
}
