// Prerequisites of the launcher suite: QEMU and the fixture guest. Missing ones fail the
// suite loudly with the command that fixes them; a skipped suite would hide a broken setup.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The binary the launcher runs. */
export const QEMU = 'qemu-system-x86_64';

/** Throws with the install hint when QEMU is not installed. */
export async function requireQemu(): Promise<string> {
  try {
    const { stdout } = await run(QEMU, ['--version']);
    return stdout.split('\n')[0] ?? '';
  } catch (err) {
    throw new Error(`${QEMU} is not installed (${(err as Error).message}); install it with: apt-get install -y qemu-system-x86`, { cause: err });
  }
}

/** Run a fixture's build.sh; resolves with the image path it prints (its only stdout line). */
async function buildFixture(fixture: string, what: string): Promise<string> {
  const script = `test/fixtures/${fixture}/build.sh`;
  try {
    const { stdout } = await run('bash', [script], { maxBuffer: 16 * 1024 * 1024 });
    const path = stdout.trim().split('\n').at(-1) ?? '';
    if (!path) throw new Error('build.sh printed no image path');
    return path;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`building the ${what} failed (bash ${script}; see test/fixtures/${fixture}/README.md): ${(err as Error).message}\n${stderr.slice(-2000)}`, { cause: err });
  }
}

/** Build (or find cached) the fixture guest; resolves with the path of its raw boot disk. */
export function buildGuest(): Promise<string> {
  return buildFixture('guest', 'fixture guest');
}

/**
 * Build (or find cached) the Debian guest (test/fixtures/debian-guest: systemd, cloud-init,
 * qemu-guest-agent, sshd); resolves with the path of its raw disk. A cold build takes minutes
 * and needs root; the image is read-only: boot a copy.
 */
export function buildDebianGuest(): Promise<string> {
  return buildFixture('debian-guest', 'Debian guest');
}

/**
 * The getty login prompt of a guest named `hostname` on a serial console. cloud-init and the
 * kernel print to the same console while getty writes its prompt, so lines can land between
 * the hostname and `login: ` (seen: `kubevmm-deb[ 44.3] cloud-init[344]: ...\n login: `);
 * the pattern allows that rather than needing the prompt on one clean line.
 */
export function loginPrompt(hostname: string): RegExp {
  const name = hostname.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${name}(?: login: |[^\\n]*\\n(?:[^\\n]*\\n){0,40}?[^\\n]*login: )`, 'm');
}
