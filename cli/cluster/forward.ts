/**
 * `kubevmm port-forward NAME LOCAL:GUEST` and `kubevmm ssh [USER@]NAME [-- ssh args]`, both
 * through the `virtualmachines/portforward` subresource: every local connection is a stream
 * of its own to the guest's port. `ssh` runs the system's OpenSSH client against a one-time
 * loopback listener (docs/cli.md, "ssh", says why this and not a ProxyCommand) and exits with
 * ssh's own exit code.
 */
import { spawn } from 'node:child_process';
import { EXIT } from '../program.js';
import type { VerbRequest } from './args.js';
import type { ClusterContext } from './context.js';
import { listenLocal } from './listen.js';
import { processIo, reportFailure, untilStopSignal, type RunnerIo } from './runner-io.js';
import { SshArgsError, splitSshArgs, splitUserHost, sshArgv } from './ssh-args.js';
import { printable } from './progress.js';
import { checkedRequest, openStream } from './stream.js';
import { onStopSignal, type StopSignal } from '../terminal.js';

type PortForwardRequest = Extract<VerbRequest, { verb: 'port-forward' }>;
type SshRequest = Extract<VerbRequest, { verb: 'ssh' }>;

/** The line `port-forward` prints once it listens. */
export function forwardLine(local: number, name: string, guest: number): string {
  return `Forwarding 127.0.0.1:${local} -> ${name}:${guest} (Ctrl-C stops)`;
}

/** What a missing ssh binary tells the user. */
export const SSH_MISSING = 'ssh is not installed: install the OpenSSH client (Debian/Ubuntu: apt-get install openssh-client)';

/** Runs `port-forward` until Ctrl-C (exit 0). */
export async function runPortForward(request: PortForwardRequest, ctx: ClusterContext, io: RunnerIo = processIo()): Promise<number> {
  try {
    checkedRequest({ name: request.name, subresource: 'portforward', port: request.guest }, ctx.namespace);
    const listener = await listenLocal({
      port: request.local,
      open: async () => (await openStream(ctx, { name: request.name, subresource: 'portforward', port: request.guest })).stream,
      onError: (err, peer) => io.stderr.write(`kubevmm: connection from ${peer}: ${printable(err.message)}\n`),
    });
    io.stdout.write(`${forwardLine(listener.port, request.name, request.guest)}\n`);
    await untilStopSignal(io);
    await listener.close();
    return EXIT.ok;
  } catch (err) {
    return reportFailure(io, err);
  }
}

/** ssh's exit code (a signal that killed it: 128 + its number, as shells report it). */
function runSshProcess(argv: string[], io: RunnerIo): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', argv, { stdio: 'inherit' });
    // Ctrl-C reaches ssh from the terminal itself (same process group); ssh decides what it
    // means. Stopping kubevmm in the middle would cut ssh's connection under it.
    const stopListening = onStopSignal((signal: StopSignal) => {
      if (signal !== 'SIGINT') child.kill(signal);
    }, io.events);
    child.once('error', (err: Error & { code?: string }) => {
      stopListening();
      if (err.code === 'ENOENT') resolve(-1);
      else reject(err);
    });
    child.once('exit', (code, signal) => {
      stopListening();
      resolve(code ?? 128 + (signal ? signalNumber(signal) : 0));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
}

/** Runs ssh to the guest; resolves with ssh's exit code (1 when the tunnel itself failed first). */
export async function runSsh(request: SshRequest, ctx: ClusterContext, io: RunnerIo = processIo()): Promise<number> {
  const { user, name } = splitUserHost(request.name);
  let args;
  try {
    args = splitSshArgs(request.sshArgs);
  } catch (err) {
    if (!(err instanceof SshArgsError)) throw err;
    io.stderr.write(`kubevmm: ${err.message}\n`);
    return EXIT.usage;
  }
  let tunnelError: Error | undefined;
  try {
    // Before ssh starts: the name and namespace go into its HostKeyAlias and the stream's path.
    checkedRequest({ name, subresource: 'portforward', port: args.guestPort }, ctx.namespace);
    const listener = await listenLocal({
      port: 0,
      maxConnections: 1,
      open: async () => (await openStream(ctx, { name, subresource: 'portforward', port: args.guestPort })).stream,
      onError: (err) => (tunnelError = err),
    });
    const code = await runSshProcess(sshArgv({ namespace: ctx.namespace, name, ...(user ? { user } : {}), localPort: listener.port, ...args }), io);
    await listener.close();
    if (code === -1) {
      io.stderr.write(`kubevmm: ${SSH_MISSING}\n`);
      return EXIT.failed;
    }
    // ssh only says "connection closed"; the refusal (403, VM not running) is the real reason.
    if (tunnelError && code !== 0) return reportFailure(io, tunnelError);
    return code;
  } catch (err) {
    return reportFailure(io, err);
  }
}
