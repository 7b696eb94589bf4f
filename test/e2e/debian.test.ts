// A real operating system through the real node: the Debian guest (systemd, cloud-init,
// qemu-guest-agent) on a local PV. What the guest agent says lands in status.guest; the
// address others reach the VM at stays the pod's (status.interfaces). `kubevmm ssh` reaches
// its sshd through the portforward subresource, with the host key pinned under the VM's name.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDebianGuest, loginPrompt } from '../../harness/guest.js';
import { requireSshClient, sshKeyPair } from '../launcher/helpers/ssh.js';
import { dropKubevmm, kubevmm, useKubevmm } from './helpers/cli.js';
import { claimManifest } from './helpers/pvc.js';
import { E2E_UP_TIMEOUT_MS, localPv, testNamespace, useE2eCluster, waitFor } from './helpers/cluster.js';
import { apply, consoleLog, getVm, launcherPod, vmManifest, waitForConsole, waitForVm } from './helpers/vm.js';

/** ~70 CPU-s of TCG to a login prompt: 50 s on a quiet machine, minutes on a busy one. */
const DEBIAN_BOOT_MS = 480_000;
let ns: { name: string; drop: () => void };
let dir: string;
let keys: { privateKey: string; publicKey: string };

beforeAll(async () => {
  useE2eCluster();
  ns = testNamespace('e2e-deb');
  await requireSshClient();
  dir = mkdtempSync(join(tmpdir(), 'kubevmm-e2e-deb-'));
  keys = await sshKeyPair(dir);
  await useKubevmm();
}, E2E_UP_TIMEOUT_MS);
afterAll(async () => {
  ns?.drop();
  await dropKubevmm();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('boots Debian from a PVC: a login prompt in the console log, the guest agent’s view in status.guest', async () => {
  const pv = localPv(`${ns.name}-root`, '2Gi', { from: await buildDebianGuest() });
  apply(claimManifest(ns.name, 'root', '2Gi', { name: pv }));
  const userData = ['#cloud-config', 'hostname: deb-e2e', 'ssh_authorized_keys:', `  - ${keys.publicKey}`, 'runcmd:', '  - echo "kubevmm-e2e-runcmd $(hostname)"', ''].join('\n');
  apply(
    vmManifest(ns.name, 'deb', {
      memory: { guest: '512Mi' },
      devices: { graphics: 'none', guestAgent: true },
      terminationGracePeriodSeconds: 90,
      disks: [
        { name: 'root', persistentVolumeClaim: { claimName: 'root' } },
        { name: 'cloudinit', cloudInit: { userData } },
      ],
    }),
  );
  await waitForVm(ns.name, 'deb', 'Running', { ms: 120_000 });
  await waitForConsole(ns.name, 'deb', loginPrompt('deb-e2e'), DEBIAN_BOOT_MS);
  // cloud-init's final stage runs the user data's runcmd after the login prompt appears.
  await waitForConsole(ns.name, 'deb', /kubevmm-e2e-runcmd deb-e2e/, 240_000);
  const vm = await waitFor('the guest agent in status.guest', () => {
    const v = getVm(ns.name, 'deb');
    return v?.status?.guest?.agentConnected && v.status.guest.hostname === 'deb-e2e' && v.status.guest.interfaces?.length ? v : undefined;
  }, 240_000);
  expect(vm.status?.guest).toMatchObject({ agentConnected: true, osName: 'Debian GNU/Linux', hostname: 'deb-e2e' });
  expect(vm.status?.guest?.interfaces).toContainEqual(expect.objectContaining({ name: expect.any(String), macAddress: expect.stringMatching(/^52:54:00:/), ipAddresses: expect.arrayContaining(['10.0.2.15']) }));
  // Others reach the VM at its pod's address, not at the guest's user-mode network address.
  expect(vm.status?.interfaces).toEqual([{ name: 'default', ipAddress: launcherPod(ns.name, 'deb')?.status?.podIP }]);
  expect(vm.status?.conditions).toContainEqual(expect.objectContaining({ type: 'AgentConnected', status: 'True' }));
}, DEBIAN_BOOT_MS + 300_000);

it('`kubevmm ssh` reaches the guest’s sshd through the portforward subresource, its host key filed under the VM’s name', async () => {
  // cloud-init prints the new host keys on the console: pin them under the alias kubevmm gives ssh.
  const [, block] = (await waitForConsole(ns.name, 'deb', /-----BEGIN SSH HOST KEY KEYS-----\r?\n([\s\S]*?)-----END SSH HOST KEY KEYS-----/, 240_000)) as string[];
  const alias = `vm/${ns.name}/deb`;
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, [...block!.matchAll(/^(ssh-ed25519|ecdsa-sha2-nistp\d+) (\S+)/gm)].map((m) => `${alias} ${m[1]} ${m[2]}\n`).join(''));
  const sshOptions = ['-i', keys.privateKey, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`];
  const r = await waitFor('ssh through kubevmm', () => {
    const run = kubevmm(['ssh', 'debian@deb', '-n', ns.name, '--', ...sshOptions, 'hostname; systemctl is-active ssh'], { timeoutMs: 120_000 });
    return run.status === 0 ? run : undefined;
  }, 240_000).catch((err: Error) => {
    throw new Error(`${err.message}\nlast attempt: ${JSON.stringify(kubevmm(['ssh', 'debian@deb', '-n', ns.name, '--', ...sshOptions, 'true'], { timeoutMs: 120_000 }))}\nconsole: ${consoleLog(ns.name, 'deb').slice(-800)}`);
  });
  expect(r.stdout.trim().split('\n')).toEqual(['deb-e2e', 'active']);
  // A command's exit status is kubevmm's.
  expect(kubevmm(['ssh', 'debian@deb', '-n', ns.name, '--', ...sshOptions, 'exit 7'], { timeoutMs: 120_000 }).status).toBe(7);
}, 600_000);
