// VirtualMachines on the end-to-end cluster: apply, read status, wait, and read the guest's
// console as a user would (`kubectl logs <vm>-launcher -c guest-console`).
import { spawnSync } from 'node:child_process';
import { stringify } from 'yaml';
import { getJson, kubectl, waitFor } from './cluster.js';

/** Time for a busybox test guest to boot under TCG on a busy machine, with room to spare. */
export const BOOT_MS = 180_000;

/** The fields a test looks at; the rest of status is untyped. */
export interface VmObject {
  metadata: { name: string; namespace: string; uid: string; generation: number };
  spec: Record<string, any>;
  status?: Record<string, any>;
}

/** kubectl apply of one object (YAML or a plain object). */
export function apply(object: unknown): void {
  kubectl(['apply', '-f', '-'], { input: typeof object === 'string' ? object : stringify(object) });
}

/** A VirtualMachine manifest with the defaults the tests share (TCG-friendly size, no VNC). */
export function vmManifest(ns: string, name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: ns },
    spec: { cpu: { cores: 1 }, memory: { guest: '128Mi' }, devices: { graphics: 'none' }, terminationGracePeriodSeconds: 30, ...spec },
  };
}

export function getVm(ns: string, name: string): VmObject | undefined {
  return getJson<VmObject>(['-n', ns, 'virtualmachine', name]);
}

/** JSON merge patch of a VM's spec, as `kubectl patch --type=merge` does. */
export function patchSpec(ns: string, name: string, spec: Record<string, unknown>): void {
  kubectl(['-n', ns, 'patch', 'virtualmachine', name, '--type=merge', '-p', JSON.stringify({ spec })]);
}

/** Waits until the VM's printableStatus is `printable` (and `extra` holds); returns the VM. */
export function waitForVm(ns: string, name: string, printable: string, opts: { ms?: number; extra?: (vm: VmObject) => boolean } = {}): Promise<VmObject> {
  return waitFor(
    `VM ${ns}/${name} to be ${printable} (now ${getVm(ns, name)?.status?.printableStatus ?? 'absent'})`,
    () => {
      const vm = getVm(ns, name);
      return vm?.status?.printableStatus === printable && (!opts.extra || opts.extra(vm)) ? vm : undefined;
    },
    opts.ms ?? BOOT_MS,
  );
}

/** The condition of `type` in the VM's status. */
export function condition(vm: VmObject | undefined, type: string): { status: string; reason: string; message: string } | undefined {
  return vm?.status?.conditions?.find((c: { type: string }) => c.type === type);
}

/** What `kubectl logs <vm>-launcher -c guest-console` prints now ('' when there is no pod). */
export function consoleLog(ns: string, vm: string): string {
  const r = spawnSync('kubectl', ['-n', ns, 'logs', `${vm}-launcher`, '-c', 'guest-console'], { encoding: 'utf8', env: process.env });
  return r.status === 0 ? r.stdout : '';
}

/** Waits for a line of the guest console matching `pattern`; returns the match. */
export function waitForConsole(ns: string, vm: string, pattern: RegExp, ms = BOOT_MS): Promise<RegExpMatchArray> {
  return waitFor(`console of ${ns}/${vm} to show ${pattern}`, () => consoleLog(ns, vm).match(pattern) ?? undefined, ms);
}

/** The launcher pod of a VM, or undefined. */
export function launcherPod(ns: string, vm: string): Record<string, any> | undefined {
  return getJson(['-n', ns, 'pod', `${vm}-launcher`]);
}

/**
 * Types `text` on the VM's serial console, as a person at the console would, through the
 * launcher's console (`kubectl exec ... launcher console`, which the suites' admin may do; the
 * console subresource as users reach it is cli.test.ts's subject, without pods/exec). The session detaches when the text is sent; answers appear in the console log.
 */
export function typeOnConsole(ns: string, vm: string, text: string): void {
  const r = spawnSync('kubectl', ['-n', ns, 'exec', '-i', `${vm}-launcher`, '-c', 'launcher', '--', 'node', '/app/launcher.mjs', 'console'], {
    input: text,
    encoding: 'utf8',
    env: process.env,
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`typing on the console of ${ns}/${vm} failed: ${r.stderr}`);
}

/**
 * Runs `command` in the busybox guest's shell and waits for it to print `KUBEVMM-OK-<n>`, a
 * marker the command line itself does not contain (the console echoes what is typed).
 */
export async function runInGuest(ns: string, vm: string, command: string, ms = 60_000): Promise<void> {
  const n = Math.floor(Math.random() * 1e6);
  typeOnConsole(ns, vm, `\r${command} && echo KUBEVMM-OK-$((${n}+1))\r`);
  await waitForConsole(ns, vm, new RegExp(`KUBEVMM-OK-${n + 1}\\b`), ms).catch((err: Error) => {
    throw new Error(`${err.message}\nthe console ended with:\n${consoleLog(ns, vm).slice(-1500)}`);
  });
}

/** What of VM `vm` is still in the namespace: pods (launcher, attachment), Services and Secrets whose name contains it. */
export function leftovers(ns: string, vm: string): string[] {
  return ['pods', 'services', 'secrets'].flatMap((kind) =>
    ((getJson(['-n', ns, kind])?.items ?? []) as { metadata: { name: string } }[]).map((o) => `${kind}/${o.metadata.name}`).filter((n) => n.includes(vm)),
  );
}
