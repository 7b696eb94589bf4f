// A stand-in for the launchers of simulated pods: KWOK gives pods loopback addresses
// (127.244.x.y, see test/cluster/cluster.sh), so an HTTP server on this host's CONTROL_PORT
// answers the operator at any pod's IP. It speaks the control API contract
// (launcher/control/README.md) for status and disks, checks the bearer token, and records
// the calls. The real launcher's side of hotplug is tested with QEMU in test/launcher.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { CONTROL_PORT } from '../../../api/layout.js';

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
  authorized: boolean;
}

/** The running stand-in. */
export interface LauncherStandin {
  calls: StandinCall[];
  disks: Map<string, StandinDisk>;
  /** The token the operator must present (from the VM's Secret); unset: none accepted. */
  token?: string;
  /** While set, attach requests are held unanswered. */
  holdAttach: boolean;
  /** While set, the state /status reports instead of running (e.g. paused by an I/O error). */
  state?: { state: 'paused' | 'running'; reason?: string; message?: string };
  close(): Promise<void>;
}

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

/** Listens on 0.0.0.0:CONTROL_PORT; fails loudly if the port is taken. */
export async function startLauncherStandin(): Promise<LauncherStandin> {
  const standin: LauncherStandin = { calls: [], disks: new Map(), holdAttach: false, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const authorized = !!standin.token && req.headers.authorization === `Bearer ${standin.token}`;
      standin.calls.push({ method: req.method ?? '', path: req.url ?? '', ...(body ? { body } : {}), authorized });
      const reply = (code: number, value: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (!authorized) return reply(401, { reason: 'Unauthorized', message: 'missing or wrong token' });
      const status = () => ({ state: 'running', ...standin.state, accelerator: 'tcg', startedAt: new Date().toISOString(), disks: [...standin.disks.values()] });
      if (req.method === 'GET' && req.url === '/status') return reply(200, status());
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
  standin.close = () => new Promise((resolve) => server.close(() => resolve()));
  return standin;
}
