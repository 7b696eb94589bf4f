// `launcher import`: the importer pod's process (api/contract/importer.ts). Reads the task the
// operator put in the pod's kubevmm.io/import annotation, imports, and ends with the contract's
// termination message: importerResult JSON and exit 0 only once the target is written, synced
// and verified; `Reason: message` and exit 1 on a permanent failure.

import { readFile, writeFile } from 'node:fs/promises';
import { CREDENTIAL_KEYS } from '../../api/layout.js';
import { IMPORTER_CLIENT_KEYS } from '../../api/contract/claim-source.js';
import { IMPORTER_LAYOUT, IMPORTER_PORT, importTask, type ImporterResult, type ImportTask } from '../../api/contract/importer.js';
import { asImportError, failureLine, ImportError } from './errors.js';
import { runImport, type RunImportOptions } from './run.js';
import { portFlag, readTaskFile } from './task-file.js';

export { ImportError, failureLine } from './errors.js';
export { ImportProgress } from './progress.js';
export { runImport, TARGET_FILE, type RunImportOptions } from './run.js';
export type { ImporterServer } from './server.js';

/** Flags of `launcher import`; every one defaults to the pod layout. */
export interface ImportFlags {
  task: string;
  port: string;
  host?: string;
  credentials: string;
  scratch: string;
  targetDir: string;
  targetDevice: string;
  terminationLog: string;
  qemuImg?: string;
  xz?: string;
}

/** Default flag values: the importer pod's layout. */
export const IMPORT_DEFAULTS = {
  task: IMPORTER_LAYOUT.taskFile,
  port: String(IMPORTER_PORT),
  credentials: IMPORTER_LAYOUT.credentialsDir,
  scratch: IMPORTER_LAYOUT.scratchDir,
  targetDir: IMPORTER_LAYOUT.targetDir,
  targetDevice: IMPORTER_LAYOUT.targetDevice,
} as const;

/** An ImportError of the command itself (its task, its flags): not the image's fault. */
const importFailed = (message: string) => new ImportError({ reason: 'ImportFailed', message });

/** The task file (the annotation through the downward API), held to the contract. */
export function readImportTask(path: string): Promise<ImportTask> {
  return readTaskFile(path, importTask, { name: 'import task', annotation: 'kubevmm.io/import' }, importFailed);
}

/** The importer's client certificate for its source pod, and the CA that pod's certificate chains to. */
async function claimTls(dir: string): Promise<NonNullable<RunImportOptions['claimTls']>> {
  const read = (key: string) =>
    readFile(`${dir}/${key}`, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new ImportError({ reason: 'ImportFailed', message: `the credentials of a claim copy lack ${key} (${err.code ?? err.message}); the operator writes it with the importer's Secret` });
    });
  const [cert, key, ca] = await Promise.all([read(IMPORTER_CLIENT_KEYS.cert), read(IMPORTER_CLIENT_KEYS.key), read(CREDENTIAL_KEYS.clientCa)]);
  return { cert, key, ca };
}

async function optionsFromFlags(flags: ImportFlags, log: (line: string) => void): Promise<RunImportOptions> {
  const port = portFlag(flags.port, importFailed);
  const dir = flags.credentials.replace(/\/$/, '');
  const task = await readImportTask(flags.task);
  return {
    task,
    ...(task.source.kind === 'claim' ? { claimTls: await claimTls(dir) } : {}),
    scratchDir: flags.scratch,
    targetDir: flags.targetDir,
    targetDevice: flags.targetDevice,
    server: { port, ...(flags.host ? { host: flags.host } : {}), tls: { certFile: `${dir}/${CREDENTIAL_KEYS.cert}`, keyFile: `${dir}/${CREDENTIAL_KEYS.key}`, clientCaFile: `${dir}/${CREDENTIAL_KEYS.clientCa}` } },
    ...(flags.qemuImg ? { qemuImg: flags.qemuImg } : {}),
    ...(flags.xz ? { xz: flags.xz } : {}),
    log,
  };
}

/** Run `launcher import`; resolves with the exit code after writing the termination message. */
export async function importCommand(flags: ImportFlags, log: (line: string) => void): Promise<number> {
  let message: string;
  let code: number;
  try {
    const result: ImporterResult = await runImport(await optionsFromFlags(flags, log));
    message = JSON.stringify(result);
    code = 0;
    log(`import done: ${message}`);
  } catch (err) {
    message = failureLine(asImportError(err));
    code = 1;
    log(message);
  }
  await writeFile(flags.terminationLog, `${message}\n`).catch((err: unknown) => log(`cannot write ${flags.terminationLog}: ${String(err)}`));
  return code;
}
