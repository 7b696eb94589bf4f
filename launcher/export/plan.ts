// qemu-storage-daemon's command line for an attachment pod: TLS-PSK server credentials, the
// volume's two block nodes, an NBD server and one export named NBD_EXPORT.name. Every option
// is given as JSON, so paths with commas or equals signs need no QemuOpts escaping. Pure.

import { join } from 'node:path';
import { LAYOUT, NBD_EXPORT } from '../../api/layout.js';
import { NBD_TLS_PRIORITY } from '../qemu/nbd.js';
import type { ExportOptions } from './options.js';

/** What {@link planExport} needs beyond the options: facts the runner found on disk. */
export interface ExportPlanInput extends ExportOptions {
  /** Format of the image (by its magic bytes); the export serves the guest-visible bytes. */
  format: 'raw' | 'qcow2';
  /** qemu-storage-daemon writes it once the export listens (the runner's readiness signal). */
  pidFile?: string;
  /**
   * The daemon's descriptor of a listening socket the runner made (with TCP_NODELAY, which
   * accepted sockets inherit); absent: the daemon listens on address:port itself.
   */
  listenFd?: number;
}

/** QOM id of the server credentials and node names inside the daemon. */
export const EXPORT_IDS = { tls: 'tls0', file: 'file0', format: 'disk0', export: 'export0' } as const;

/** The image or device an export serves: `<source>/disk.img`, or the block device itself. */
export function exportImage(options: Pick<ExportOptions, 'source' | 'mode'>): string {
  return options.mode === 'filesystem' ? join(options.source, LAYOUT.diskImage) : options.source;
}

function blockdevs(input: ExportPlanInput): object[] {
  const writable = !input.readOnly;
  // Guest TRIM frees space on thin PVCs and sparse images; zero writes become unmaps too.
  const discard = writable ? { discard: 'unmap' } : {};
  return [
    {
      driver: input.mode === 'block' ? 'host_device' : 'file',
      'node-name': EXPORT_IDS.file,
      filename: exportImage(input),
      'read-only': input.readOnly,
      // The guest has its own page cache; a second one in the pod only costs memory (cache none).
      cache: { direct: true, 'no-flush': false },
      ...discard,
    },
    {
      driver: input.format,
      'node-name': EXPORT_IDS.format,
      file: EXPORT_IDS.file,
      'read-only': input.readOnly,
      ...discard,
      ...(writable ? { 'detect-zeroes': 'unmap' } : {}),
    },
  ];
}

function listenAddress(input: ExportPlanInput): object {
  if (input.listenFd !== undefined) return { type: 'fd', str: String(input.listenFd) };
  return { type: 'inet', host: input.address, port: String(input.port) };
}

/** qemu-storage-daemon's arguments (without the binary) for one export (pure). */
export function planExport(input: ExportPlanInput): string[] {
  const json = (value: object): string => JSON.stringify(value);
  const tls = { 'qom-type': 'tls-creds-psk', id: EXPORT_IDS.tls, endpoint: 'server', dir: input.pskDir, priority: NBD_TLS_PRIORITY };
  const argv = ['--object', json(tls)];
  for (const node of blockdevs(input)) argv.push('--blockdev', json(node));
  argv.push(
    '--nbd-server',
    json({ addr: listenAddress(input), 'tls-creds': EXPORT_IDS.tls }),
    '--export',
    json({ type: 'nbd', id: EXPORT_IDS.export, 'node-name': EXPORT_IDS.format, name: NBD_EXPORT.name, writable: !input.readOnly }),
  );
  if (input.pidFile) argv.push('--pidfile', input.pidFile);
  return argv;
}
