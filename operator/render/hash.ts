/**
 * The spec hash: a digest of the VM fields that are baked into the running launcher.
 * Fields applied live (paused, runStrategy, hotpluggable disks) are left out, so changing
 * them never asks for a restart. The launcher image is left out too: a new one (an operator
 * upgrade) is reported as an outdated launcher and taken at the VM's next restart, never
 * forced on a running guest.
 */
import { createHash } from 'node:crypto';
import type { LauncherVm } from '../../api/resolve.js';

/** JSON with object keys sorted, so equal values always hash equally. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The part of the resolved VM that needs a new launcher pod when it changes. */
export function restartRelevant(vm: LauncherVm): unknown {
  const { paused: _paused, runStrategy: _runStrategy, ...rest } = vm;
  return { ...rest, disks: vm.disks.filter((d) => !d.hotpluggable) };
}

/** 16 hex digits of SHA-256 over the restart-relevant fields. */
export function specHash(vm: LauncherVm): string {
  return createHash('sha256')
    .update(stableJson({ vm: restartRelevant(vm) }))
    .digest('hex')
    .slice(0, 16);
}
