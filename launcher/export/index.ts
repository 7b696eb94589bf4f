// `launcher export`: an attachment pod serves one hotplugged PVC over NBD with TLS-PSK to the
// VM's launcher (ADR 0005). The CLI calls exportCommand; the parts are exported for tests.

import { ExportError, parseExportOptions, type ExportFlags } from './options.js';
import { runExport } from './run.js';

export { ExportError, parseExportOptions, type ExportFlags, type ExportMode, type ExportOptions } from './options.js';
export { EXPORT_IDS, exportImage, planExport, type ExportPlanInput } from './plan.js';
export { createSparseImage } from '../runtime/disks.js';
export { runExport, type RunExportOptions } from './run.js';

/** Exit status for options that do not fit (as for a usage error). */
export const EXPORT_USAGE_EXIT = 2;

/** Run `launcher export` with commander's flags; resolves with the process exit code. */
export async function exportCommand(flags: ExportFlags, log: (line: string) => void, binary?: string): Promise<number> {
  try {
    return await runExport({ options: parseExportOptions(flags), log, ...(binary ? { binary } : {}) });
  } catch (err) {
    if (!(err instanceof ExportError)) throw err;
    log(err.message);
    return EXPORT_USAGE_EXIT;
  }
}
