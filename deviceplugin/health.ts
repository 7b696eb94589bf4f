/**
 * Health of one device node: it is healthy when it opens read-write. Re-checked on a timer and
 * whenever its directory changes (inotify through fs.watch), and reported only on change.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { basename, dirname } from 'node:path';
import { serialRunner, type SerialRunner } from './serial.js';

/** The health of a device node and why. */
export interface HealthState {
  healthy: boolean;
  /** One human sentence: "opens read-write", "does not exist on this node", ... */
  reason: string;
  /** Permission bits of the node when it is there (0o666, 0o660, ...). */
  mode?: number;
}

/** What probing a node found: it opened, or the error code and (for EPERM) whether a character device is there. */
export type ProbeOutcome = { opened: true; mode?: number } | { opened: false; code: string; charDevice?: boolean; mode?: number };

/**
 * Judges a probe. EPERM is special: a container's device cgroup refuses to open nodes it was
 * not given, even to root, so the plugin's own container (unprivileged by design) cannot open
 * /dev/kvm from its hostPath mount of /dev. There a character device that exists counts as
 * healthy: the launcher gets the node through Allocate, which also opens the cgroup for it.
 */
export function judgeProbe(outcome: ProbeOutcome): HealthState {
  const mode = outcome.mode === undefined ? {} : { mode: outcome.mode };
  if (outcome.opened) return { healthy: true, reason: 'opens read-write', ...mode };
  switch (outcome.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return { healthy: false, reason: 'does not exist on this node (kernel module not loaded?)' };
    case 'EPERM':
      return outcome.charDevice
        ? { healthy: true, reason: 'character device present (this container may not open it: device cgroup)', ...mode }
        : { healthy: false, reason: 'cannot be opened read-write (EPERM) and is not a character device' };
    case 'ENXIO':
    case 'ENODEV':
      return { healthy: false, reason: `exists but no driver answers (${outcome.code})` };
    case 'EACCES':
      return { healthy: false, reason: 'cannot be opened read-write (EACCES: permission denied)' };
    default:
      return { healthy: false, reason: `cannot be opened read-write (${outcome.code})` };
  }
}

/** Opens `path` read-write (non-blocking) and closes it again; never throws. */
export async function probeDevice(path: string): Promise<ProbeOutcome> {
  try {
    const handle = await open(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY);
    const { mode } = await handle.stat().finally(() => handle.close());
    return { opened: true, mode: mode & 0o777 };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    if (code !== 'EPERM') return { opened: false, code };
    const found = await stat(path).catch(() => undefined);
    return { opened: false, code, charDevice: found?.isCharacterDevice() ?? false, ...(found ? { mode: found.mode & 0o777 } : {}) };
  }
}

/**
 * A warning when a healthy node's mode keeps other users out (e.g. 0660 root:kvm): containers
 * get the host's owner and mode, so the launcher (UID 107) opens it only if the runtime hands
 * device ownership to the pod's user, or the node is world read-write.
 */
export function ownershipWarning(state: HealthState): string | undefined {
  if (!state.healthy || state.mode === undefined || (state.mode & 0o006) === 0o006) return undefined;
  return (
    `mode ${state.mode.toString(8).padStart(4, '0')} lets only its owner and group in: non-root launchers can open it only when the ` +
    'container runtime sets device_ownership_from_security_context = true (containerd, CRI-O) or the node is 0666'
  );
}

/** Options of a HealthMonitor. */
export interface HealthMonitorOptions {
  /** The node to probe, as this process sees it (e.g. /host/dev/kvm). */
  path: string;
  /** Re-check this often even when no change was noticed. */
  intervalMs: number;
  /** Called with the first state and on every change of healthy/unhealthy or reason. */
  onChange: (state: HealthState) => void;
}

/** Watches one device node's health. */
export class HealthMonitor {
  private current: HealthState | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private readonly runner: SerialRunner;
  private stopped = false;

  constructor(private readonly options: HealthMonitorOptions) {
    this.runner = serialRunner(() => this.probeOnce(), () => undefined);
  }

  /** The last known state (undefined before the first check). */
  get state(): HealthState | undefined {
    return this.current;
  }

  /** Probes once, then keeps watching until stop(). */
  async start(): Promise<HealthState> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.options.intervalMs);
    this.timer.unref();
    return this.current as HealthState;
  }

  /** Probes now (coalesced with a probe already running). */
  check(): Promise<void> {
    return this.runner.trigger();
  }

  /** Stops the timer and the directory watch. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async probeOnce(): Promise<void> {
    if (this.stopped) return;
    this.ensureWatch();
    const next = judgeProbe(await probeDevice(this.options.path));
    if (this.stopped) return;
    if (this.current?.healthy === next.healthy && this.current.reason === next.reason && this.current.mode === next.mode) return;
    this.current = next;
    this.options.onChange(next);
  }

  /** Watches the node's directory (a watch on the node itself would die with it); retried on every check. */
  private ensureWatch(): void {
    if (this.watcher) return;
    const name = basename(this.options.path);
    try {
      this.watcher = watch(dirname(this.options.path), { persistent: false }, (_event, file) => {
        if (file === null || file === name) void this.check();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      // The directory itself is missing (e.g. no /dev/net): the timer keeps checking.
      this.watcher = undefined;
    }
  }
}
