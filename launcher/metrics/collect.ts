// Scrape-time collection of one VM's numbers: QMP queries (short deadline each, all at once)
// and QEMU's /proc files. Every source is tried on its own; a failed one is named in
// `failed` and its families are left out, so a scrape never fails because of QEMU.

import { readFile } from 'node:fs/promises';
import type { QmpExecutor } from '../qmp/index.js';
import type { LauncherStatus } from '../runtime/status.js';
import { balloonBytes, diskIo, guestMemoryBytes, residentBytes, statCpuSeconds, vcpuThreads } from './parse.js';
import type { VmSnapshot } from './render.js';

/** Default deadline of each QMP query of a scrape. */
export const DEFAULT_QUERY_TIMEOUT_MS = 2_000;

/** What the collector reads a VM through (the supervisor, or a fake in tests). */
export interface VmMetricsSource {
  vm: { name: string; namespace: string; devices: { balloon: boolean } };
  status(): Pick<LauncherStatus, 'state' | 'accelerator'>;
  /** The QMP connection while it is open; undefined before QEMU's monitor answers and after it exits. */
  qmp(): QmpExecutor | undefined;
  /** QEMU's pid while it runs. */
  pid(): number | undefined;
}

/** Options of {@link collectSnapshot}. */
export interface CollectOptions {
  /** Deadline of each QMP query. Default {@link DEFAULT_QUERY_TIMEOUT_MS}. */
  queryTimeoutMs?: number;
  /** Reads a /proc file; tests pass recorded files. Default: fs.readFile as UTF-8. */
  readText?: (path: string) => Promise<string>;
}

type Attempt = <T>(source: string, fn: () => Promise<T>) => Promise<T | undefined>;

/** Runs `fn`; a failure records `source` as failed and yields undefined. */
function attempts(failed: string[]): Attempt {
  return async (source, fn) => {
    try {
      return await fn();
    } catch {
      failed.push(source);
      return undefined;
    }
  };
}

/** CPU seconds of each vCPU thread, from query-cpus-fast and /proc/<pid>/task/<tid>/stat. */
async function vcpuSeconds(qmp: QmpExecutor, pid: number | undefined, opts: Required<CollectOptions>): Promise<VmSnapshot['vcpuSeconds']> {
  if (pid === undefined) return undefined;
  const threads = vcpuThreads(await qmp.execute('query-cpus-fast', undefined, { timeoutMs: opts.queryTimeoutMs }));
  return Promise.all(
    threads.map(async ({ vcpu, threadId }) => ({ vcpu, seconds: statCpuSeconds(await opts.readText(`/proc/${pid}/task/${threadId}/stat`)) })),
  );
}

/** The families that come from QMP; all queries are in flight together. */
async function fromQmp(qmp: QmpExecutor, source: VmMetricsSource, attempt: Attempt, opts: Required<CollectOptions>): Promise<Partial<VmSnapshot>> {
  const query = (command: string) => qmp.execute(command, undefined, { timeoutMs: opts.queryTimeoutMs });
  const [vcpus, memory, balloon, disks] = await Promise.all([
    attempt('query-cpus-fast', () => vcpuSeconds(qmp, source.pid(), opts)),
    attempt('query-memory-size-summary', async () => guestMemoryBytes(await query('query-memory-size-summary'))),
    // Without a balloon device QEMU answers DeviceNotActive: not a failure, just no family.
    source.vm.devices.balloon ? attempt('query-balloon', async () => balloonBytes(await query('query-balloon'))) : undefined,
    attempt('query-blockstats', async () => diskIo(await query('query-blockstats'))),
  ]);
  return { vcpuSeconds: vcpus, guestMemoryBytes: memory, balloonBytes: balloon, disks };
}

/** QEMU's own CPU time and resident memory from /proc/<pid>. */
async function fromProc(pid: number, attempt: Attempt, readText: (path: string) => Promise<string>): Promise<Partial<VmSnapshot>> {
  const proc = await attempt('proc', async () => {
    const [stat, status] = await Promise.all([readText(`/proc/${pid}/stat`), readText(`/proc/${pid}/status`)]);
    return { qemuCpuSeconds: statCpuSeconds(stat), qemuResidentBytes: residentBytes(status) };
  });
  return proc ?? {};
}

/** Drops undefined fields, so an absent family is absent from the snapshot too. */
function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Collects one scrape's numbers. Never rejects. */
export async function collectSnapshot(source: VmMetricsSource, options: CollectOptions = {}): Promise<VmSnapshot> {
  const opts: Required<CollectOptions> = {
    queryTimeoutMs: options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
    readText: options.readText ?? ((path) => readFile(path, 'utf8')),
  };
  const { state, accelerator } = source.status();
  const failed: string[] = [];
  const attempt = attempts(failed);
  const qmp = source.qmp();
  const pid = source.pid();
  const [qmpPart, procPart] = await Promise.all([
    qmp ? fromQmp(qmp, source, attempt, opts) : {},
    pid === undefined ? {} : fromProc(pid, attempt, opts.readText),
  ]);
  return {
    vm: { name: source.vm.name, namespace: source.vm.namespace },
    state,
    accelerator,
    ...defined(qmpPart),
    ...defined(procPart),
    failed: failed.sort(),
  };
}
