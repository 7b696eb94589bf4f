// A small qemu-guest-agent client over QEMU's unix socket for the agent's virtio-serial port.
// The agent protocol has no request ids: replies come in order, and after a timeout the next
// reply may belong to an older request. So a request that timed out forces a new
// `guest-sync-delimited` handshake before the next command: the agent answers it with a 0xFF
// byte and the random id we sent, and everything before that is stale and dropped.
// Only the delimited handshake is used: every agent since QEMU 1.1 (2012) has it, and without
// the 0xFF marker a half-received stale reply could not be skipped reliably.

import { randomInt } from 'node:crypto';
import net from 'node:net';
import { GuestAgentError, describeError } from './errors.js';

/** Default deadline for one agent command. */
export const AGENT_COMMAND_TIMEOUT_MS = 5_000;

/** `guest-get-osinfo` fields the launcher reports. */
export interface GuestOsInfo {
  name?: string;
  'pretty-name'?: string;
  'kernel-release'?: string;
  'version-id'?: string;
}

/** One entry of `guest-network-get-interfaces`. */
export interface GuestInterface {
  name: string;
  'hardware-address'?: string;
  'ip-addresses'?: { 'ip-address-type': 'ipv4' | 'ipv6'; 'ip-address': string; prefix: number }[];
}

type Reply = { return: unknown } | { error: { class?: string; desc?: string } };

/** Splits the agent's newline-delimited JSON stream, skipping to 0xFF after a delimited sync. */
export class AgentStreamDecoder {
  private pending = '';
  private skipToDelimiter = false;

  /** Drop everything up to the next 0xFF byte (sent by the agent before a sync reply). */
  expectDelimiter(): void {
    this.skipToDelimiter = true;
    this.pending = '';
  }

  push(chunk: Buffer): unknown[] {
    let data = chunk;
    if (this.skipToDelimiter) {
      const at = data.indexOf(0xff);
      if (at === -1) return [];
      this.skipToDelimiter = false;
      data = data.subarray(at + 1);
    }
    this.pending += data.toString('latin1').replace(/\xff/g, '');
    const values: unknown[] = [];
    let newline = this.pending.indexOf('\n');
    while (newline !== -1) {
      const line = Buffer.from(this.pending.slice(0, newline), 'latin1').toString('utf8').trim();
      this.pending = this.pending.slice(newline + 1);
      if (line) values.push(parseLine(line));
      newline = this.pending.indexOf('\n');
    }
    return values;
  }
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return { error: { class: 'ProtocolError', desc: `not JSON: ${line.slice(0, 100)}` } };
  }
}

interface Waiter {
  resolve: (reply: Reply) => void;
  accept: (value: unknown) => boolean;
}

