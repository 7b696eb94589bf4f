// The end-to-end cluster for test/e2e suites: a real node with kubevmm installed by its chart
// (test/e2e/e2e.sh). Suites run one at a time and share it: `up` is idempotent, the first
// suite pays for it and the last one (teardown.test.ts) takes it down. A missing tool or a
// failed build fails the suite with the hint; it never skips.
import { spawnSync } from 'node:child_process';
import { applyExports } from '../../operator/helpers/control-plane.js';
import { createNamespace, kubectl } from '../../operator/helpers/operator-process.js';

export { getJson, kubectl, waitFor } from '../../operator/helpers/operator-process.js';

const E2E = 'test/e2e/e2e.sh';

/** A first `up` builds containerd, CoreDNS and the images (minutes); later ones take seconds. */
export const E2E_UP_TIMEOUT_MS = 45 * 60_000;

function e2e(args: string[], what: string): string {
  const r = spawnSync('bash', [E2E, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: process.env });
  if (r.status !== 0) throw new Error(`${what} failed (bash ${E2E} ${args.join(' ')}):\n${(r.stderr ?? '').slice(-4000)}`);
  return r.stdout;
}

/** Brings the cluster up (or finds it up) and points kubectl in this process at it. */
export function useE2eCluster(): void {
  applyExports(e2e(['up'], 'the end-to-end cluster (real node, images, helm install)'));
  if (!process.env.KUBECONFIG) throw new Error(`${E2E} up printed no KUBECONFIG`);
}

/** The reference of one of kubevmm's images as imported into the node (launcher, operator, guest-disk). */
export function imageRef(name: 'launcher' | 'operator' | 'guest-disk'): string {
  const ref = e2e(['image', name], `looking up image ${name}`).trim();
  if (!ref) throw new Error(`no ${name} image was imported (bash ${E2E} up builds it)`);
  return ref;
}

/** A static local PV on the node (see e2e.sh pv); `from` is copied onto it. */
export function localPv(name: string, size: string, opts: { from?: string; block?: boolean } = {}): string {
  return e2e(['pv', name, size, ...(opts.from ? [opts.from] : []), ...(opts.block ? ['--block'] : [])], `creating PV ${name}`).trim();
}

/** A namespace for one suite; `drop` deletes it and waits until everything in it is gone. */
export function testNamespace(prefix: string): { name: string; drop: () => void } {
  const name = `${prefix}-${process.pid % 100000}`;
  createNamespace(name);
  return { name, drop: () => void kubectl(['delete', 'namespace', name, '--wait=true', '--timeout=180s'], { allowFail: true }) };
}
