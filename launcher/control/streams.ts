// The control API's streams and what each attaches to (ADR 0011): the serial console, QEMU's
// VNC server (`GET /vnc`), and a TCP connection to a guest port (`GET /portforward?port=N`).
// The stream opens, and the 101 is sent, only once the far end is connected.

import type { Socket } from 'node:net';
import { describeIssues, portForwardTarget } from '../../api/contract/control.js';
import { LauncherError } from '../runtime/errors.js';
import type { PortForwarder } from '../runtime/portforward.js';
import type { ConsoleAttacher } from '../runtime/serial.js';
import { openDisplay, type VncDisplay } from '../runtime/vnc.js';
import { consoleEndpoint } from './console.js';
import { splice } from './splice.js';
import type { StreamEndpoint, StreamName, StreamRequest } from './upgrade.js';

/** What the streams reach; an absent one answers as a VM without it (409). */
export interface StreamSources {
  /** The serial fan-out while QEMU runs. */
  console?: () => ConsoleAttacher | undefined;
  vnc?: VncDisplay;
  portForward?: Pick<PortForwarder, 'open'>;
}

/** An endpoint whose stream is a socket the launcher opens: opened, then 101, then spliced. */
function pipedEndpoint(open: (request: StreamRequest) => Promise<{ socket: Socket; detail?: string }>): StreamEndpoint {
  return async (request) => {
    const { socket, detail } = await open(request);
    request.switchProtocols();
    splice(request.socket, socket);
    return detail ? { detail } : {};
  };
}

/** The query as zod sees it: a repeated key becomes a list (and fails a number's check). */
function queryObject(query: URLSearchParams): Record<string, string | string[]> {
  const object: Record<string, string | string[]> = {};
  for (const key of new Set(query.keys())) {
    const values = query.getAll(key);
    object[key] = values.length === 1 ? values[0]! : values;
  }
  return object;
}

/** The guest port of `GET /portforward?port=N`, checked with the contract's `portForwardTarget`. */
export function portForwardPort(query: URLSearchParams): number {
  const parsed = portForwardTarget.safeParse(queryObject(query));
  if (!parsed.success) throw new LauncherError({ reason: 'InvalidRequest', kind: 'invalid', message: `GET /portforward: ${describeIssues(parsed.error, 'query')}` });
  return parsed.data.port;
}

const NO_NETWORK_SOURCE: Pick<PortForwarder, 'open'> = {
  open: () => Promise.reject(new LauncherError({ reason: 'NoNetwork', kind: 'conflict', message: 'this launcher forwards no guest ports' })),
};

/** The endpoint of every stream, over `sources`. */
export function streamEndpoints(sources: StreamSources): Record<StreamName, StreamEndpoint> {
  const display = sources.vnc ?? { socket: undefined, running: () => false };
  const forwarder = sources.portForward ?? NO_NETWORK_SOURCE;
  return {
    console: consoleEndpoint(sources.console ?? (() => undefined)),
    vnc: pipedEndpoint(async ({ signal }) => ({ socket: await openDisplay(display, signal) })),
    portforward: pipedEndpoint(async ({ query, signal }) => {
      const port = portForwardPort(query);
      return { socket: await forwarder.open(port, signal), detail: `guest port ${port}` };
    }),
  };
}
