/**
 * `kubevmm play --watch`: watches the manifest while the VM runs and applies each edit that
 * can apply live (hotplug, unplug, pause, resume) through the launcher handle, one step at a
 * time, printing one line per step. An edit that does not validate changes nothing; fields
 * that need a restart are named and left alone.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { LauncherVm } from '../api/resolve.js';
import type { LauncherHandle } from '../launcher/main.js';
import { describeError } from '../launcher/runtime/errors.js';
import { afterStep, planWatch, type WatchPlan, type WatchStep } from './watch-plan.js';

/** What the watcher drives: the launcher handle's live operations. */
export type LiveVm = Pick<LauncherHandle, 'attach' | 'detach' | 'pause' | 'resume'>;

/** Options of {@link watchManifest}. */
export interface ManifestWatchOptions {
  file: string;
  /** Parses and validates the file's text exactly as play did at start; throws with the errors. */
  load: (text: string) => LauncherVm;
  vm: LiveVm;
  /** The spec the VM has now (see appliedAtStart). */
  applied: LauncherVm;
  /** `--disk NAME=PATH` files given when play started. */
  paths: Readonly<Record<string, string>>;
  /** One line per message, without a prefix. */
  log: (line: string) => void;
  /** Quiet time after the last file event before the file is read. Default 300 ms. */
  debounceMs?: number;
}

/** A running watch. */
export interface ManifestWatch {
  /** Stops watching; a step already sent to the launcher finishes, no further step starts. */
  close(): void;
  /** Resolves once every change seen so far has been handled. */
  settled(): Promise<void>;
}

/** The line printed after a step succeeded. */
async function runStep(vm: LiveVm, step: WatchStep): Promise<string> {
  switch (step.kind) {
    case 'attach': {
      const { disk, path } = step;
      const bus = disk.bus === 'scsi' ? 'scsi' : 'virtio';
      const status = await vm.attach({ name: disk.name, path, bus, readOnly: disk.readOnly, cache: disk.cache });
      return status.target ? `attached ${disk.name} as ${status.target}` : `attached ${disk.name}`;
    }
    case 'detach':
      await vm.detach(step.name);
      return `detached ${step.name}`;
    case 'pause':
      await vm.pause();
      return 'paused';
    case 'resume':
      await vm.resume();
      return 'resumed';
  }
}

function stepName(step: WatchStep): string {
  if (step.kind === 'attach') return `attach ${step.disk.name}`;
  if (step.kind === 'detach') return `detach ${step.name}`;
  return step.kind;
}

/** Lines for the parts of a plan that are not steps. */
export function planNotices(plan: Pick<WatchPlan, 'unmapped' | 'restart'>): string[] {
  const lines = plan.unmapped.map(
    (name) => `disk ${name} is hotpluggable but has no local file; nothing attached (start play with --disk ${name}=PATH to attach it)`,
  );
  if (plan.restart.length) {
    lines.push(`needs a restart (RestartRequired): ${plan.restart.join(', ')} changed; the VM keeps running as it is until play is started again`);
  }
  return lines;
}

class ManifestWatcher implements ManifestWatch {
  private applied: LauncherVm;
  private lastText: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly watcher: FSWatcher;

  constructor(private readonly options: ManifestWatchOptions) {
    this.applied = options.applied;
    const name = basename(options.file);
    // The directory, not the file: editors that save by renaming a new file over the old
    // one would leave a watch on the file looking at the replaced inode.
    this.watcher = watch(dirname(options.file), (_event, changed) => {
      if (changed === null || changed === name) this.schedule();
    });
    this.watcher.on('error', (err) => {
      options.log(`watching ${options.file} stopped: ${describeError(err)}`);
      this.close();
    });
    // An edit made between play reading the file and the watch starting is not lost.
    this.enqueue(false);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.watcher.close();
  }

  settled(): Promise<void> {
    return this.queue;
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.enqueue(true), this.options.debounceMs ?? 300);
  }

  private enqueue(announce: boolean): void {
    this.queue = this.queue.then(() => this.check(announce)).catch((err: unknown) => this.options.log(`--watch: ${describeError(err)}`));
  }

  /** Reads the file; undefined when unchanged since the last read, or unreadable. */
  private async read(): Promise<string | undefined> {
    const { file, log } = this.options;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Mid-save (renamed away, not yet back): the rename that completes the save is another event.
      if (code !== 'ENOENT') log(`${file}: cannot read (${code ?? describeError(err)}); the VM is unchanged`);
      return undefined;
    }
    if (text === this.lastText) return undefined;
    this.lastText = text;
    return text;
  }

  private async check(announce: boolean): Promise<void> {
    const { file, load, log, paths } = this.options;
    const text = this.closed ? undefined : await this.read();
    if (text === undefined) return;
    let next: LauncherVm;
    try {
      next = load(text);
    } catch (err) {
      log(`${file} changed but is not valid; nothing applied, the VM keeps running as it is:`);
      describeError(err)
        .split('\n')
        .forEach((line) => log(`  ${line}`));
      return;
    }
    const plan = planWatch(this.applied, next, paths);
    for (const step of plan.steps) await this.run(step);
    const notices = planNotices(plan);
    notices.forEach(log);
    if (announce && !plan.steps.length && !notices.length) log(`${file} changed; nothing to apply`);
  }

  private async run(step: WatchStep): Promise<void> {
    if (this.closed) return;
    try {
      this.options.log(await runStep(this.options.vm, step));
      this.applied = afterStep(this.applied, step);
    } catch (err) {
      this.options.log(`${stepName(step)} failed: ${describeError(err)}`);
    }
  }
}

/** Starts watching `file`; it is checked once at once, then after every change. */
export function watchManifest(options: ManifestWatchOptions): ManifestWatch {
  return new ManifestWatcher(options);
}
