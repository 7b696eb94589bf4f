// A scripted QMP server over a real unix socket, for unit tests of the client and of code
// built on it (the launcher's control logic). Not used in production. It speaks the wire
// format QEMU 7.2 speaks: CRLF after each JSON object, `id` echoed, events without `data`
// when they have none.

import { rm } from 'node:fs/promises';
import net from 'node:net';
import { QmpFrameDecoder } from '../../launcher/qmp/framing.js';

/** A command as the server received it. */
export interface ReceivedCommand {
  execute: string;
  arguments?: Record<string, unknown>;
  id?: unknown;
}

/** Decides how to answer a command; it may answer later, out of order, or never. */
export type CommandHandler = (command: ReceivedCommand, connection: FakeQmpConnection) => void;

/** Options of {@link FakeQmpServer.start}. */
export interface FakeQmpServerOptions {
  path: string;
  /** Send the greeting on connect (default true); false simulates a hung QEMU. */
  greeting?: boolean;
  /** Handler for every command but `qmp_capabilities`; default: reply `{}`. */
  onCommand?: CommandHandler;
}

/** The server's side of one client connection. */
export class FakeQmpConnection {
  constructor(private readonly socket: net.Socket) {}

  /** Write one message with QEMU's framing. */
  send(message: object): void {
    this.writeRaw(`${JSON.stringify(message)}\r\n`);
  }

  /** Write bytes as they are, to exercise framing (split or coalesced messages). */
  writeRaw(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Send a successful reply, echoing the command's id. */
  reply(command: ReceivedCommand, value: unknown = {}): void {
    this.send({ return: value, id: command.id });
  }

  /** Send an error reply, echoing the command's id. */
  fail(command: ReceivedCommand, errorClass: string, desc: string): void {
    this.send({ id: command.id, error: { class: errorClass, desc } });
  }

  /** Send an event; `data` is omitted when undefined, as QEMU does. */
  event(name: string, data?: Record<string, unknown>): void {
    this.send({ timestamp: { seconds: 1700000000, microseconds: 42 }, event: name, ...(data && { data }) });
  }

  /** Close the connection from the server side. */
  end(): void {
    this.socket.end();
  }
}

/** A fake QMP monitor listening on a unix socket. */
export class FakeQmpServer {
  /** Every command received, in order, `qmp_capabilities` included. */
  readonly commands: ReceivedCommand[] = [];
  /** Handler for commands other than `qmp_capabilities`; replace it freely. */
  onCommand: CommandHandler;
  /** Every connection accepted, oldest first. */
  readonly connections: FakeQmpConnection[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    private readonly options: FakeQmpServerOptions,
  ) {
    this.onCommand = options.onCommand ?? ((command, connection) => connection.reply(command));
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Listen on `options.path` (removing a stale file first, as QEMU does). */
  static async start(options: FakeQmpServerOptions): Promise<FakeQmpServer> {
    await rm(options.path, { force: true });
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.path, () => resolve());
    });
    return new FakeQmpServer(server, options);
  }

  /** The most recent connection; throws when no client has connected yet. */
  get connection(): FakeQmpConnection {
    const latest = this.connections.at(-1);
    if (!latest) throw new Error('no client has connected to the fake QMP server');
    return latest;
  }

  /** Stop listening and drop every connection. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined); // the client may vanish mid-write; tests check the client side
    const connection = new FakeQmpConnection(socket);
    const decoder = new QmpFrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const value of decoder.push(chunk)) this.receive(value as ReceivedCommand, connection);
    });
    if (this.options.greeting !== false) {
      connection.send({
        QMP: { version: { qemu: { micro: 0, minor: 2, major: 7 }, package: 'fake' }, capabilities: ['oob'] },
      });
    }
    this.connections.push(connection);
  }

  private receive(command: ReceivedCommand, connection: FakeQmpConnection): void {
    this.commands.push(command);
    if (command.execute === 'qmp_capabilities') connection.reply(command);
    else this.onCommand(command, connection);
  }
}
