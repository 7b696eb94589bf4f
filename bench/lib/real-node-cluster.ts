// The real-node cluster as the benchmark drives it: kubectl for objects, the operator's
// /metrics for its API writes, the pod cgroup on this machine (the node) for memory.
import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';

/** Runs kubectl; throws with its stderr. */
export function kubectl(args: string[], input?: string): string {
  const r = spawnSync('kubectl', args, { encoding: 'utf8', input, env: process.env, maxBuffer: 32 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** kubectl get -o json, or undefined when it is not there. */
export function getJson(args: string[]): Record<string, any> | undefined {
  const r = spawnSync('kubectl', ['get', ...args, '-o', 'json'], { encoding: 'utf8', env: process.env, maxBuffer: 32 * 1024 * 1024 });
  return r.status === 0 ? (JSON.parse(r.stdout) as Record<string, any>) : undefined;
}

/** Polls `fn` every `everyMs` until truthy; returns the value and Date.now() when seen. */
export async function poll<T>(what: string, fn: () => T | undefined, timeoutMs = 300_000, everyMs = 50): Promise<{ value: T; at: number }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value) return { value, at: Date.now() };
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The operator's API requests so far: `verb resource` -> count (all codes). */
export async function operatorRequests(): Promise<Map<string, number>> {
  const pods = getJson(['-n', 'kubevmm-system', 'pods', '-l', 'app.kubernetes.io/component=operator'])?.items ?? [];
  const counts = new Map<string, number>();
  for (const pod of pods as { status?: { podIP?: string } }[]) {
    if (!pod.status?.podIP) continue;
    const text = await (await fetch(`http://${pod.status.podIP}:8081/metrics`)).text();
    for (const m of text.matchAll(/^kubevmm_api_requests_total\{([^}]*)\} (\d+)/gm)) {
      const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
      const key = `${labels.verb} ${labels.resource}`;
      counts.set(key, (counts.get(key) ?? 0) + Number(m[2]));
    }
  }
  return counts;
}

const WRITES = ['create', 'update', 'patch', 'delete'];

/** Writes between two snapshots, Events apart. */
export function writesBetween(before: Map<string, number>, after: Map<string, number>): { writes: number; events: number; byKind: string[] } {
  let writes = 0;
  let events = 0;
  const byKind: string[] = [];
  for (const [key, n] of after) {
    const d = n - (before.get(key) ?? 0);
    const [verb = '', resource = ''] = key.split(' ');
    if (d <= 0 || !WRITES.includes(verb)) continue;
    if (resource === 'events') events += d;
    else {
      writes += d;
      byKind.push(`${d} ${key}`);
    }
  }
  return { writes, events, byKind };
}

/** Memory of a pod's cgroup (v1) on this machine, which is the node. */
export interface PodMemory {
  usage: number;
  workingSet: number;
  rss: number;
  /**
   * What the pod's processes hold: anonymous memory plus the file pages they map (binaries,
   * libraries). Unlike the working set it leaves out unmapped page cache (the disk image's data
   * QEMU read, which the kernel reclaims at the limit) and keeps mapped pages the kernel happens
   * to list as inactive (node's and QEMU's code, which a pod at its limit would refault).
   */
  held: number;
  oomKills: number;
  /** Guest RAM QEMU holds resident (see guestResident). */
  guestResident: number;
}

export async function podMemory(uid: string, guestBytes: number): Promise<PodMemory> {
  const base = ['/sys/fs/cgroup/memory/kubepods', '/sys/fs/cgroup/memory/kubepods/burstable', '/sys/fs/cgroup/memory/kubepods/besteffort']
    .map((d) => `${d}/pod${uid}`)
    .find((d) => existsSync(d));
  if (!base) throw new Error(`no memory cgroup for pod ${uid}`);
  const stat = Object.fromEntries((await readFile(`${base}/memory.stat`, 'utf8')).trim().split('\n').map((l) => l.split(' ') as [string, string]).map(([k, v]) => [k, Number(v)]));
  const usage = Number(await readFile(`${base}/memory.usage_in_bytes`, 'utf8'));
  const oom = /oom_kill (\d+)/.exec(await readFile(`${base}/memory.oom_control`, 'utf8'));
  return { usage, workingSet: usage - (stat.total_inactive_file ?? 0), rss: stat.total_rss ?? 0, held: (stat.total_rss ?? 0) + (stat.total_mapped_file ?? 0), oomKills: Number(oom?.[1] ?? 0), guestResident: await guestResident(base, guestBytes) };
}

/** Every process in a cgroup (v1) directory and the ones below it. */
async function cgroupPids(dir: string): Promise<number[]> {
  const own = (await readFile(`${dir}/cgroup.procs`, 'utf8')).split('\n').filter(Boolean).map(Number);
  const children = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory());
  return [...own, ...(await Promise.all(children.map((c) => cgroupPids(`${dir}/${c.name}`)))).flat()];
}

/**
 * Bytes of guest RAM that are resident: the Rss of QEMU's mapping whose size is the guest's
 * memory (its RAM block). What the guest never touched is not in the cgroup's figures either,
 * so overhead = working set - this, whatever share of its RAM the guest has used.
 */
async function guestResident(podCgroup: string, guestBytes: number): Promise<number> {
  for (const pid of await cgroupPids(podCgroup)) {
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (!comm.startsWith('qemu-system')) continue;
    const smaps = await readFile(`/proc/${pid}/smaps`, 'utf8');
    // Each mapping: a header line, then "Size:  N kB", ..., "Rss:  N kB".
    for (const block of smaps.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
      const size = Number(/^Size:\s+(\d+) kB/m.exec(block)?.[1] ?? 0) * 1024;
      if (size === guestBytes) return Number(/^Rss:\s+(\d+) kB/m.exec(block)?.[1] ?? 0) * 1024;
    }
  }
  throw new Error(`no QEMU process with a ${guestBytes}-byte RAM mapping in ${podCgroup}`);
}
