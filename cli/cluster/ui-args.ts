/**
 * `kubevmm ui`'s command line: the web console on a loopback port (docs/ui.md). Parsed into a
 * typed request like the other cluster verbs (args.ts); bad input is a usage error (exit 2).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ClusterFlags } from './args.js';

/** `kubevmm ui [--port N] [--address A] [--no-open]`. */
export interface UiRequest extends ClusterFlags {
  verb: 'ui';
  /** 0: a free port. */
  port: number;
  address: string;
  /** Try to open a browser on the address. */
  open: boolean;
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('--port takes a whole number from 0 (any free port) to 65535');
  return n;
}

function loopback(value: string): string {
  if (!/^127(\.\d{1,3}){3}$/.test(value) && value !== '::1') throw new InvalidArgumentError('--address takes a loopback address (127.0.0.1 or ::1): the console serves your kubeconfig’s rights');
  return value;
}

type Flags = ClusterFlags & Record<string, unknown>;

/** Adds `ui` to `program`. */
export function addUiVerb(program: Command, run: (request: UiRequest) => Promise<void>, cluster: { flags(c: Command): Command; read(f: Flags): ClusterFlags }): void {
  cluster
    .flags(program.command('ui').description('serve the web console on 127.0.0.1 with your kubeconfig’s credentials; prints its address (with a session token) and opens a browser'))
    .option('--port <port>', 'local port (default 0: a free one)', port, 0)
    .option('--address <ip>', 'loopback address to listen on', loopback, '127.0.0.1')
    .option('--no-open', 'print the address only; do not start a browser')
    .addHelpText('after', '\nThe address is for you alone: it carries the session token. Ctrl-C stops the server.')
    .action((f: Flags) => run({ verb: 'ui', port: f.port as number, address: f.address as string, open: f.open !== false, ...cluster.read(f) }));
}
