// `launcher export`'s options, checked before anything runs: every mistake is reported with
// the option it concerns and how to fix it. Pure: what needs the file system (is the source a
// directory, is keys.psk there) is checked by the runner.

import { NBD_EXPORT } from '../../api/layout.js';
import { parseQuantity } from '../../api/quantity.js';

/** Where the bytes are: a Filesystem PVC (a directory holding disk.img) or a Block PVC. */
export type ExportMode = 'filesystem' | 'block';

/** What `launcher export` serves, and how. */
export interface ExportOptions {
  /** The directory holding disk.img (filesystem) or the block device (block). */
  source: string;
  mode: ExportMode;
  /** Filesystem mode: size in bytes of a disk.img created when there is none. */
  size?: number;
  /** TCP port of the NBD server. */
  port: number;
  /** Listen address; default all IPv4 addresses (pod networks reach the pod IP). */
  address: string;
  /** Directory holding keys.psk (the server-side TLS-PSK credentials). */
  pskDir: string;
  readOnly: boolean;
}

/** Bad options or an unusable source; the message names the option and the fix. */
export class ExportError extends Error {
  /** Stable CamelCase reason. */
  readonly reason: string;

  constructor(reason: string, message: string) {
    super(message);
    this.name = 'ExportError';
    this.reason = reason;
  }
}

/** The flags as commander hands them over (strings, or a boolean for --read-only). */
export interface ExportFlags {
  source?: string;
  mode?: string;
  size?: string;
  port?: string;
  address?: string;
  pskDir?: string;
  readOnly?: boolean;
}

const invalid = (message: string): ExportError => new ExportError('InvalidArgument', message);

function parseMode(mode: string | undefined): ExportMode {
  if (mode === 'filesystem' || mode === 'block') return mode;
  throw invalid(`--mode ${mode ?? '(missing)'}: use --mode filesystem (a directory holding ${'disk.img'}) or --mode block (a block device)`);
}

function parsePort(port: string | undefined): number {
  if (port === undefined) return NBD_EXPORT.port;
  const n = Number(port);
  if (!/^\d+$/.test(port) || n < 1 || n > 65535) throw invalid(`--port ${port}: not a TCP port; give a number from 1 to 65535 (default ${NBD_EXPORT.port})`);
  return n;
}

function parseSize(size: string | undefined, mode: ExportMode): number | undefined {
  if (size === undefined) return undefined;
  if (mode === 'block') throw invalid(`--size ${size}: only for --mode filesystem; a block device has its own size, drop --size`);
  let bytes: number;
  try {
    bytes = parseQuantity(size);
  } catch {
    throw invalid(`--size ${size}: not a size; give bytes or a quantity such as 10Gi`);
  }
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % 512 !== 0) {
    throw invalid(`--size ${size}: must be a positive whole number of 512-byte sectors, e.g. 10Gi or 1073741824`);
  }
  return bytes;
}

/** Check and complete the flags (pure). Throws {@link ExportError} naming the option. */
export function parseExportOptions(flags: ExportFlags): ExportOptions {
  if (!flags.source) throw invalid('--source is required: the directory holding disk.img (--mode filesystem) or the block device (--mode block)');
  if (!flags.source.startsWith('/')) throw invalid(`--source ${flags.source}: give an absolute path`);
  const mode = parseMode(flags.mode);
  const address = flags.address ?? '0.0.0.0';
  if (!/^[A-Za-z0-9._:-]+$/.test(address)) throw invalid(`--address ${address}: give an IP address or host name to listen on`);
  const size = parseSize(flags.size, mode);
  return {
    source: flags.source,
    mode,
    ...(size === undefined ? {} : { size }),
    port: parsePort(flags.port),
    address,
    pskDir: flags.pskDir ?? NBD_EXPORT.pskDir,
    readOnly: flags.readOnly ?? false,
  };
}
