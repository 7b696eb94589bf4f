/**
 * The subresource server's client of the launcher control API (ADR 0009, ADR 0011 step 6): it
 * presents its own client certificate (`CN=kubevmm-subresources`, from the launcher CA) and
 * takes only a launcher whose certificate that CA issued for the VM's UID, dialled at the pod
 * IP. A stream is an HTTP upgrade (`GET /console|/vnc|/portforward?port=N`); after `101
 * Switching Protocols` the TLS socket is the raw stream. Metrics are `GET /vm-metrics`.
 * Refusals are the launcher's JSON `{reason, message}`; each failure is a typed error that
 * launcher-errors.ts turns into a Status.
 */
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CONSOLE_MODE_HEADER, consoleMode, PORT_FORWARD_CONNECT_TIMEOUT_MS, describeIssues, STREAM_UPGRADES, vmMetricsReport, type ConsoleMode, type VmMetricsReport } from '../api/contract/control.js';
import type { StreamSubresource } from '../api/contract/subresource.js';
import { CONTROL_PORT, launcherServerName } from '../api/layout.js';
import { LauncherClientNotReadyError, LauncherContractError, LauncherIdentityError, LauncherUnreachableError, readLauncherAnswer } from './launcher-errors.js';

/** The client certificate, its key and the launcher CA (PEM). */
export interface LauncherTls {
  ca: string;
  cert: string;
  key: string;
}

/** Which launcher: the pod's IP, and the VM whose certificate it must present. */
export interface LauncherTarget {
  ip: string;
  vmUid: string;
}

/** Which stream to open. */
export type StreamTarget = { subresource: Exclude<StreamSubresource, 'portforward'> } | { subresource: 'portforward'; port: number };

/** An open stream: the TLS socket after the 101 (paused until bridged), and what came with it. */
export interface LauncherStream {
  socket: Duplex;
  /** Stream bytes that arrived with the 101 answer. */
  head: Buffer;
  /** The console's `kubevmm-console-mode` answer (interactive or read-only), when it named a valid one. */
  consoleMode?: ConsoleMode;
}

/** What the request path needs of launchers; a fake stands in for it in unit tests. */
export interface LauncherConnector {
  open(target: LauncherTarget, stream: StreamTarget): Promise<LauncherStream>;
  vmMetrics(target: LauncherTarget): Promise<VmMetricsReport>;
}

/** Options of {@link LauncherDialer}. */
export interface LauncherDialerOptions {
  /** The TLS material in force (renewed files are read elsewhere); undefined: none loaded yet. */
  tls: () => LauncherTls | undefined;
  /** Default CONTROL_PORT. */
  port?: number;
  /** How long connecting and the launcher's answer may take. Default 10 s. */
  timeoutMs?: number;
  /** The same for portforward, where the launcher first waits for the guest. Default 15 s. */
  portForwardTimeoutMs?: number;
}

/**
 * The launcher waits up to PORT_FORWARD_CONNECT_TIMEOUT_MS for the guest, after it added the
 * forward; the dial must outlast that, or a silent guest port reads as an unreachable launcher.
 */
export const PORT_FORWARD_DIAL_TIMEOUT_MS = PORT_FORWARD_CONNECT_TIMEOUT_MS + 5_000;

/** How long opening `stream` may take. */
export function dialTimeoutMs(stream: StreamTarget, opts: Pick<LauncherDialerOptions, 'timeoutMs' | 'portForwardTimeoutMs'>): number {
  if (stream.subresource === 'portforward') return opts.portForwardTimeoutMs ?? PORT_FORWARD_DIAL_TIMEOUT_MS;
  return opts.timeoutMs ?? 10_000;
}

