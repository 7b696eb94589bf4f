// A stand-in for the importers of simulated pods, as launcher-standin.ts is for launchers:
// KWOK pods have loopback addresses, so one server on IMPORTER_PORT answers the operator at
// any importer pod's IP. It serves mutual TLS as an importer pod would: for the image the
// operator names (TLS server name <uid>.launcher.kubevmm.invalid) it loads that image's
// `<image>-importer-credentials` Secret and takes only client certificates from its CA. It
// answers `GET /status` with what the test sets per image name (importerStatus of
// api/contract/importer.ts). The real importer is tested with qemu-img in its own suites.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { IMPORTER_PORT, importerStatus, type ImporterStatus } from '../../../api/contract/importer.js';
import { CREDENTIAL_KEYS } from '../../../api/layout.js';
import { getJson } from './operator-process.js';

type Json = Record<string, any>;

/** The running stand-in. */
export interface ImporterStandin {
  /** What `GET /status` answers, by image name (none set: 503). */
  status: Map<string, ImporterStatus>;
  /** Calls received: image, whether the client certificate verified, its common name. */
  calls: { image: string; authorized: boolean; client?: string; path: string }[];
  close(): Promise<void>;
}

const contexts = new Map<string, { context: SecureContext; image: string }>();

function contextFor(servername: string): { context: SecureContext; image: string } | undefined {
  const uid = /^([0-9a-f-]+)\.launcher\.kubevmm\.invalid$/.exec(servername)?.[1];
  if (!uid) return undefined;
  const known = contexts.get(uid);
  if (known) return known;
  const image = (getJson<{ items: Json[] }>(['virtualmachineimages.kubevmm.io', '-A'])?.items ?? []).find((i) => i.metadata.uid === uid);
  if (!image) return undefined;
  const secret = getJson<Json>(['secret', '-n', image.metadata.namespace, `${image.metadata.name}-importer-credentials`]);
  if (!secret) return undefined;
  const file = (key: string) => Buffer.from(secret.data[key] as string, 'base64');
  const built = { context: createSecureContext({ cert: file(CREDENTIAL_KEYS.cert), key: file(CREDENTIAL_KEYS.key), ca: file(CREDENTIAL_KEYS.clientCa) }), image: image.metadata.name as string };
  contexts.set(uid, built);
  return built;
}

/** Listens on 0.0.0.0:IMPORTER_PORT; fails loudly if the port is taken. */
export async function startImporterStandin(): Promise<ImporterStandin> {
  const standin: ImporterStandin = { status: new Map(), calls: [], close: async () => undefined };
  const server: Server = createServer({
    requestCert: true,
    rejectUnauthorized: false,
    SNICallback: (servername, cb) => cb(null, contextFor(servername)?.context),
  });
  server.on('request', (req: IncomingMessage, res) => {
    const socket = req.socket as TLSSocket;
    const image = contextFor(socket.servername || '')?.image ?? '';
    const client = socket.getPeerCertificate()?.subject?.CN as string | undefined;
    standin.calls.push({ image, authorized: socket.authorized, path: req.url ?? '', ...(client ? { client } : {}) });
    const reply = (code: number, value: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (!socket.authorized) return reply(401, { reason: 'ClientCertificateRejected', message: String(socket.authorizationError) });
    const status = standin.status.get(image);
    if (req.method !== 'GET' || req.url !== '/status' || !status) return reply(503, { reason: 'NotReady', message: 'no status set' });
    reply(200, importerStatus.parse(status));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`the importer stand-in cannot listen on port ${IMPORTER_PORT}: ${err.message}`, { cause: err })));
    server.listen(IMPORTER_PORT, '0.0.0.0', resolve);
  });
  standin.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return standin;
}
