// One timed run of a VM process (`kubevmm play` or bare QEMU): the wall time from the spawn to
// each guest marker on its stdout (the serial console) and to its exit, and for play its own
// `--timings` milestones from stderr.

import { spawn } from 'node:child_process';

/** What one run saw, in ms from the spawn (NaN: never seen). */
export interface PlayRun {
  booted: number;
  /** Seconds since the guest kernel started, at `booted` (the fixture prints /proc/uptime). */
  kernelSeconds: number;
  ready: number;
  poweroff: number;
  exit: number;
  exitCode: number | null;
  /** play --timings: milestone name -> ms since play's process started. */
  timings: Map<string, number>;
}

/** Parses `kubevmm: timing <at> ms  +<delta> ms  <name>` lines. */
export function parseTimings(stderr: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of stderr.matchAll(/^kubevmm: timing +([\d.]+) ms +\+ *[\d.]+ ms {2}(.+)$/gm)) out.set(m[2] ?? '', Number(m[1]));
  return out;
}

/** Spawns `command args`, times the fixture guest's markers on stdout and the exit; kills it after `timeoutMs`. */
export function timeRun(command: string, args: readonly string[], opts: { timeoutMs: number; cwd?: string }): Promise<PlayRun> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(command, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const run: PlayRun = { booted: NaN, kernelSeconds: NaN, ready: NaN, poweroff: NaN, exit: NaN, exitCode: null, timings: new Map() };
    let out = '';
    let err = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      const now = performance.now() - t0;
      out += chunk.toString();
      const booted = /KUBEVMM-GUEST booted [^\n]*uptime=([\d.]+)/.exec(out);
      if (booted && Number.isNaN(run.booted)) {
        run.booted = now;
        run.kernelSeconds = Number(booted[1]);
      }
      if (Number.isNaN(run.ready) && out.includes('KUBEVMM-GUEST ready')) run.ready = now;
      if (Number.isNaN(run.poweroff) && out.includes('KUBEVMM-GUEST self-poweroff')) run.poweroff = now;
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('close', (code) => {
      clearTimeout(killer);
      run.exit = performance.now() - t0;
      run.exitCode = code;
      run.timings = parseTimings(err);
      if (code !== 0) process.stderr.write(`${command} exited ${String(code)}: ${err.slice(-1500)}\n`);
      resolve(run);
    });
  });
}
