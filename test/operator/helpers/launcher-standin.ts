// A stand-in for the launchers of simulated pods: KWOK gives pods loopback addresses
// (127.244.x.y, see test/cluster/cluster.sh), so one server on this host's CONTROL_PORT
// answers the operator at any pod's IP. It serves mutual TLS exactly as a launcher pod would:
// for the VM the operator names (TLS server name <uid>.launcher.kubevmm.invalid) it loads that
// VM's credentials Secret, as the pod's Secret volume would hold it, and takes only client
// certificates from the CA in it. It speaks the control API contract for status, pause and
// resume (per VM) and disks, and records every connection (by the pod IP dialled) and call.
// The real launcher's side of hotplug and pause is tested with QEMU in test/launcher.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { CONTROL_PORT, CREDENTIAL_KEYS } from '../../../api/layout.js';
import { getJson } from './operator-process.js';

/** A disk as the stand-in's launcher has it. */
export interface StandinDisk {
  name: string;
  phase: 'Attaching' | 'Attached' | 'Detaching' | 'Failed';
  target?: string;
  message?: string;
}

/** One control API call received. */
export interface StandinCall {
  method: string;
  path: string;
  body?: Record<string, unknown>;
  /** The client certificate verified against the VM's client CA. */
  authorized: boolean;
  /** The client certificate's common name. */
  client?: string;
  /** The pod IP the caller dialled. */
  ip: string;
}

/** The running stand-in. */
export interface LauncherStandin {
  calls: StandinCall[];
  /** Pod IPs TCP connections were made to, TLS or not. */
  connections: string[];
  disks: Map<string, StandinDisk>;
  /** While set, attach requests are held unanswered. */
  holdAttach: boolean;
  /** While set, the state /status reports instead of running (e.g. paused by an I/O error). */
  state?: { state: 'paused' | 'running'; reason?: string; message?: string };
  /** VMs (their TLS server names) paused with POST /pause and not resumed since. */
  paused: Set<string>;
  close(): Promise<void>;
}

type Json = Record<string, any>;

async function readBody(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
}

function nextTarget(disks: Map<string, StandinDisk>): string {
  const used = new Set([...disks.values()].map((d) => d.target));
  for (const letter of 'bcdefghijklmnop') if (!used.has(`vd${letter}`)) return `vd${letter}`;
  return 'vdz';
}

/**
 * Contexts already built, by VM UID. Building one runs kubectl twice (synchronously, in the
 * handshake): on a loaded machine that took longer than the operator's 1 s call timeout, so
 * every status call failed and a test waited in vain. A VM's credentials do not change
 * during a test, and a recreated VM has a new UID.
 */
const contexts = new Map<string, SecureContext>();

/** The credentials Secret of the VM with this UID, as its launcher pod would mount it. */
function contextFor(servername: string): SecureContext | undefined {
  const uid = /^([0-9a-f-]+)\.launcher\.kubevmm\.invalid$/.exec(servername)?.[1];
  if (!uid) return undefined;
  const known = contexts.get(uid);
  if (known) return known;
  const built = buildContext(uid);
  if (built) contexts.set(uid, built);
  return built;
}

function buildContext(uid: string): SecureContext | undefined {
  const vms = getJson<{ items: Json[] }>(['vm', '-A'])?.items ?? [];
  const vm = vms.find((v) => v.metadata.uid === uid);
  if (!vm) return undefined;
  const secret = getJson<Json>(['secret', '-n', vm.metadata.namespace, `${vm.metadata.name}-launcher-credentials`]);
  if (!secret) return undefined;
  const file = (key: string) => Buffer.from(secret.data[key] as string, 'base64');
  return createSecureContext({ cert: file(CREDENTIAL_KEYS.cert), key: file(CREDENTIAL_KEYS.key), ca: file(CREDENTIAL_KEYS.clientCa) });
}

/** Listens on 0.0.0.0:CONTROL_PORT; fails loudly if the port is taken. */
export async function startLauncherStandin(): Promise<LauncherStandin> {
  const standin: LauncherStandin = { calls: [], connections: [], disks: new Map(), holdAttach: false, paused: new Set(), close: async () => undefined };
  const server: Server = createServer({
    requestCert: true,
    rejectUnauthorized: false,
    SNICallback: (servername, cb) => {
      try {
        cb(null, contextFor(servername));
      } catch (err) {
        cb(err as Error);
      }
    },
  });
  server.on('connection', (socket: { localAddress?: string }) => standin.connections.push(socket.localAddress ?? ''));
  server.on('request', (req: IncomingMessage, res) => {
    void (async () => {
      const body = await readBody(req);
      const socket = req.socket as TLSSocket;
      const authorized = socket.authorized;
      const client = socket.getPeerCertificate()?.subject?.CN as string | undefined;
      standin.calls.push({ method: req.method ?? '', path: req.url ?? '', ...(body ? { body } : {}), authorized, ...(client ? { client } : {}), ip: socket.localAddress ?? '' });
      const reply = (code: number, value: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (!authorized) return reply(401, { reason: 'ClientCertificateRejected', message: String(socket.authorizationError) });
      const vm = socket.servername || '';
      const paused = () => (standin.paused.has(vm) ? { state: 'paused', reason: 'PausedByUser' } : {});
      const status = () => ({ state: 'running', ...paused(), ...standin.state, accelerator: 'tcg', startedAt: new Date().toISOString(), disks: [...standin.disks.values()] });
      if (req.method === 'GET' && req.url === '/status') return reply(200, status());
      if (req.method === 'POST' && (req.url === '/pause' || req.url === '/resume')) {
        if (req.url === '/pause') standin.paused.add(vm);
        else standin.paused.delete(vm);
        return reply(200, status());
      }
      if (req.method === 'POST' && req.url === '/disks') {
        while (standin.holdAttach) await new Promise((r) => setTimeout(r, 100));
        const name = String(body?.name);
        const disk: StandinDisk = { name, phase: 'Attached', target: nextTarget(standin.disks) };
        standin.disks.set(name, disk);
        return reply(201, disk);
      }
      const detach = /^\/disks\/([^/]+)$/.exec(req.url ?? '');
      if (req.method === 'DELETE' && detach) {
        const name = decodeURIComponent(detach[1]!);
        if (!standin.disks.delete(name)) return reply(404, { reason: 'DiskNotAttached', message: `disk ${name} is not attached` });
        return reply(200, status());
      }
      return reply(404, { reason: 'NotFound', message: `${req.method} ${req.url}` });
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`the launcher stand-in cannot listen on port ${CONTROL_PORT}: ${err.message}`, { cause: err })));
    server.listen(CONTROL_PORT, '0.0.0.0', resolve);
  });
  standin.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return standin;
}
