// A real OS under the launcher: the Debian guest fixture (test/fixtures/debian-guest: systemd,
// cloud-init, qemu-guest-agent, sshd) booted from a copy of its disk under TCG, checked the
// way a user would: the serial console reaches a login prompt, the cloud-init user data took
// effect, the launcher's status shows what the guest agent reports, ssh with the key
// cloud-init injected reaches the guest through the forwarded port, and a graceful stop
// powers it off with its root filesystem cleanly unmounted.

import { execFile } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { startLauncher, type LauncherHandle } from '../../launcher/main.js';
import { freePort } from '../../launcher/runtime/ports.js';
import type { GuestInfo } from '../../launcher/runtime/status.js';
import { buildDebianGuest, loginPrompt, requireQemu } from '../../harness/guest.js';
import { SerialLog } from './helpers/serial.js';
import { requireSshClient, sshKeyPair, sshRun, type SshTarget } from './helpers/ssh.js';
import { testVm } from './helpers/vm.js';

const run = promisify(execFile);

/** A cold build installs ~200 Debian packages (minutes on a busy machine); warm, it is instant. */
const BUILD_TIMEOUT_MS = 30 * 60_000;
/** Login prompt after ~40-60 s under TCG on a quiet host; several times that on a loaded one. */
const BOOT_MS = 300_000;
const GRACE_SECONDS = 90;
const HOSTNAME = 'kubevmm-deb';
const MARKER = 'kubevmm-runcmd-marker';

let work: string;
let rootDisk: string;
let vm: LauncherHandle | undefined;
let startedAt: number;
let ssh: Omit<SshTarget, 'knownHosts'>;
let publicKey: string;

/**
 * CPU seconds QEMU has used so far (all threads). Under TCG this barely depends on how busy
 * the host is, unlike the wall time: both are printed, so a slow run can be told apart from
 * a busy machine.
 */
async function qemuCpuSeconds(pid: number): Promise<number> {
  const [stat, tick] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), run('getconf', ['CLK_TCK'])]);
  // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / Number(tick.stdout.trim());
}

/** Byte offset of the image's second MBR partition (the ext4 root). */
async function rootPartitionOffset(image: string): Promise<number> {
  const handle = await open(image, 'r');
  try {
    const mbr = Buffer.alloc(512);
    await handle.read(mbr, 0, 512, 0);
    return mbr.readUInt32LE(446 + 16 + 8) * 512;
  } finally {
    await handle.close();
  }
}

/** The launcher's guest status once it satisfies `ready`, polled until `timeoutMs`. */
async function guestStatus(ready: (g: GuestInfo) => boolean, timeoutMs: number): Promise<GuestInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const guest = vm!.status().guest;
    if (guest && ready(guest)) return guest;
    if (Date.now() > deadline) throw new Error(`guest status not as expected within ${timeoutMs} ms: ${JSON.stringify(guest)}`);
    await sleep(1_000);
  }
}

