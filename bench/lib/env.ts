// Where the figures were measured: printed above every result so numbers from different
// machines and loads are never compared by accident.

import { execFile } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One line: date, cores, load, QEMU and Node versions. */
export async function machineLine(): Promise<string> {
  const qemu = await run('qemu-system-x86_64', ['--version'])
    .then(({ stdout }) => stdout.match(/version (\S+)/)?.[1] ?? '?')
    .catch(() => 'not installed');
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return `${new Date().toISOString()} | ${cpus().length} cores | load ${load} | QEMU ${qemu} (TCG) | Node ${process.version}`;
}

/** The load average over the last minute. */
export function load1(): number {
  return loadavg()[0] ?? NaN;
}
