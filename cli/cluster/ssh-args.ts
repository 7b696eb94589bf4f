/**
 * The `ssh` command line `kubevmm ssh [USER@]NAME [-- ssh args]` runs. ssh connects to a local
 * port that `kubevmm` bridges to the guest through the portforward subresource, and is told
 * the VM's identity so its known_hosts entry belongs to the VM (`HostKeyAlias=vm/NS/NAME`),
 * not to 127.0.0.1 and a port that changes every run. Pure: names and arguments in, argv out.
 */

/** ssh's options that take a value (OpenSSH 9), so a value is never read as an option or a command. */
const WITH_VALUE = new Set('BbcDEeFIiJLlmOoPpQRSWw');

/** The default guest port of `kubevmm ssh`. */
export const SSH_PORT = 22;

/** `USER@NAME` or `NAME`. */
export function splitUserHost(target: string): { user?: string; name: string } {
  const at = target.lastIndexOf('@');
  return at > 0 ? { user: target.slice(0, at), name: target.slice(at + 1) } : { name: target };
}

/** The user's ssh arguments, split into options and the remote command, with `-p` taken out as the guest port. */
export function splitSshArgs(args: readonly string[]): { options: string[]; command: string[]; guestPort: number } {
  const options: string[] = [];
  let guestPort = SSH_PORT;
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      i += 1;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const letter = [...arg.slice(1)].findIndex((c) => WITH_VALUE.has(c));
    if (letter === -1) {
      options.push(arg);
      continue;
    }
    const flag = arg[letter + 1]!;
    const inline = arg.slice(letter + 2);
    const value = inline || args[++i];
    if (value === undefined) throw new SshArgsError(`ssh option -${flag} needs a value`);
    if (flag !== 'p') {
      options.push(...(inline ? [arg] : [arg, value]));
      continue;
    }
    guestPort = Number(value);
    if (!/^\d+$/.test(value) || guestPort < 1 || guestPort > 65535) throw new SshArgsError(`ssh -p takes the guest's port, 1-65535; got "${value}"`);
    const before = arg.slice(0, letter + 1);
    if (before !== '-') options.push(before);
  }
  return { options, command: args.slice(i), guestPort };
}

/** The ssh arguments were not usable; exit 2 like any usage error. */
export class SshArgsError extends Error {
  override readonly name = 'SshArgsError';
}

/** Options of {@link sshArgv}. */
export interface SshInvocation {
  namespace: string;
  name: string;
  user?: string;
  /** The local port that reaches the guest. */
  localPort: number;
  /** The user's options (after `--`), without `-p`. */
  options: readonly string[];
  command: readonly string[];
}

/** The name the guest's host key is kept under in known_hosts. */
export function hostKeyAlias(namespace: string, name: string): string {
  return `vm/${namespace}/${name}`;
}

/**
 * ssh's argv. Ours come first because ssh keeps the first value it gets for an option. A
 * ProxyCommand or ProxyJump from ~/.ssh/config (`Host *` is common) would send the connection
 * to 127.0.0.1 of another machine: both are switched off. CheckHostIP=no: 127.0.0.1 is not the
 * guest's address and must not get its key.
 */
export function sshArgv(call: SshInvocation): string[] {
  return [
    '-p',
    String(call.localPort),
    '-o',
    `HostKeyAlias=${hostKeyAlias(call.namespace, call.name)}`,
    '-o',
    'CheckHostIP=no',
    '-o',
    'ProxyCommand=none',
    '-o',
    'ProxyJump=none',
    ...(call.user ? ['-l', call.user] : []),
    ...call.options,
    '127.0.0.1',
    ...call.command,
  ];
}
