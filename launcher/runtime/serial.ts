// The serial fan-out. QEMU's serial chardev accepts one client, so the launcher is that client
// and shares the stream: every byte goes to a bounded history, to the console log file (rotated
// to stay within its size; the pod's guest-console container prints it, so `kubectl logs -c
// guest-console` shows the boot), and to every console session on the launcher's own console
// socket. The first session may type; the ones that join while it is attached are read-only
// mirrors and are told so. QEMU starts with -S, so connecting before `cont` loses nothing.

import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsoleMode } from '../../api/contract/control.js';
import { describeError } from './errors.js';
import { BoundedHistory, mustRotate } from './serial-buffer.js';

/** Defaults: 64 KiB replayed to a new session; the log rotates at 1 MiB (2 MiB on disk at most). */
export const SERIAL_DEFAULTS = { historyBytes: 64 * 1024, logMaxBytes: 1024 * 1024 } as const;

/** What a session that joins while another one types is told, on its own screen only. */
export const READ_ONLY_NOTICE = '\r\n[kubevmm: another console session is attached; this one is read-only]\r\n';

/** Where a console session attaches: the hub, or whatever stands for it in a test. */
export interface ConsoleAttacher {
  /**
   * Adds a session (any byte stream: a unix socket, an upgraded TLS connection). `onMode` is
   * called with the session's mode before a byte is written to it, so a caller can answer its
   * own protocol first. Returns the mode, or undefined when the console has ended (QEMU
   * exited): the session is then not taken and nothing is written to it.
   */
  attach(session: Duplex, onMode?: (mode: ConsoleMode) => void): ConsoleMode | undefined;
}

/** Options of {@link SerialHub.start}. */
export interface SerialHubOptions {
  /** QEMU's serial chardev socket. */
  qemuSocket: string;
  /** Where console sessions connect (the launcher's own socket). */
  consoleSocket: string;
  /** The console log file. */
  logFile: string;
  historyBytes?: number;
  logMaxBytes?: number;
  /** How long to keep trying to reach QEMU's socket. */
  connectTimeoutMs?: number;
  log?: (line: string) => void;
}

/** The launcher's side of the VM's serial console. */
export class SerialHub implements ConsoleAttacher {
  private readonly history: BoundedHistory;
  private readonly sessions = new Set<Duplex>();
  private writer: Duplex | undefined;
  private logStream: WriteStream;
  private logBytes = 0;
  private readonly logMaxBytes: number;
  private rotation: Promise<void> = Promise.resolve();
  private readonly ended: Promise<void>;
  private finished = false;

  private constructor(
    private readonly options: SerialHubOptions,
    private readonly qemu: net.Socket,
    private readonly server: net.Server,
  ) {
    this.history = new BoundedHistory(options.historyBytes ?? SERIAL_DEFAULTS.historyBytes);
    this.logMaxBytes = options.logMaxBytes ?? SERIAL_DEFAULTS.logMaxBytes;
    this.logStream = createWriteStream(options.logFile, { flags: 'w', mode: 0o640 });
    this.logStream.on('error', (err) => this.options.log?.(`console log ${options.logFile}: ${describeError(err)}`));
    qemu.on('data', (chunk: Buffer) => this.fromGuest(chunk));
    this.ended = new Promise((resolve) =>
      qemu.once('close', () => {
        this.finished = true;
        resolve();
      }),
    );
    qemu.on('error', () => undefined); // 'close' follows
    server.on('connection', (session) => {
      if (!this.attach(session)) session.end();
    });
  }

  /** Connects to QEMU's serial socket and opens the console socket. */
  static async start(options: SerialHubOptions): Promise<SerialHub> {
    const qemu = await connectWithRetry(options.qemuSocket, options.connectTimeoutMs ?? 10_000);
    await rm(options.consoleSocket, { force: true }); // left by an earlier run in the same directory
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.consoleSocket, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      qemu.destroy();
      throw new Error(`cannot serve the console on ${options.consoleSocket}: ${describeError(err)}`, { cause: err });
    });
    return new SerialHub(options, qemu, server);
  }

  /** The recent output a new session is shown first. */
  recent(): Buffer {
    return this.history.contents();
  }

  /** Resolves when QEMU closed the serial socket (it exited). */
  get closed(): Promise<void> {
    return this.ended;
  }

  /**
   * Ends every session and flushes the log. After QEMU exited, what it wrote last may still be
   * in the socket: wait (briefly) for its end first. Safe to call more than once.
   */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1_000);
      void this.ended.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.finished = true;
    this.qemu.destroy();
    for (const session of this.sessions) session.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.rotation;
    await new Promise<void>((resolve) => (this.logStream.writableEnded ? resolve() : this.logStream.end(resolve)));
  }

  private fromGuest(chunk: Buffer): void {
    this.history.push(chunk);
    this.appendLog(chunk);
    for (const session of this.sessions) session.write(chunk);
  }

  private appendLog(chunk: Buffer): void {
    if (mustRotate(this.logBytes, chunk.length, this.logMaxBytes)) this.rotate();
    this.logBytes += chunk.length;
    // Queued behind any rotation in progress, so bytes keep their order across files.
    void this.rotation.then(() => this.logStream.write(chunk));
  }

  /** The log moves to `<file>.1` and a new one starts: readers that follow the name see it. */
  private rotate(): void {
    const old = this.logStream;
    const file = this.options.logFile;
    this.logBytes = 0;
    this.rotation = this.rotation.then(async () => {
      await new Promise<void>((resolve) => old.end(resolve));
      await rm(`${file}.1`, { force: true });
      await rename(file, `${file}.1`).catch((err) => this.options.log?.(`rotating ${file}: ${describeError(err)}`));
      this.logStream = createWriteStream(file, { flags: 'w', mode: 0o640 });
      this.logStream.on('error', (err) => this.options.log?.(`console log ${file}: ${describeError(err)}`));
    });
  }

  /**
   * Adds a console session: it is shown the recent output, then everything the guest writes.
   * The first session types; one that joins while another types is a read-only mirror
   * (ADR 0011), told so on its own screen, its keys dropped.
   */
  attach(session: Duplex, onMode?: (mode: ConsoleMode) => void): ConsoleMode | undefined {
    if (this.finished) return undefined;
    const mode: ConsoleMode = this.writer ? 'read-only' : 'interactive';
    onMode?.(mode);
    this.sessions.add(session);
    session.on('error', () => undefined);
    session.once('close', () => {
      this.sessions.delete(session);
      if (this.writer === session) this.writer = undefined;
    });
    const recent = this.history.contents();
    if (recent.length) session.write(recent);
    if (mode === 'read-only') {
      session.write(READ_ONLY_NOTICE);
      session.on('data', () => undefined); // typing in a mirror goes nowhere
      return mode;
    }
    this.writer = session;
    session.on('data', (keys: Buffer) => this.qemu.write(keys));
    return mode;
  }
}

async function connectWithRetry(path: string, timeoutMs: number): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const socket = net.createConnection(path);
        socket.once('connect', () => {
          socket.off('error', reject);
          resolve(socket);
        });
        socket.once('error', reject);
      });
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`cannot reach QEMU's serial socket ${path}: ${describeError(err)}`, { cause: err });
      await sleep(50);
    }
  }
}
