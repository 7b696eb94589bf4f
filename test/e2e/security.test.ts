// The control path on the real node: the operator reaches a real launcher over mutual TLS,
// the launcher refuses anything else, and the operator cannot read the VM's Secrets.
import { spawnSync } from 'node:child_process';
import { E2E_UP_TIMEOUT_MS, guestDiskRoot, kubectl, testNamespace, useE2eCluster } from './helpers/cluster.js';
import { apply, launcherPod, patchSpec, vmManifest, waitForVm } from './helpers/vm.js';

let ns: { name: string; drop: () => void };

beforeAll(() => {
  useE2eCluster();
  ns = testNamespace('e2e-sec');
}, E2E_UP_TIMEOUT_MS);
afterAll(() => ns?.drop());

/** curl from this host (the node) to the launcher's control port; prints the HTTP code. */
function curl(args: string[]): string {
  return spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', ...args], { encoding: 'utf8' }).stdout.trim();
}

it('the operator drives a real launcher over mutual TLS, and the launcher takes nothing else', async () => {
  apply(vmManifest(ns.name, 'guarded', { disks: [guestDiskRoot()] }));
  await waitForVm(ns.name, 'guarded', 'Running');
  patchSpec(ns.name, 'guarded', { paused: true });
  await waitForVm(ns.name, 'guarded', 'Paused');
  patchSpec(ns.name, 'guarded', { paused: false });
  await waitForVm(ns.name, 'guarded', 'Running');
  // The launcher names the client certificate of every call that changes something.
  const log = kubectl(['-n', ns.name, 'logs', 'guarded-launcher', '-c', 'launcher']).stdout;
  expect(log).toMatch(/control: POST \/pause by kubevmm-operator: 200/);
  expect(log).toMatch(/control: POST \/resume by kubevmm-operator: 200/);

  const ip = launcherPod(ns.name, 'guarded')?.status?.podIP as string;
  expect(curl([`http://${ip}:9500/status`])).toBe('400'); // plain HTTP: TlsRequired
  expect(curl(['-k', `https://${ip}:9500/status`])).toBe('401'); // no client certificate
  expect(curl(['-k', `https://${ip}:9500/readyz`])).toBe('200'); // what the kubelet's probe does
});

it('the operator may write the VM’s credentials but read no Secret in the VM’s namespace', () => {
  const as = ['--as', 'system:serviceaccount:kubevmm-system:kubevmm'];
  const can = (verb: string) => kubectl(['auth', 'can-i', verb, 'secrets', '-n', ns.name, ...as], { allowFail: true }).stdout.trim();
  expect(['get', 'list', 'watch'].map(can)).toEqual(['no', 'no', 'no']);
  expect(can('create')).toBe('yes');
  expect(kubectl(['-n', ns.name, 'get', 'secret', 'guarded-launcher-credentials', '-o', 'jsonpath={.type}']).stdout).toBe('kubernetes.io/tls');
});
