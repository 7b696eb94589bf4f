/**
 * One open subresource WebSocket as a Node byte stream (`v1.stream.kubevmm.io`, ADR 0011):
 * binary messages are the bytes, both ways; a text message breaks the protocol and fails the
 * stream. Backpressure holds both ways: a reader that stops pulling pauses the socket (the
 * server's writes then wait in TCP), and a write completes only once ws has handed it to the
 * socket. The close code says how it ended: 1000 is the end of the stream (the readable side
 * ends, with the server's reason kept in {@link WebSocketStream.ended}), 1011 a failure whose
 * reason becomes the error.
 */
import { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { MAX_STREAM_MESSAGE_BYTES } from '../../api/contract/stream-message.js';
import { STREAM_CLOSE, STREAM_PROTOCOL } from '../../api/contract/subresource.js';
import { printable } from './progress.js';

/** Close codes that end a stream without a failure: 1000, and 1005 (a close without a code). */
const ENDED = new Set<number>([STREAM_CLOSE.ended, 1005]);
/** How long the server gets to answer our close before the connection is cut. */
const CLOSE_GRACE_MS = 2000;
/** RFC 6455: the endpoint received a type of data it cannot accept. */
const UNSUPPORTED_DATA = 1003;

/** The stream broke: the server failed it (1011), the connection was lost, or it sent text. */
export class StreamFailedError extends Error {
  override readonly name = 'StreamFailedError';
  constructor(
    message: string,
    readonly closeCode?: number,
  ) {
    super(message);
  }
}

/** What a close code and reason mean for the user; the server's reason with its control characters made visible. */
export function closeMessage(code: number, reason: string): string {
  const said = reason ? `: ${printable(reason)}` : '';
  if (code === STREAM_CLOSE.failed) return `the stream failed${said}`;
  if (code === 1006) return 'the connection to the API server was lost';
  return `the stream was closed with code ${code}${said}`;
}

/** Cuts `data` into messages the subresource server takes (at most MAX_STREAM_MESSAGE_BYTES). */
export function messagesOf(data: Buffer, max = MAX_STREAM_MESSAGE_BYTES): Buffer[] {
  if (data.length <= max) return [data];
  const pieces: Buffer[] = [];
  for (let at = 0; at < data.length; at += max) pieces.push(data.subarray(at, at + max));
  return pieces;
}

/** A subresource WebSocket as a Duplex of bytes. */
export class WebSocketStream extends Duplex {
  /** How the server ended the stream (code 1000), once it did. */
  ended?: { code: number; reason: string };

  constructor(private readonly ws: WebSocket) {
    super({ allowHalfOpen: false });
    // Nothing is read until the consumer reads: what arrived with the upgrade answer (data, a
    // close, a text message that fails the stream) waits until its listeners are attached.
    ws.pause();
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('close', (code: number, reason: Buffer) => this.onClose(code, reason.toString()));
    ws.on('error', (err: Error) => this.destroy(new StreamFailedError(`the stream broke: ${err.message}`)));
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.destroyed) return;
    if (!isBinary) {
      const why = `a text message arrived: ${STREAM_PROTOCOL} carries bytes in binary messages only`;
      this.ws.close(UNSUPPORTED_DATA, 'text messages are not part of the protocol');
      this.destroy(new StreamFailedError(why, UNSUPPORTED_DATA));
      return;
    }
    if (!this.push(data)) this.ws.pause();
  }

  private onClose(code: number, reason: string): void {
    if (this.destroyed) return;
    if (ENDED.has(code)) {
      this.ended = { code, reason };
      this.push(null);
      return;
    }
    this.destroy(new StreamFailedError(closeMessage(code, reason), code));
  }

  override _read(): void {
    if (this.ws.isPaused) this.ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.send(chunk, callback);
  }

  // Many small writes (keystrokes, RFB requests) queued while one was in flight go as one message.
  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.send(Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  /** Sends `data` in messages the server takes; done once the last one was handed to the socket. */
  private send(data: Buffer, callback: (error?: Error | null) => void): void {
    const pieces = messagesOf(data);
    pieces.forEach((piece, i) => this.ws.send(piece, { binary: true }, i === pieces.length - 1 ? callback : undefined));
  }

  /** Our side is done (Ctrl-], stdin ended, the local connection closed): the stream ends. */
  override _final(callback: (error?: Error | null) => void): void {
    this.closeSoon(STREAM_CLOSE.ended, 'client finished');
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.ws.readyState === this.ws.CONNECTING) this.ws.terminate();
    else this.closeSoon(error ? STREAM_CLOSE.failed : STREAM_CLOSE.ended, error ? 'client failed' : 'client finished');
    // Nobody reads any more: read on, so that the server's close frame is seen.
    this.ws.resume();
    callback(error);
  }

  /**
   * Starts the closing handshake. A server that never answers it must not hold the CLI: ws
   * waits 30 s for the answer, this cuts the connection after {@link CLOSE_GRACE_MS}.
   */
  private closeSoon(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(code, reason);
    if (this.ws.readyState === this.ws.CLOSED) return;
    const timer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    this.ws.once('close', () => clearTimeout(timer));
  }
}
