// The end-to-end cluster for test/e2e suites: a real node with kubevmm installed by its chart
// (test/e2e/e2e.sh). Suites run one at a time and share it: `up` is idempotent, the first
// suite pays for it and the last one (teardown.test.ts) takes it down. A missing tool or a
// failed build fails the suite with the hint; it never skips.
import { e2eImageRef, e2eScript } from '../../../harness/e2e-cluster.js';
import { createNamespace, kubectl } from '../../operator/helpers/operator-process.js';

export { useE2eCluster } from '../../../harness/e2e-cluster.js';
export { getJson, kubectl, waitFor } from '../../operator/helpers/operator-process.js';

/** A first `up` builds containerd, CoreDNS and the images (minutes); later ones take seconds. */
export const E2E_UP_TIMEOUT_MS = 45 * 60_000;

const refs = new Map<string, string>();

/** The reference of one of kubevmm's images as imported into the node (launcher, operator, guest-disk); asked once per suite. */
export function imageRef(name: 'launcher' | 'operator' | 'guest-disk'): string {
  const ref = refs.get(name) ?? e2eImageRef(name);
  refs.set(name, ref);
  return ref;
}

/** The test guest as a read-only containerDisk named root: the disk most e2e VMs boot from. */
export function guestDiskRoot(): { name: 'root'; readOnly: true; containerDisk: { image: string } } {
  return { name: 'root', readOnly: true, containerDisk: { image: imageRef('guest-disk') } };
}

/** Restarts the node's kubelet alone (e2e.sh restart-kubelet). */
export function restartKubelet(): void {
  e2eScript(['restart-kubelet'], 'restarting the kubelet');
}

/** Gives an imported image a second name on the node (e2e.sh retag). */
export function retagImage(ref: string, newRef: string): void {
  e2eScript(['retag', ref, newRef], `retagging ${ref} as ${newRef}`);
}

/** A static local PV on the node (see e2e.sh pv); `from` is copied onto it. */
export function localPv(name: string, size: string, opts: { from?: string; block?: boolean } = {}): string {
  return e2eScript(['pv', name, size, ...(opts.from ? [opts.from] : []), ...(opts.block ? ['--block'] : [])], `creating PV ${name}`).trim();
}

/** A namespace for one suite; `drop` deletes it and waits until everything in it is gone. */
export function testNamespace(prefix: string): { name: string; drop: () => void } {
  const name = `${prefix}-${process.pid % 100000}`;
  createNamespace(name);
  return { name, drop: () => void kubectl(['delete', 'namespace', name, '--wait=true', '--timeout=180s'], { allowFail: true }) };
}
