// CPU time and peak memory of a process, as the kernel accounts them, for the operator and
// the control plane components of bench/operator-scale.ts.

import { execFileSync } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 almost everywhere). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time and memory of one process at one moment. */
export interface ProcSample {
  /** utime + stime, in seconds. */
  cpuSeconds: number;
  /** VmRSS, bytes. */
  rss: number;
  /** VmHWM: the peak RSS since the process started, bytes. */
  peakRss: number;
}

/** A `Name:  123 kB` field of /proc/<pid>/status, in bytes; 0 when absent. */
function kbField(text: string, name: string): number {
  const match = text.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** utime + stime of /proc/<pid>/stat in seconds (the fields after the command name's last ')'). */
export function parseCpuSeconds(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** CPU seconds and RSS of a live process; undefined when it is gone. */
export async function sampleProcess(pid: number): Promise<ProcSample | undefined> {
  try {
    const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
    return { cpuSeconds: parseCpuSeconds(stat), rss: kbField(status, 'VmRSS'), peakRss: kbField(status, 'VmHWM') };
  } catch {
    return undefined;
  }
}

/**
 * The pids of the local control plane's components (test/cluster/cluster.sh keeps one pid
 * file per component in `<state>/pids`); empty when the directory is not there.
 */
export async function componentPids(stateDir: string): Promise<Map<string, number>> {
  const dir = join(stateDir, 'pids');
  const pids = new Map<string, number>();
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number((await readFile(join(dir, name), 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0) pids.set(name, pid);
  }
  return pids;
}

/** CPU seconds of each process in `pids` now (missing processes are left out). */
export async function cpuOf(pids: ReadonlyMap<string, number>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [name, pid] of pids) {
    const sample = await sampleProcess(pid);
    if (sample) out.set(name, sample.cpuSeconds);
  }
  return out;
}
