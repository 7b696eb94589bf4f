// The OpenSSH client as a user runs it against a guest's forwarded port: a fresh key pair for
// cloud-init to inject, and one command over ssh with the host key pinned.

import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Throws with the install hint when the OpenSSH client is missing. */
export async function requireSshClient(): Promise<void> {
  for (const tool of ['ssh', 'ssh-keygen']) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch (err) {
      throw new Error(`${tool} is not installed; install it with: apt-get install -y openssh-client`, { cause: err });
    }
  }
}

/** A new ed25519 key pair in `dir`; resolves with the private key's path and the public key line. */
export async function sshKeyPair(dir: string): Promise<{ privateKey: string; publicKey: string }> {
  const privateKey = join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'kubevmm-test', '-f', privateKey]);
  return { privateKey, publicKey: (await readFile(`${privateKey}.pub`, 'utf8')).trim() };
}

/** What {@link sshRun} needs. */
export interface SshTarget {
  user: string;
  port: number;
  privateKey: string;
  /** known_hosts lines for `[127.0.0.1]:<port>`; the host key is checked strictly against them. */
  knownHosts: string;
}

/**
 * Run `command` on 127.0.0.1:port, retrying refused or reset connections (sshd may still be
 * starting) until `timeoutMs`. A host key that does not match fails at once: retrying would
 * not change it.
 */
export async function sshRun(target: SshTarget, command: string, timeoutMs: number): Promise<string> {
  const knownHostsFile = `${target.privateKey}.known_hosts`;
  await writeFile(knownHostsFile, target.knownHosts);
  const args = ['-i', target.privateKey, '-p', String(target.port), '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes'];
  args.push('-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHostsFile}`, '-o', 'ConnectTimeout=20');
  args.push(`${target.user}@127.0.0.1`, command);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { stdout } = await run('ssh', args, { timeout: 60_000 });
      return stdout;
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? '';
      const transient = /Connection (refused|reset|closed)|kex_exchange_identification|timed out/i.test(stderr);
      if (!transient || Date.now() > deadline) throw new Error(`ssh ${target.user}@127.0.0.1:${target.port} ${command}: ${stderr || (err as Error).message}`, { cause: err });
      await sleep(2_000);
    }
  }
}
