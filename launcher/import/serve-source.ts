// `launcher serve-source`: the source pod's process (api/contract/claim-source.ts, ADR 0019).
// Reads its task (the kubevmm.io/source annotation through the downward API), serves the
// claim's disk to the image's importer until the pod is deleted, and stops on SIGTERM.

import { join } from 'node:path';
import { SOURCE_LAYOUT, SOURCE_PORT, sourceTask, type SourceTask } from '../../api/contract/claim-source.js';
import { CREDENTIAL_KEYS, LAYOUT } from '../../api/layout.js';
import { startClaimServer, type ClaimServer } from './claim-server.js';
import { portFlag, readTaskFile } from './task-file.js';

/** Flags of `launcher serve-source`; every one defaults to the pod layout. */
export interface ServeSourceFlags {
  task: string;
  port: string;
  host?: string;
  credentials: string;
  claimDir: string;
  claimDevice: string;
}

/** Default flag values: the source pod's layout. */
export const SERVE_SOURCE_DEFAULTS = {
  task: SOURCE_LAYOUT.taskFile,
  port: String(SOURCE_PORT),
  credentials: SOURCE_LAYOUT.credentialsDir,
  claimDir: SOURCE_LAYOUT.claimDir,
  claimDevice: SOURCE_LAYOUT.claimDevice,
} as const;

const failed = (message: string, cause?: unknown) => new Error(message, cause === undefined ? undefined : { cause });

/** The task file, held to the contract; throws naming the file and what is wrong. */
export function readSourceTask(path: string): Promise<SourceTask> {
  return readTaskFile(path, sourceTask, { name: 'source task', annotation: 'kubevmm.io/source' }, failed);
}

/** Starts serving as the flags say; resolves with the listening server. */
export async function serveSource(flags: ServeSourceFlags, log: (line: string) => void): Promise<ClaimServer> {
  const port = portFlag(flags.port, failed);
  const task = await readSourceTask(flags.task);
  const dir = flags.credentials.replace(/\/$/, '');
  const path = task.mode === 'Block' ? flags.claimDevice : join(flags.claimDir, LAYOUT.diskImage);
  const server = await startClaimServer({
    port,
    ...(flags.host ? { host: flags.host } : {}),
    tls: { certFile: `${dir}/${CREDENTIAL_KEYS.cert}`, keyFile: `${dir}/${CREDENTIAL_KEYS.key}`, clientCaFile: `${dir}/${CREDENTIAL_KEYS.clientCa}` },
    imageUid: task.imageUid,
    path,
    log,
  });
  log(`serving ${path} on ${server.url} to the importer of image ${task.imageUid}`);
  return server;
}

/** Run `launcher serve-source` until SIGTERM or SIGINT (the pod's deletion); resolves with the exit code. */
export async function serveSourceCommand(flags: ServeSourceFlags, log: (line: string) => void): Promise<number> {
  let server: ClaimServer;
  try {
    server = await serveSource(flags, log);
  } catch (err) {
    log((err as Error).message);
    return 1;
  }
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log(`${signal}: stopping`);
  await server.close();
  return 0;
}
