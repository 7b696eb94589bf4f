// QMP arguments for a disk whose bytes come over NBD from an attachment pod (ADR 0005): the
// TLS-PSK client credentials, an `nbd` protocol node under a raw format node, and what QEMU's
// connection errors mean. Pure: the runtime sends these with object-add and blockdev-add.

import type { NbdSource } from '../../api/contract/control.js';
import { NBD_EXPORT } from '../../api/layout.js';
import { blockNodeNames } from './blockdev.js';

/** Where an attachment pod serves a disk: its address, port and export name. */
export type NbdServer = NbdSource;

/** How the NBD client rides out a lost export; seconds, as QEMU takes them. */
export interface NbdClientTiming {
  /** Requests wait this long for a reconnect before they fail (and pause the VM). */
  reconnectDelaySeconds: number;
  /** blockdev-add keeps trying to connect this long before it gives up. */
  openTimeoutSeconds: number;
}

/** Defaults: an attachment pod restarted on the same node is back well within 10 s. */
export const DEFAULT_NBD_TIMING: NbdClientTiming = { reconnectDelaySeconds: 10, openTimeoutSeconds: 10 };

/** QOM id of the one TLS-PSK client object every NBD disk of the VM shares. */
export const NBD_TLS_CREDS_ID = 'tls-nbd';

/**
 * GnuTLS priority for both ends: AES-GCM first. GnuTLS's default picked ChaCha20-Poly1305
 * here, which made a 256 MiB sequential read over NBD 3-4x slower than with AES-GCM (AES-NI);
 * ChaCha stays as the fallback for CPUs without AES instructions. QEMU appends the PSK key
 * exchanges itself.
 */
export const NBD_TLS_PRIORITY = 'NORMAL:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305';

/** File QEMU's tls-creds-psk reads inside its `dir`: the name is fixed by QEMU. */
export const PSK_FILE_NAME = 'keys.psk';

/** Arguments of `object-add` for the TLS-PSK credentials (a type, so it fits QMP's open record). */
export type TlsCredsPskObject = {
  'qom-type': 'tls-creds-psk';
  id: string;
  endpoint: 'client' | 'server';
  /** Directory holding keys.psk (`user:hexkey` lines). */
  dir: string;
  username?: string;
  /** GnuTLS priority string ({@link NBD_TLS_PRIORITY}). */
  priority?: string;
};

/** The nbd protocol node (QEMU's BlockdevOptionsNbd). */
export interface NbdProtocolNode {
  driver: 'nbd';
  'node-name': string;
  'read-only': boolean;
  server: { type: 'inet'; host: string; port: string };
  export: string;
  'tls-creds': string;
  'reconnect-delay': number;
  'open-timeout': number;
  discard?: 'unmap';
}

/** The raw format node the device attaches to. */
export interface NbdFormatNode {
  driver: 'raw';
  'node-name': string;
  file: string;
  'read-only': boolean;
  discard?: 'unmap';
  'detect-zeroes'?: 'unmap';
}

/** Client credentials for `dir` (the directory of the launcher's keys.psk). */
export function tlsPskClient(dir: string, username: string = NBD_EXPORT.pskUser): TlsCredsPskObject {
  return { 'qom-type': 'tls-creds-psk', id: NBD_TLS_CREDS_ID, endpoint: 'client', dir, username, priority: NBD_TLS_PRIORITY };
}

/** What {@link nbdNodes} needs. */
export interface NbdNodeInput {
  disk: { name: string; readOnly: boolean };
  server: NbdServer;
  timing: NbdClientTiming;
  tlsCreds?: string;
}

/**
 * The two nodes of an NBD disk, protocol first. The export serves the guest-visible bytes
 * (the attachment pod opens qcow2 itself), so the format node is always raw. No host cache
 * options: caching is the exporting side's business.
 */
export function nbdNodes({ disk, server, timing, tlsCreds = NBD_TLS_CREDS_ID }: NbdNodeInput): [NbdProtocolNode, NbdFormatNode] {
  const names = blockNodeNames(disk.name);
  const discard = disk.readOnly ? {} : { discard: 'unmap' as const };
  return [
    {
      driver: 'nbd',
      'node-name': names.file,
      'read-only': disk.readOnly,
      server: { type: 'inet', host: server.host, port: String(server.port) },
      export: server.export,
      'tls-creds': tlsCreds,
      'reconnect-delay': timing.reconnectDelaySeconds,
      'open-timeout': timing.openTimeoutSeconds,
      ...discard,
    },
    {
      driver: 'raw',
      'node-name': names.format,
      file: names.file,
      'read-only': disk.readOnly,
      ...discard,
      ...(disk.readOnly ? {} : { 'detect-zeroes': 'unmap' as const }),
    },
  ];
}

/** `host:port/export`, with IPv6 hosts in brackets, for messages. */
export function describeNbdServer(server: NbdServer): string {
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  return `${host}:${server.port}/${server.export}`;
}

/** True when keys.psk `content` has a `<user>:<hex key>` line (what QEMU looks up). */
export function hasPskKey(content: string, username: string = NBD_EXPORT.pskUser): boolean {
  return content.split(/\r?\n/).some((line) => {
    const at = line.indexOf(':');
    return at > 0 && line.slice(0, at) === username && /^(?:[0-9a-fA-F]{2})+$/.test(line.slice(at + 1).trim());
  });
}

/** A failed NBD connection, classified: a stable reason and what to do about it. */
export interface NbdFailure {
  reason: 'NbdTlsFailed' | 'NbdExportNotFound' | 'NbdUnreachable' | 'AttachFailed';
  hint?: string;
}

const FAILURES: ReadonlyArray<[RegExp, NbdFailure]> = [
  [/export .*(not (present|available|found))|unknown export|Requested export not available/i, { reason: 'NbdExportNotFound', hint: `the server has no such export (attachment pods export "${NBD_EXPORT.name}")` }],
  [/TLS (handshake|negotiation)/i, { reason: 'NbdTlsFailed', hint: 'the export refused the TLS-PSK handshake: the launcher and the attachment pod must hold the same keys.psk' }],
  [/Connection refused|Connection reset|No route to host|Network is unreachable|timed out|Name or service not known|Failed to connect|address resolution/i, {
    reason: 'NbdUnreachable',
    hint: 'nothing answered there: is the attachment pod running and its export listening?',
  }],
];

/** What QEMU's blockdev-add error for an nbd node means (pure). */
export function classifyNbdError(message: string): NbdFailure {
  return FAILURES.find(([pattern]) => pattern.test(message))?.[1] ?? { reason: 'AttachFailed' };
}
