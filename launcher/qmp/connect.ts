// Connecting races QEMU's start-up: the launcher spawns QEMU and connects at once, so the
// monitor socket may not exist yet (ENOENT), or a stale file from an earlier run may still
// refuse connections (ECONNREFUSED) until QEMU replaces it. Both are retried until a deadline;
// anything else (EACCES, not a socket, ...) fails at once because waiting will not fix it.

import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { QmpClient } from './client.js';
import type { QmpClientOptions } from './client.js';
import { QmpConnectError } from './errors.js';

/** Options of {@link connectQmp}. */
export interface ConnectOptions extends QmpClientOptions {
  /** Deadline for the greeting + `qmp_capabilities` handshake once connected. Default 10 s. */
  timeoutMs?: number;
  /** Keep retrying a missing or refusing socket for this long. Default 0: one attempt. */
  retryUntilMs?: number;
  /** Pause between attempts. Default 50 ms. */
  retryIntervalMs?: number;
  /** Abort the retries, e.g. when the QEMU process has exited. */
  signal?: AbortSignal;
}

const RETRYABLE_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

function isRetryable(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && RETRYABLE_CODES.has(code);
}

function openSocket(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

async function openWithRetry(path: string, options: ConnectOptions): Promise<net.Socket> {
  const deadline = Date.now() + (options.retryUntilMs ?? 0);
  const interval = options.retryIntervalMs ?? 50;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      return await openSocket(path);
    } catch (err) {
      if (!isRetryable(err) || Date.now() + interval > deadline) throw err;
    }
    // Surface the caller's abort reason (e.g. "qemu exited"), not a generic AbortError.
    await sleep(interval, undefined, { signal: options.signal }).catch(() => options.signal?.throwIfAborted());
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Connect to a QMP unix socket, complete the handshake and return a ready client.
 * Rejects with {@link QmpConnectError} (reason `QmpConnectFailed`) carrying the cause.
 */
export async function connectQmp(path: string, options: ConnectOptions = {}): Promise<QmpClient> {
  let socket: net.Socket;
  try {
    socket = await openWithRetry(path, options);
  } catch (err) {
    throw new QmpConnectError(path, describe(err), { cause: err });
  }
  const client = new QmpClient(socket, options);
  try {
    await client.negotiate(options.timeoutMs ?? 10_000);
    return client;
  } catch (err) {
    await client.close();
    throw new QmpConnectError(path, `handshake: ${describe(err)}`, { cause: err });
  }
}
