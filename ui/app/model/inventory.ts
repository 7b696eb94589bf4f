/**
 * The inventory's rows: what one VM shows (status, node, vCPUs, memory, IP, guest OS, age),
 * filtering, sorting, and which rows are in view (only those are rendered, so 1000 VMs cost
 * what a screenful does).
 */
import type { VirtualMachine } from '../../../api/schema/vm.js';

/** One row of the inventory. */
export interface VmRow {
  name: string;
  status: string;
  tone: Tone;
  node: string;
  cpus: number | undefined;
  memory: string;
  ip: string;
  guestOs: string;
  created: string;
}

/** The colour family of a status: shown as colour and as text, never colour alone. */
export type Tone = 'ok' | 'busy' | 'off' | 'error' | 'unknown';

const BUSY = new Set(['Provisioning', 'Starting', 'Stopping', 'Terminating', 'Paused']);

/** The tone of a printableStatus. */
export function toneOf(status: string): Tone {
  if (status === 'Running') return 'ok';
  if (status === 'Stopped') return 'off';
  if (BUSY.has(status)) return 'busy';
  if (status.startsWith('Err') || status === 'CrashLoopBackOff' || status === 'ImagePullBackOff') return 'error';
  return 'unknown';
}

/** vCPUs from the status, else from the spec's topology. */
function cpusOf(vm: VirtualMachine): number | undefined {
  if (vm.status?.cpus !== undefined) return vm.status.cpus;
  const cpu = vm.spec.cpu;
  if (!cpu) return undefined;
  return (cpu.sockets ?? 1) * (cpu.cores ?? 1) * (cpu.threads ?? 1);
}

/** The row of one VM. */
export function rowOf(vm: VirtualMachine): VmRow {
  const st = vm.status ?? {};
  const status = st.printableStatus ?? 'Unknown';
  return {
    name: vm.metadata.name,
    status,
    tone: toneOf(status),
    node: st.nodeName ?? '',
    cpus: cpusOf(vm),
    memory: String(st.memory ?? vm.spec.memory?.guest ?? ''),
    ip: st.interfaces?.[0]?.ipAddress ?? '',
    guestOs: st.guest?.osName ?? '',
    created: String(vm.metadata.creationTimestamp ?? ''),
  };
}

/** How long ago `iso` was, as kubectl prints ages: 45s, 12m, 3h, 5d. */
export function formatAge(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** The sortable columns. */
export const SORT_KEYS = ['name', 'status', 'node', 'cpus', 'memory', 'ip', 'guestOs', 'created'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export interface Sort {
  key: SortKey;
  descending: boolean;
}

const UNITS: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** Bytes of a memory quantity, for sorting 512Mi before 2Gi; NaN when unreadable. */
export function quantityBytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  return m ? Number(m[1]) * (UNITS[m[2] ?? ''] ?? NaN) : NaN;
}

function compare(a: VmRow, b: VmRow, key: SortKey): number {
  if (key === 'cpus') return (a.cpus ?? -1) - (b.cpus ?? -1);
  if (key === 'memory') return (quantityBytes(a.memory) || 0) - (quantityBytes(b.memory) || 0);
  return a[key].localeCompare(b[key], undefined, { numeric: true });
}

/** Rows whose text contains every word of `filter` (case-insensitive), sorted; name breaks ties. */
export function visibleRows(rows: readonly VmRow[], filter: string, sort: Sort): VmRow[] {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const kept = words.length ? rows.filter((r) => words.every((w) => [r.name, r.status, r.node, r.ip, r.guestOs].some((f) => f.toLowerCase().includes(w)))) : [...rows];
  const sign = sort.descending ? -1 : 1;
  return kept.sort((a, b) => sign * compare(a, b, sort.key) || a.name.localeCompare(b.name));
}

/** The rows to render: those in the viewport plus `overscan` each side. */
export function rowWindow(opts: { scrollTop: number; viewportHeight: number; rowHeight: number; count: number; overscan?: number }): { first: number; last: number } {
  const overscan = opts.overscan ?? 5;
  const first = Math.max(0, Math.floor(opts.scrollTop / opts.rowHeight) - overscan);
  const last = Math.min(opts.count, Math.ceil((opts.scrollTop + opts.viewportHeight) / opts.rowHeight) + overscan);
  return { first, last: Math.max(first, last) };
}

/** The scrollTop that shows row `index` (unchanged when it already is in view). */
export function scrollToRow(opts: { index: number; scrollTop: number; viewportHeight: number; rowHeight: number }): number {
  const top = opts.index * opts.rowHeight;
  if (top < opts.scrollTop) return top;
  if (top + opts.rowHeight > opts.scrollTop + opts.viewportHeight) return top + opts.rowHeight - opts.viewportHeight;
  return opts.scrollTop;
}

/** The row index an arrow/Home/End/Page key moves to; undefined for other keys. */
export function moveSelection(key: string, index: number, count: number, pageRows: number): number | undefined {
  const last = count - 1;
  const moves: Record<string, number> = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: last, PageDown: index + pageRows, PageUp: index - pageRows };
  const to = moves[key];
  return to === undefined || count === 0 ? undefined : Math.min(last, Math.max(0, to));
}
