/**
 * What an edit of the manifest means for the VM `kubevmm play --watch` runs: the steps that
 * apply live (hotplug, unplug, pause, resume) and the fields that need a restart, like the
 * operator's RestartRequired condition. Pure: the caller runs the steps.
 *
 * The plan compares the new spec with `applied`, the spec the VM really has: restart-relevant
 * fields as at start, `paused` and hotpluggable disks as the last successful steps left them.
 * So a step that failed is tried again on the next edit, and a change that needs a restart is
 * reported until it is undone.
 */
import type { LauncherVm, ResolvedDisk } from '../api/resolve.js';
import { restartRelevant, stableJson } from '../operator/render/hash.js';

/** One live change, run through the launcher. */
export type WatchStep =
  | { kind: 'attach'; disk: ResolvedDisk; path: string }
  | { kind: 'detach'; name: string }
  | { kind: 'pause' }
  | { kind: 'resume' };

/** Everything one edit asks for. */
export interface WatchPlan {
  /** In the order to run them. */
  steps: WatchStep[];
  /** Hotpluggable disks added without a `--disk NAME=PATH` file: nothing is attached. */
  unmapped: string[];
  /** Field paths whose change needs a restart; the VM is left alone for these. */
  restart: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Paths of the leaves that differ (arrays count as one leaf; absent equals undefined). */
export function changedPaths(a: unknown, b: unknown, path = ''): string[] {
  if (stableJson(a) === stableJson(b)) return [];
  if (!isRecord(a) || !isRecord(b)) return [path];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((key) => changedPaths(a[key], b[key], path ? `${path}.${key}` : key));
}

/** A path in the resolved VM as the user writes it in the manifest (undefined: derived, not written). */
function manifestPath(path: string): string | undefined {
  if (path === 'cpu.vcpus') return undefined; // follows sockets, cores and threads
  if (path === 'memory.guestBytes') return 'spec.memory.guest';
  if (['name', 'namespace', 'uid'].includes(path)) return `metadata.${path}`;
  if (path.startsWith('overcommit.')) return `spec.${path} (class)`;
  if (path.startsWith('scheduling.')) return `spec.${path.slice('scheduling.'.length)}`;
  return `spec.${path}`;
}

/** Restart-relevant fields outside spec.disks that differ. */
function vmFieldChanges(applied: LauncherVm, next: LauncherVm): string[] {
  const strip = (vm: LauncherVm) => ({ ...(restartRelevant(vm) as Record<string, unknown>), disks: undefined });
  return changedPaths(strip(applied), strip(next))
    .map(manifestPath)
    .filter((p): p is string => p !== undefined);
}

const diskPath = (name: string) => `spec.disks[name=${name}]`;

/** Fields of one disk entry that differ; the entry is compared as written, like the spec hash. */
function diskFieldChanges(a: ResolvedDisk, b: ResolvedDisk): string[] {
  if (stableJson(a) === stableJson(b)) return [];
  const written = changedPaths(a.spec, b.spec).map((p) => `${diskPath(a.name)}.${p}`);
  // Same entry as written, different resolved boot position: another disk moved.
  return written.length ? written : [`${diskPath(a.name)}.bootOrder`];
}

/** Non-hotpluggable disks present in both specs but in another order (device order at boot). */
function orderChanged(applied: readonly ResolvedDisk[], next: readonly ResolvedDisk[]): boolean {
  const cold = (disks: readonly ResolvedDisk[], other: readonly ResolvedDisk[]) =>
    disks.filter((d) => !d.hotpluggable && other.some((o) => o.name === d.name && !o.hotpluggable)).map((d) => d.name);
  return cold(applied, next).join('\n') !== cold(next, applied).join('\n');
}

interface DiskChanges {
  attach: WatchStep[];
  detach: WatchStep[];
  unmapped: string[];
  restart: string[];
}

function diskChanges(applied: readonly ResolvedDisk[], next: readonly ResolvedDisk[], paths: Readonly<Record<string, string>>): DiskChanges {
  const out: DiskChanges = { attach: [], detach: [], unmapped: [], restart: [] };
  const before = new Map(applied.map((d) => [d.name, d]));
  const after = new Map(next.map((d) => [d.name, d]));
  for (const disk of applied) {
    const now = after.get(disk.name);
    if (now) out.restart.push(...diskFieldChanges(disk, now));
    else if (disk.hotpluggable) out.detach.push({ kind: 'detach', name: disk.name });
    else out.restart.push(`${diskPath(disk.name)} (removed)`);
  }
  for (const disk of next.filter((d) => !before.has(d.name))) {
    const path = paths[disk.name];
    if (!disk.hotpluggable) out.restart.push(`${diskPath(disk.name)} (added)`);
    else if (path === undefined) out.unmapped.push(disk.name);
    else out.attach.push({ kind: 'attach', disk, path });
  }
  if (orderChanged(applied, next)) out.restart.push('spec.disks (order)');
  return out;
}

/**
 * The plan for going from `applied` to `next`. `paths` are the `--disk NAME=PATH` files given
 * when play started. A VM being resumed is resumed first (a paused guest cannot release a
 * disk); a VM being paused is paused last.
 */
export function planWatch(applied: LauncherVm, next: LauncherVm, paths: Readonly<Record<string, string>>): WatchPlan {
  const disks = diskChanges(applied.disks, next.disks, paths);
  const diskSteps = [...disks.detach, ...disks.attach];
  let steps = diskSteps;
  if (applied.paused && !next.paused) steps = [{ kind: 'resume' }, ...diskSteps];
  if (!applied.paused && next.paused) steps = [...diskSteps, { kind: 'pause' }];
  return { steps, unmapped: disks.unmapped, restart: [...vmFieldChanges(applied, next), ...disks.restart] };
}

/** The spec the VM has once `step` succeeded. */
export function afterStep(applied: LauncherVm, step: WatchStep): LauncherVm {
  switch (step.kind) {
    case 'attach':
      return { ...applied, disks: [...applied.disks.filter((d) => d.name !== step.disk.name), step.disk] };
    case 'detach':
      return { ...applied, disks: applied.disks.filter((d) => d.name !== step.name) };
    case 'pause':
      return { ...applied, paused: true };
    case 'resume':
      return { ...applied, paused: false };
  }
}

/**
 * What the VM has right after start: the spec, minus hotpluggable disks that have no file
 * (the launcher attaches only those it has a file for).
 */
export function appliedAtStart(vm: LauncherVm, paths: Readonly<Record<string, string>>): LauncherVm {
  return { ...vm, disks: vm.disks.filter((d) => !d.hotpluggable || paths[d.name] !== undefined) };
}
