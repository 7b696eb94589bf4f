// The busybox test guest (test/fixtures/guest) as a disk image on this machine, for PVs.
import { spawnSync } from 'node:child_process';

let cached: string | undefined;

/** Path of guest.img (built and cached by the fixture's build.sh on first use). */
export function guestImage(): string {
  if (cached) return cached;
  const r = spawnSync('bash', ['test/fixtures/guest/build.sh'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the test guest did not build (bash test/fixtures/guest/build.sh):\n${r.stderr.slice(-3000)}`);
  cached = r.stdout.trim();
  return cached;
}
