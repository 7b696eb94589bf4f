// Memory of a process as the kernel accounts it: /proc/<pid>/status for totals, and
// /proc/<pid>/smaps to tell QEMU's guest RAM apart from QEMU's own memory.

import { readFile, readdir } from 'node:fs/promises';

const KiB = 1024;

/** Totals from /proc/<pid>/status, in bytes. */
export interface ProcessMemory {
  rss: number;
  rssAnon: number;
  rssFile: number;
  /** Page tables: not in RSS, but charged to the pod's memory cgroup. */
  pageTables: number;
  threads: number;
}

/** A `Name:  123 kB` field of /proc/<pid>/status (or smaps), in bytes; 0 when absent. */
function kbField(text: string, name: string): number {
  const match = text.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'));
  return match ? Number(match[1]) * KiB : 0;
}

/** The memory totals of a live process. */
export async function processMemory(pid: number): Promise<ProcessMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return {
    rss: kbField(status, 'VmRSS'),
    rssAnon: kbField(status, 'RssAnon'),
    rssFile: kbField(status, 'RssFile') + kbField(status, 'RssShmem'),
    pageTables: kbField(status, 'VmPTE'),
    threads: Number(status.match(/^Threads:\s+(\d+)/m)?.[1] ?? NaN),
  };
}

/** The direct children of a process (scans /proc: needs no CONFIG_PROC_CHILDREN). */
export async function childPids(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) children.push(Number(entry));
  }
  return children;
}

/** One mapping of /proc/<pid>/smaps. */
export interface Mapping {
  size: number;
  rss: number;
  anonymous: number;
  perms: string;
  /** File path, `[heap]`, `[stack]`..., or '' for anonymous memory. */
  path: string;
  flags: string[];
}

/** Parse /proc/<pid>/smaps. */
export function parseSmaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  let current: Mapping | undefined;
  for (const line of text.split('\n')) {
    const header = line.match(/^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/);
    if (header) {
      current = { size: 0, rss: 0, anonymous: 0, perms: header[1] ?? '', path: header[2] ?? '', flags: [] };
      mappings.push(current);
    } else if (current) {
      if (line.startsWith('Size:')) current.size = kbField(line, 'Size');
      else if (line.startsWith('Rss:')) current.rss = kbField(line, 'Rss');
      else if (line.startsWith('Anonymous:')) current.anonymous = kbField(line, 'Anonymous');
      else if (line.startsWith('VmFlags:')) current.flags = line.slice('VmFlags:'.length).trim().split(/\s+/);
    }
  }
  return mappings;
}

/** Resident and mapped bytes of one kind of memory. */
export interface Part {
  rss: number;
  size: number;
}

/** QEMU's resident memory by kind, in bytes. */
export interface QemuMemory {
  total: ProcessMemory;
  /** The guest RAM block (the anonymous mapping of exactly the guest's size). */
  guestRam: Part;
  /** The other RAM blocks (VGA video memory, firmware, ROMs): anonymous, excluded from core dumps. */
  otherRamBlocks: Part;
  /** The TCG translation cache: the anonymous writable and executable mappings. */
  tcgCache: Part;
  /** Everything else anonymous: heap, malloc arenas, thread stacks, device state. */
  otherAnon: Part;
  /** QEMU's binary and shared libraries (page cache, reclaimable). */
  file: Part;
}

const sum = (ms: readonly Mapping[]): Part => ({ rss: ms.reduce((a, m) => a + m.rss, 0), size: ms.reduce((a, m) => a + m.size, 0) });

/**
 * Split QEMU's RSS. RAM blocks are the mappings QEMU marks MADV_DONTDUMP (`dd`; the launcher
 * sets dump-guest-core=off) and MADV_HUGEPAGE (`hg`); the guest RAM is the one of the guest's size.
 */
export function classifyQemu(mappings: readonly Mapping[], guestBytes: number): Omit<QemuMemory, 'total'> {
  const isRamBlock = (m: Mapping) => m.path === '' && m.flags.includes('dd') && m.flags.includes('hg');
  const ramBlocks = mappings.filter(isRamBlock);
  const guest = ramBlocks.filter((m) => m.size === guestBytes).sort((a, b) => b.rss - a.rss)[0];
  const isTcg = (m: Mapping) => m.path === '' && m.perms.startsWith('rwx');
  const isFile = (m: Mapping) => m.path.startsWith('/');
  return {
    guestRam: guest ? sum([guest]) : { rss: NaN, size: NaN },
    otherRamBlocks: sum(ramBlocks.filter((m) => m !== guest)),
    tcgCache: sum(mappings.filter(isTcg)),
    otherAnon: sum(mappings.filter((m) => !isRamBlock(m) && !isTcg(m) && !isFile(m))),
    file: sum(mappings.filter(isFile)),
  };
}

/** QEMU's memory, split into guest RAM and QEMU's own parts. */
export async function qemuMemory(pid: number, guestBytes: number): Promise<QemuMemory> {
  const [total, smaps] = await Promise.all([processMemory(pid), readFile(`/proc/${pid}/smaps`, 'utf8')]);
  return { total, ...classifyQemu(parseSmaps(smaps), guestBytes) };
}