beforeAll(async () => {
  await requireQemu();
  await requireSshClient();
  const image = await buildDebianGuest();
  work = await mkdtemp(join(tmpdir(), 'kubevmm-debian-guest-'));
  // The cached image stays pristine: the VM writes to its own sparse copy, like a PVC would.
  rootDisk = join(work, 'root.img');
  await run('cp', ['--sparse=always', image, rootDisk]);
  const keys = await sshKeyPair(work);
  publicKey = keys.publicKey;
  ssh = { user: 'debian', port: await freePort(), privateKey: keys.privateKey };
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  if (vm) {
    await vm.stop({ reason: 'TestCleanup', message: 'test cleanup' });
    await vm.done;
  }
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

describe('the Debian guest under the launcher', () => {
  it('boots to a login prompt on the serial console with the hostname from the user data', async () => {
    const userData = [
      '#cloud-config',
      `hostname: ${HOSTNAME}`,
      'ssh_authorized_keys:',
      `  - ${publicKey}`,
      'runcmd:',
      `  - echo "${MARKER} $(hostname)"`,
      '',
    ].join('\n');
    const spec = testVm('debian', {
      cpu: { cores: 2 },
      memory: { guest: '512Mi' },
      devices: { graphics: 'vnc', guestAgent: true, rng: true, balloon: false },
      interfaces: [{ name: 'default', ports: [{ port: 22 }] }],
      terminationGracePeriodSeconds: GRACE_SECONDS,
      disks: [
        { name: 'root', persistentVolumeClaim: { claimName: 'root' } },
        { name: 'cloudinit', cloudInit: { userData } },
      ],
    });
    const runtimeDir = await mkdtemp(join(work, 'run-'));
    startedAt = Date.now();
    vm = await startLauncher({ vm: spec, accel: 'tcg', runtimeDir, disks: { root: rootDisk }, hostPorts: { 'TCP/22': ssh.port }, log: () => undefined });
    await vm.started;
    const serial = new SerialLog(vm.serialLog);
    await serial.waitFor(loginPrompt(HOSTNAME), BOOT_MS);
    const wall = (Date.now() - startedAt) / 1000;
    const cpu = await qemuCpuSeconds(vm.pid!);
    console.log(`debian guest: login prompt on ttyS0 ${wall.toFixed(1)} s after the launcher started; QEMU used ${cpu.toFixed(1)} CPU-s`);
    expect(await serial.text()).toMatch(/^Debian GNU\/Linux 12 kubevmm-deb ttyS0\r?$/m);
  }, BOOT_MS + 30_000);

  it('runs the runcmd of the user data and says so on the console', async () => {
    const serial = new SerialLog(vm!.serialLog);
    await serial.waitFor(new RegExp(`${MARKER} ${HOSTNAME}\\r?$`, 'm'), BOOT_MS);
    await serial.waitFor(/Cloud-init v\. \S+ finished at .* Datasource DataSourceNoCloud/, BOOT_MS);
  }, BOOT_MS);

  it("reports the guest agent's OS, hostname and address in the launcher's status", async () => {
    const guest = await guestStatus((g) => g.agentConnected && g.hostname === HOSTNAME, 120_000);
    expect(guest).toMatchObject({ agentConnected: true, osName: 'Debian GNU/Linux', hostname: HOSTNAME });
    expect(guest.kernel).toMatch(/-cloud-amd64$/);
    expect(guest.interfaces?.flatMap((i) => i.ipAddresses)).toContain('10.0.2.15');
  }, 150_000);

  it('lets ssh in with the injected key, the host key pinned from the console', async () => {
    // cloud-init prints the new host keys on the console: what a careful user checks first.
    const serial = new SerialLog(vm!.serialLog);
    const [, block] = (await serial.waitFor(/-----BEGIN SSH HOST KEY KEYS-----\r?\n([\s\S]*?)-----END SSH HOST KEY KEYS-----/, BOOT_MS)) as string[];
    const hostKeys = [...block!.matchAll(/^(ssh-ed25519|ecdsa-sha2-nistp\d+) (\S+)/gm)].map((m) => `[127.0.0.1]:${ssh.port} ${m[1]} ${m[2]}`);
    expect(hostKeys.length).toBeGreaterThan(0);
    const out = await sshRun({ ...ssh, knownHosts: `${hostKeys.join('\n')}\n` }, 'hostname; systemctl is-active getty@tty1 serial-getty@ttyS0 qemu-guest-agent; findmnt -no FSTYPE,OPTIONS /', 120_000);
    const [name, ...rest] = out.trim().split('\n');
    expect(name).toBe(HOSTNAME);
    expect(rest.slice(0, 3)).toEqual(['active', 'active', 'active']);
    expect(rest[3]).toMatch(/^ext4\s+rw,/);
  }, 180_000);

  it('powers off on a graceful stop within the grace period, root filesystem clean', async () => {
    const asked = Date.now();
    const outcome = await vm!.stop();
    const took = Date.now() - asked;
    expect(outcome).toMatchObject({ exitCode: 0, reason: 'GuestShutdown', message: 'guest powered off' });
    expect(took).toBeLessThan(GRACE_SECONDS * 1000);
    console.log(`debian guest: powered off ${(took / 1000).toFixed(1)} s after the stop request`);
    // systemd stops every unit and unmounts before the kernel's last word.
    expect(await new SerialLog(vm!.serialLog).text()).toMatch(/reboot: Power down/);
    const { stdout } = await run('dumpe2fs', ['-h', `${rootDisk}?offset=${await rootPartitionOffset(rootDisk)}`]);
    expect(stdout).toMatch(/^Filesystem state:\s+clean$/m);
    expect(stdout).toMatch(/^Filesystem features:.*\bhas_journal\b/m);
    expect(stdout).not.toMatch(/^Filesystem features:.*\bneeds_recovery\b/m);
    vm = undefined;
  }, GRACE_SECONDS * 1000 + 30_000);
});