/** Node's codes for a peer certificate that failed verification (not for a peer that speaks no TLS). */
const IDENTITY_CODES = /^(ERR_TLS_CERT_ALTNAME_INVALID|CERT_|UNABLE_TO_(VERIFY|GET_ISSUER)|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/;

function failure(err: unknown, target: LauncherTarget, timedOut: boolean): Error {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  if (IDENTITY_CODES.test(code)) return new LauncherIdentityError(`the server at ${target.ip} is not the launcher of VM ${target.vmUid}: ${String(err)}`);
  return new LauncherUnreachableError(`the launcher at ${target.ip} ${timedOut ? 'did not answer in time' : `cannot be reached: ${err instanceof Error ? err.message : String(err)}`}`, timedOut);
}

/** Dials launchers at their pod IPs. */
export class LauncherDialer implements LauncherConnector {
  private agent: { tls: LauncherTls; agent: https.Agent } | undefined;

  constructor(private readonly opts: LauncherDialerOptions) {}

  private material(): LauncherTls {
    const tls = this.opts.tls();
    if (!tls) throw new LauncherClientNotReadyError('the server has no launcher client certificate loaded yet (--launcher-client-dir)');
    return tls;
  }

  private requestOptions(target: LauncherTarget, tls: LauncherTls): https.RequestOptions {
    return {
      host: target.ip,
      port: this.opts.port ?? CONTROL_PORT,
      method: 'GET',
      // The identity checked against the launcher's certificate; the pod IP is only where to dial.
      servername: launcherServerName(target.vmUid),
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      minVersion: 'TLSv1.2',
    };
  }

  /** Opens a stream; resolves once the launcher answered 101. */
  open(target: LauncherTarget, stream: StreamTarget): Promise<LauncherStream> {
    const tls = this.material();
    const path = `/${stream.subresource}` as const;
    const query = stream.subresource === 'portforward' ? `?port=${stream.port}` : '';
    return new Promise<LauncherStream>((resolve, reject) => {
      let timedOut = false;
      // A connection per stream: an upgraded socket is never handed back to an agent.
      const req = https.request({ ...this.requestOptions(target, tls), path: `${path}${query}`, agent: false, headers: { connection: 'Upgrade', upgrade: STREAM_UPGRADES[path] } });
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy(new Error('timed out'));
      }, dialTimeoutMs(stream, this.opts));
      req.on('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
        clearTimeout(timer);
        socket.pause(); // nothing may flow before the client's side is there to take it
        // Keystrokes go one by one: no Nagle delay; and a launcher that vanished is noticed.
        const tcp = socket as Partial<Socket>;
        tcp.setNoDelay?.(true);
        tcp.setKeepAlive?.(true, 30_000);
        const mode = consoleMode.safeParse(res.headers[CONSOLE_MODE_HEADER]);
        resolve({ socket, head, ...(mode.success ? { consoleMode: mode.data } : {}) });
      });
      req.on('response', (res: IncomingMessage) => {
        clearTimeout(timer);
        readLauncherAnswer(res, `GET ${path}`).then(() => reject(new LauncherContractError(`the launcher at ${target.ip} answered GET ${path} with ${res.statusCode} instead of 101 Switching Protocols`)), reject);
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(failure(err, target, timedOut));
      });
      req.end();
    });
  }

  /** One kept-alive agent per client certificate: metrics are asked every few seconds. */
  private agentFor(tls: LauncherTls): https.Agent {
    if (this.agent?.tls !== tls) {
      this.agent?.agent.destroy();
      this.agent = { tls, agent: new https.Agent({ keepAlive: true, maxSockets: 64 }) };
    }
    return this.agent.agent;
  }

  /** The VM's numbers (`GET /vm-metrics`), parsed with the contract's schema. */
  vmMetrics(target: LauncherTarget): Promise<VmMetricsReport> {
    const tls = this.material();
    return new Promise<VmMetricsReport>((resolve, reject) => {
      const req = https.request({ ...this.requestOptions(target, tls), path: '/vm-metrics', agent: this.agentFor(tls), headers: { accept: 'application/json' }, timeout: this.opts.timeoutMs ?? 10_000 });
      let timedOut = false;
      req.on('timeout', () => {
        timedOut = true;
        req.destroy(new Error('timed out'));
      });
      req.on('response', (res: IncomingMessage) => {
        readLauncherAnswer(res, 'GET /vm-metrics').then((json) => {
          const parsed = vmMetricsReport.safeParse(json);
          if (parsed.success) resolve(parsed.data);
          else reject(new LauncherContractError(`the launcher at ${target.ip} answered GET /vm-metrics with a report that does not match the control API contract (a launcher image of another version?): ${describeIssues(parsed.error, 'report')}`));
        }, reject);
      });
      req.on('error', (err) => reject(failure(err, target, timedOut)));
      req.end();
    });
  }

  /** Closes kept-alive connections (at shutdown). */
  close(): void {
    this.agent?.agent.destroy();
    this.agent = undefined;
  }
}