/** A connection to qemu-guest-agent. Commands run one at a time. */
export class GuestAgentClient {
  private readonly decoder = new AgentStreamDecoder();
  private waiter: Waiter | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private synced = false;
  private closedFlag = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // surfaces as 'close'
    socket.on('close', () => {
      this.closedFlag = true;
      this.waiter?.resolve({ error: { class: 'Closed', desc: 'guest agent socket closed' } });
    });
  }

  /** Open the socket (does not talk to the agent yet; see {@link sync}). */
  static connect(path: string, timeoutMs = AGENT_COMMAND_TIMEOUT_MS): Promise<GuestAgentClient> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new GuestAgentError({ reason: 'AgentUnavailable', message: `guest agent socket ${path}: connect timed out` }));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new GuestAgentClient(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new GuestAgentError({ reason: 'AgentUnavailable', message: `guest agent socket ${path}: ${err.message}`, cause: err }));
      });
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Handshake: resolves once the agent echoed a fresh sync id. "Connected" means this worked. */
  sync(timeoutMs = AGENT_COMMAND_TIMEOUT_MS): Promise<void> {
    return this.serialize(() => this.doSync(timeoutMs));
  }

  /** Run a command and return its `return` value; syncs first when the stream may be stale. */
  execute<T>(command: string, args?: object, timeoutMs = AGENT_COMMAND_TIMEOUT_MS): Promise<T> {
    return this.serialize(async () => {
      if (!this.synced) await this.doSync(timeoutMs);
      const reply = await this.request({ execute: command, ...(args && { arguments: args }) }, () => true, timeoutMs, command);
      return unwrap<T>(command, reply);
    });
  }

  /**
   * Send a command whose success has no reply (`guest-shutdown`): the agent is gone before it
   * could answer. An error reply that arrives quickly is still reported.
   */
  executeNoReply(command: string, args?: object, waitForErrorMs = 500): Promise<void> {
    return this.serialize(async () => {
      if (!this.synced) await this.doSync(AGENT_COMMAND_TIMEOUT_MS);
      try {
        const reply = await this.request({ execute: command, ...(args && { arguments: args }) }, () => true, waitForErrorMs, command);
        if ('error' in reply && reply.error.class !== 'Closed') unwrap(command, reply);
      } catch (err) {
        if (!(err instanceof GuestAgentError && err.reason === 'AgentTimeout')) throw err;
      }
    });
  }

  /** `guest-get-host-name`. */
  async hostname(): Promise<string> {
    return (await this.execute<{ 'host-name': string }>('guest-get-host-name'))['host-name'];
  }

  /** `guest-get-osinfo`. */
  osInfo(): Promise<GuestOsInfo> {
    return this.execute<GuestOsInfo>('guest-get-osinfo');
  }

  /** `guest-network-get-interfaces`. */
  networkInterfaces(): Promise<GuestInterface[]> {
    return this.execute<GuestInterface[]>('guest-network-get-interfaces');
  }

  /** `guest-info`: the agent's version and commands. */
  info(): Promise<{ version: string }> {
    return this.execute<{ version: string }>('guest-info');
  }

  /** `guest-shutdown`: ask the guest OS to power off cleanly. */
  shutdown(mode: 'powerdown' | 'reboot' | 'halt' = 'powerdown'): Promise<void> {
    return this.executeNoReply('guest-shutdown', { mode });
  }

  close(): void {
    this.socket.destroy();
  }

  private async doSync(timeoutMs: number): Promise<void> {
    const id = randomInt(1, 2 ** 31);
    this.synced = false;
    this.decoder.expectDelimiter();
    // The leading 0xFF makes the agent discard any half-read request from an earlier attempt.
    const message = Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } }))]);
    const reply = await this.request(message, (v) => isRecord(v) && (v.return === id || 'error' in v), timeoutMs, 'guest-sync-delimited');
    unwrap('guest-sync-delimited', reply);
    this.synced = true;
  }

  private request(message: object | Buffer, accept: (v: unknown) => boolean, timeoutMs: number, what: string): Promise<Reply> {
    if (this.closedFlag) {
      return Promise.reject(new GuestAgentError({ reason: 'AgentUnavailable', message: 'guest agent socket closed' }));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.synced = false; // a late reply would be taken for the next command's
        reject(new GuestAgentError({ reason: 'AgentTimeout', message: `guest agent did not answer ${what} within ${timeoutMs} ms` }));
      }, timeoutMs);
      this.waiter = {
        accept,
        resolve: (reply) => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve(reply);
        },
      };
      const bytes = Buffer.isBuffer(message) ? message : Buffer.from(JSON.stringify(message));
      this.socket.write(Buffer.concat([bytes, Buffer.from('\n')]));
    });
  }

  private onData(chunk: Buffer): void {
    for (const value of this.decoder.push(chunk)) {
      const waiter = this.waiter;
      if (waiter && isRecord(value) && waiter.accept(value)) waiter.resolve(value as Reply);
    }
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unwrap<T>(command: string, reply: Reply): T {
  if ('error' in reply) {
    const { class: cls = 'GenericError', desc = 'unknown error' } = reply.error;
    throw new GuestAgentError({ reason: cls === 'Closed' ? 'AgentUnavailable' : 'AgentCommandFailed', message: `guest agent ${command}: ${cls}: ${desc}` });
  }
  return reply.return as T;
}

/** Connect and handshake in one go; the client is closed again when the agent does not answer. */
export async function connectGuestAgent(path: string, timeoutMs = AGENT_COMMAND_TIMEOUT_MS): Promise<GuestAgentClient> {
  const client = await GuestAgentClient.connect(path, timeoutMs);
  try {
    await client.sync(timeoutMs);
    return client;
  } catch (err) {
    client.close();
    throw err instanceof GuestAgentError ? err : new GuestAgentError({ reason: 'AgentUnavailable', message: describeError(err) });
  }
}
