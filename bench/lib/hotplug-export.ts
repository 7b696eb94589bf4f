// The NBD side of the hotplug benchmark: the data file served by `launcher export` on a free
// local port, through the same helper the NBD system test uses.

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../launcher/runtime/ports.js';
import { Exporter } from '../../harness/exporter.js';

export { writePskFile } from '../../harness/exporter.js';

/** A running `launcher export`. */
export interface NbdExport {
  port: number;
  /** Stops the exporter (SIGTERM, SIGKILL after 15 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Options of {@link startExport}. */
export interface ExportOptions {
  /** Directory holding disk.img. */
  sourceDir: string;
  /** Directory holding keys.psk. */
  pskDir: string;
}

/** Start `launcher export --mode filesystem` for `<sourceDir>/disk.img` on a free local port; resolves once it serves. */
export async function startExport(options: ExportOptions): Promise<NbdExport> {
  const port = await freePort();
  const size = (await stat(join(options.sourceDir, 'disk.img'))).size;
  const exporter = await Exporter.start({ source: options.sourceDir, size, port, pskDir: options.pskDir });
  const stop = async (): Promise<void> => {
    const stopped = exporter.stop();
    await Promise.race([stopped, sleep(15_000).then(() => exporter.kill())]);
    await stopped;
  };
  return { port, stop };
}
