// The control API's TLS: the launcher's certificate for its VM and the CA whose client
// certificates it accepts, from files (the per-VM Secret volume). The files are watched, so
// a certificate the operator renews reaches the running launcher without a restart. Which
// requests need a client certificate is the server's business; this says whether a request
// has a good one.

import { readFile, stat } from 'node:fs/promises';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { controlClientMay } from '../../api/contract/control.js';

/** Where the TLS material is (PEM files). */
export interface ControlTlsFiles {
  /** The launcher's certificate (chain) for its VM. */
  certFile: string;
  keyFile: string;
  /** The CA that issues the clients' certificates (the operator's launcher CA). */
  clientCaFile: string;
}

/** The extended key usage that marks a client certificate. */
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** The files as one secure context, and a signature that changes when any file does. */
export async function loadTls(files: ControlTlsFiles): Promise<{ context: SecureContextOptions; signature: string }> {
  // Signature first: a file that changes while being read shows up as a change next time.
  const signature = await tlsSignature(files);
  const [cert, key, ca] = await Promise.all([files.certFile, files.keyFile, files.clientCaFile].map((p) => readFile(p)));
  return { context: { cert, key, ca }, signature };
}

/** inode, size and mtime of every file: a Secret volume update swaps them all at once. */
export async function tlsSignature(files: ControlTlsFiles): Promise<string> {
  const infos = await Promise.all([files.certFile, files.keyFile, files.clientCaFile].map((p) => stat(p)));
  return infos.map((i) => `${i.ino}:${i.size}:${i.mtimeMs}`).join('|');
}

/** Why a request's client certificate is not good enough (401) or not for this call (403); undefined when it is. */
export interface ClientRefusal {
  status: 401 | 403;
  reason: 'ClientCertificateRequired' | 'ClientCertificateRejected' | 'ClientNotAllowed';
  message: string;
}

/** The subject's common name of the verified client, for the audit line. */
export function clientName(socket: TLSSocket): string {
  const subject = socket.getPeerCertificate()?.subject as { CN?: string | string[] } | undefined;
  const cn = subject?.CN;
  return (Array.isArray(cn) ? cn[0] : cn) ?? 'unnamed client';
}

/**
 * Checks the client certificate of the connection: present, verified against the client CA
 * (the TLS handshake did that; `authorized` says how it went) and meant for client
 * authentication, so another launcher's serving certificate from the same CA is no key.
 */
export function refuseClient(socket: TLSSocket): ClientRefusal | undefined {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) {
    return { status: 401, reason: 'ClientCertificateRequired', message: 'this endpoint needs a client certificate from the operator CA (mutual TLS)' };
  }
  if (!socket.authorized) {
    return { status: 401, reason: 'ClientCertificateRejected', message: `client certificate not accepted: ${String(socket.authorizationError ?? 'not verified')}` };
  }
  if (!(cert.ext_key_usage ?? []).includes(CLIENT_AUTH_OID)) {
    return { status: 401, reason: 'ClientCertificateRejected', message: 'client certificate not accepted: it is not for client authentication (extended key usage clientAuth)' };
  }
  return undefined;
}

/**
 * Checks that the verified client may make this call (`controlClientMay`, by its certificate's
 * common name): the subresource server opens streams and reads metrics, nothing else. Call it
 * after {@link refuseClient} accepted the certificate.
 */
export function refuseCall(socket: TLSSocket, method: string, path: string): ClientRefusal | undefined {
  const client = clientName(socket);
  if (controlClientMay(client, method, path)) return undefined;
  return { status: 403, reason: 'ClientNotAllowed', message: `client ${client} may not call ${method} ${path} on the control API` };
}
