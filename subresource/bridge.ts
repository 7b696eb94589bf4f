/**
 * One client WebSocket joined to one launcher stream (ADR 0011, step 5): binary messages carry
 * the bytes unchanged both ways; a text message closes the WebSocket with 1003. Neither side
 * may flood the other: the launcher side is paused while the WebSocket has more than the high
 * mark queued for the client, and the WebSocket is paused while the launcher socket does not
 * take more. The stream ending closes with 1000 and a reason, a failure with 1011; the
 * client leaving ends the launcher stream (a console session detaches). Pings find clients
 * that vanished without a close, so a dead session does not keep a console's typing rights.
 */
import type { Duplex } from 'node:stream';
import { WebSocket, type RawData } from 'ws';
import { STREAM_CLOSE, STREAM_PROTOCOL } from '../api/contract/subresource.js';

/** Close code for a text message: the stream takes binary data only (RFC 6455 "unsupported data"). */
export const UNSUPPORTED_DATA = 1003;

/** Options of {@link bridge}. */
export interface BridgeOptions {
  /** What ended, for the 1000 close reason (e.g. "the console ended"). */
  endedReason: string;
  /** Pause the launcher side while the client has more than this queued. Default 1 MiB. */
  highWaterBytes?: number;
  /** Resume it once the queue is down to this. Default 256 KiB. */
  lowWaterBytes?: number;
  /** Ping interval; a client that missed a whole interval's pong is dropped. Default 30 s. */
  pingMs?: number;
}

/** How a bridged stream ended. */
export interface BridgeResult {
  /** Bytes from the client to the launcher. */
  bytesIn: number;
  /** Bytes from the launcher to the client. */
  bytesOut: number;
  /** The close code (the one sent, or the client's). */
  code: number;
  reason: string;
  /** Who ended it. */
  endedBy: 'launcher' | 'client' | 'error';
}

/** A close reason fits in 123 bytes of UTF-8 (RFC 6455, 5.5). */
export function closeReason(text: string): string {
  let out = text;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

function bytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** Joins `ws` and `stream` until either ends; resolves with what went through. */
export function bridge(ws: WebSocket, stream: Duplex, opts: BridgeOptions): Promise<BridgeResult> {
  const high = opts.highWaterBytes ?? 1024 * 1024;
  const low = opts.lowWaterBytes ?? 256 * 1024;
  const result: BridgeResult = { bytesIn: 0, bytesOut: 0, code: 0, reason: '', endedBy: 'client' };
  let finished = false;
  const close = (code: number, reason: string, endedBy: BridgeResult['endedBy']) => {
    if (finished) return;
    finished = true;
    Object.assign(result, { code, reason: closeReason(reason), endedBy });
    if (ws.readyState === WebSocket.OPEN) ws.close(code, result.reason);
  };

  // launcher -> client
  stream.on('data', (chunk: Buffer) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    result.bytesOut += chunk.length;
    ws.send(chunk, { binary: true }, () => {
      if (stream.isPaused() && ws.bufferedAmount <= low && !finished) stream.resume();
    });
    if (ws.bufferedAmount > high) stream.pause();
  });
  stream.on('end', () => close(STREAM_CLOSE.ended, opts.endedReason, 'launcher'));
  stream.on('error', (err) => close(STREAM_CLOSE.failed, `the launcher connection failed: ${err.message}`, 'error'));
  stream.on('close', () => close(STREAM_CLOSE.ended, opts.endedReason, 'launcher'));

  // client -> launcher
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (!isBinary) return close(UNSUPPORTED_DATA, `text messages are not accepted: ${STREAM_PROTOCOL} carries bytes in binary messages`, 'client');
    const chunk = bytes(data);
    result.bytesIn += chunk.length;
    if (!stream.write(chunk)) {
      ws.pause();
      stream.once('drain', () => ws.resume());
    }
  });

  let alive = true;
  ws.on('pong', () => (alive = true));
  const pinger = setInterval(() => {
    if (!alive) return ws.terminate();
    alive = false;
    ws.ping();
  }, opts.pingMs ?? 30_000);
  pinger.unref();

  return new Promise<BridgeResult>((resolve) => {
    ws.once('close', (code: number, reason: Buffer) => {
      clearInterval(pinger);
      if (!finished) {
        finished = true;
        Object.assign(result, { code, reason: reason.toString('utf8'), endedBy: 'client' });
      }
      // The client is gone: end the launcher stream (a console session detaches), and drop it
      // if the launcher does not close its side soon.
      stream.end();
      setTimeout(() => stream.destroy(), 5000).unref();
      resolve(result);
    });
    ws.on('error', () => stream.destroy());
    stream.resume();
  });
}
