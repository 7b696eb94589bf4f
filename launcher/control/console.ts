// The interactive serial console over the control API (ADR 0011): `GET /console` with
// `Connection: Upgrade` and `Upgrade: kubevmm-console`. After `101 Switching Protocols` the
// TLS connection carries the serial bytes both ways, attached to the launcher's serial fan-out
// like a session on its local socket: the first session types, later ones mirror it. The
// answer's `kubevmm-console-mode` header says which this one is. Same client certificate rule
// as every other endpoint; refusals are the API's JSON errors, then the connection closes.

import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { CONSOLE_MODE_HEADER, CONSOLE_UPGRADE } from '../../api/contract/control.js';
import type { ConsoleAttacher } from '../runtime/serial.js';
import { rawJsonAnswer } from './plain-http.js';
import { errorResponse, type ControlResponse } from './routes.js';
import { clientName, refuseClient } from './tls.js';

/** Answers an upgrade request with an error and closes the connection. */
function refuseUpgrade(socket: Duplex, response: ControlResponse): void {
  socket.end(rawJsonAnswer(response.status, response.body, ['cache-control: no-store']));
}

/** What the console endpoint needs. */
export interface ConsoleEndpointOptions {
  /** The serial fan-out while the VM runs; undefined before QEMU started and after it ended. */
  console?: () => ConsoleAttacher | undefined;
  log?: (line: string) => void;
}

/** Why the request is not a console upgrade this launcher can take; undefined when it is. */
function upgradeProblem(req: http.IncomingMessage, path: string): ControlResponse | undefined {
  if (path !== '/console') return errorResponse(404, 'NotFound', `no upgrade on ${path}; the console is GET /console`);
  if (req.method !== 'GET') return errorResponse(405, 'MethodNotAllowed', `${req.method ?? '?'} /console: the console is opened with GET`);
  const protocols = (req.headers.upgrade ?? '').split(',').map((p) => p.trim().toLowerCase());
  if (!protocols.includes(CONSOLE_UPGRADE)) return errorResponse(400, 'InvalidRequest', `GET /console upgrades to "${CONSOLE_UPGRADE}" only (Upgrade: ${req.headers.upgrade ?? ''})`);
  return undefined;
}

/** Handles an HTTP upgrade request on the control port. */
export function handleUpgrade(options: ConsoleEndpointOptions, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const tls = socket as TLSSocket;
  const refused = refuseClient(tls);
  if (refused) return refuseUpgrade(socket, errorResponse(401, refused.reason, refused.message));
  const path = new URL(req.url ?? '/', 'https://launcher').pathname;
  const problem = upgradeProblem(req, path);
  if (problem) return refuseUpgrade(socket, problem);
  const hub = options.console?.();
  const noConsole = errorResponse(409, 'WrongState', 'the VM has no serial console now: QEMU is not running (starting, or ended)');
  if (!hub) return refuseUpgrade(socket, noConsole);
  if (head.length) socket.unshift(head); // keys typed before the answer arrived
  const mode = hub.attach(socket, (m) => {
    socket.write(['HTTP/1.1 101 Switching Protocols', 'connection: Upgrade', `upgrade: ${CONSOLE_UPGRADE}`, `${CONSOLE_MODE_HEADER}: ${m}`, '', ''].join('\r\n'));
  });
  if (!mode) return refuseUpgrade(socket, noConsole);
  options.log?.(`control: console attached by ${clientName(tls)} (${mode})`);
  socket.once('close', () => options.log?.(`control: console detached by ${clientName(tls)}`));
}
