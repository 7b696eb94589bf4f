// The guest side of the hotplug benchmark: the fixture guest's `diskbench` switch and result
// lines (test/fixtures/guest/README.md, "Disk benchmark"), and a cursor over the serial log
// that times each marker as it appears.

import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** How often the serial log is read: the resolution of every guest-side time. */
export const SERIAL_POLL_MS = 10;

/** The four diskbench modes. */
export type DiskbenchMode = 'randread' | 'randwrite' | 'read' | 'write';

/** One `KUBEVMM-GUEST diskbench ...` result line. */
export interface DiskbenchResult {
  dev: string;
  mode: DiskbenchMode;
  bs: number;
  ops: number;
  bytes: number;
  usec: number;
}

/** One diskbench job: mode, block size in bytes, duration in seconds. */
export interface DiskbenchJob {
  mode: DiskbenchMode;
  bs: number;
  seconds: number;
}

/** The benchmark's jobs: 4k random at QD1 (IOPS) and 1M sequential (MiB/s), reads then writes. */
export function standardJobs(seconds: number): DiskbenchJob[] {
  return [
    { mode: 'randread', bs: 4096, seconds },
    { mode: 'randwrite', bs: 4096, seconds },
    { mode: 'read', bs: 1 << 20, seconds },
    { mode: 'write', bs: 1 << 20, seconds },
  ];
}

/**
 * The user-data line that makes the guest run `jobs` on every disk whose serial starts with
 * `prefix`, at boot or when hotplugged; without jobs it only reports the disk coming and going.
 */
export function diskbenchSwitch(prefix: string, jobs: readonly DiskbenchJob[] = []): string {
  if (!/^[A-Za-z0-9-]+$/.test(prefix) || prefix.startsWith('data')) {
    throw new Error(`diskbench prefix "${prefix}": letters, digits and '-' only, not starting with "data" (the guest writes into data* disks)`);
  }
  const fields = [prefix, ...jobs.map((j) => `${j.mode}:${j.bs}:${j.seconds}s`)];
  return `#kubevmm: diskbench=${fields.join(',')}`;
}

const RESULT = /KUBEVMM-GUEST diskbench dev=(\S+) mode=(randread|randwrite|read|write) bs=(\d+) ops=(\d+) bytes=(\d+) usec=(\d+)/g;
const FAILED = /KUBEVMM-GUEST diskbench-failed [^\r\n]*/g;

/** Every result line in `text`, in order (pure). */
export function parseResults(text: string): DiskbenchResult[] {
  return [...text.matchAll(RESULT)].map((m) => ({
    dev: m[1]!,
    mode: m[2] as DiskbenchMode,
    bs: Number(m[3]),
    ops: Number(m[4]),
    bytes: Number(m[5]),
    usec: Number(m[6]),
  }));
}

/** Every `diskbench-failed` line in `text` (pure). */
export function parseFailures(text: string): string[] {
  return [...text.matchAll(FAILED)].map((m) => m[0]);
}

/** Operations per second of one result. */
export function iops(r: DiskbenchResult): number {
  return r.usec > 0 ? (r.ops * 1e6) / r.usec : NaN;
}

/** MiB per second of one result. */
export function mibps(r: DiskbenchResult): number {
  return r.usec > 0 ? (r.bytes * 1e6) / r.usec / 2 ** 20 : NaN;
}

/** A match of {@link SerialCursor.waitFor}. */
export interface SerialMatch {
  match: RegExpMatchArray;
  /** `performance.now()` at the poll that saw it. */
  at: number;
  /** The log between the previous cursor position and the match. */
  skipped: string;
}

/**
 * Follows a serial log from a byte offset: each `waitFor` looks only at what came after the
 * previous match, so a marker printed once per hotplug cycle is matched once.
 */
export class SerialCursor {
  private offset = 0;
  private pending = '';
  private ended = false;

  /** `gone` settles when waiting is pointless (QEMU exited). */
  constructor(
    private readonly path: string,
    gone?: Promise<unknown>,
  ) {
    void gone?.then(
      () => (this.ended = true),
      () => (this.ended = true),
    );
  }

  /** Skip everything written so far. */
  async skipToEnd(): Promise<void> {
    await this.readMore();
    this.pending = '';
  }

  /** Resolve at the first poll that sees `pattern` after the cursor; reject on timeout or exit. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<SerialMatch> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      await this.readMore();
      const match = this.pending.match(pattern);
      if (match?.index !== undefined) {
        const at = performance.now();
        const skipped = this.pending.slice(0, match.index);
        this.pending = this.pending.slice(match.index + match[0].length);
        return { match, at, skipped };
      }
      if (this.ended || performance.now() > deadline) {
        const why = this.ended ? 'QEMU exited' : `not within ${timeoutMs} ms`;
        throw new Error(`serial console: no ${pattern} (${why}); last output:\n${this.pending.slice(-1500)}`);
      }
      await sleep(SERIAL_POLL_MS);
    }
  }

  private async readMore(): Promise<void> {
    let file;
    try {
      file = await open(this.path, 'r');
    } catch {
      return; // QEMU has not created it yet
    }
    try {
      const buffer = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, buffer.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        this.pending += buffer.toString('latin1', 0, bytesRead);
      }
    } finally {
      await file.close();
    }
  }
}
