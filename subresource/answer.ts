/**
 * One way to answer, whether the request came as an ordinary HTTP request (a ServerResponse)
 * or as an upgrade (a bare socket no http.Server answers on any more: the answer is written as
 * raw HTTP/1.1 and the connection closed). Refusals are Kubernetes Status objects either way,
 * so the CLI and the API server's proxy read the same thing.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { KubeStatus } from '../api/contract/subresource.js';

/** Where an answer goes. */
export interface Answer {
  /** A whole answer; `contentType` defaults to JSON (the body is then serialised). */
  send(code: number, body: unknown, contentType?: string): void;
}

function serialise(body: unknown, contentType: string): string {
  return contentType === 'application/json' ? `${JSON.stringify(body)}\n` : String(body);
}

/** Answers through a ServerResponse. */
export function responseAnswer(res: ServerResponse): Answer {
  return {
    send(code, body, contentType = 'application/json') {
      if (res.headersSent) return;
      res.writeHead(code, { 'content-type': contentType, 'cache-control': 'no-store' }).end(serialise(body, contentType));
    },
  };
}

/** Answers on the bare socket of an upgrade request, then closes it. */
export function socketAnswer(socket: Duplex): Answer {
  let sent = false;
  return {
    send(code, body, contentType = 'application/json') {
      if (sent || socket.destroyed) return;
      sent = true;
      const text = serialise(body, contentType);
      const head = [`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'Error'}`, `content-type: ${contentType}`, 'cache-control: no-store', `content-length: ${Buffer.byteLength(text)}`, 'connection: close'];
      socket.end(`${head.join('\r\n')}\r\n\r\n${text}`);
      // A client that never reads its answer must not hold the socket.
      setTimeout(() => socket.destroy(), 5000).unref();
    },
  };
}

/** Answers with a Status, its code the HTTP status. */
export function sendStatus(answer: Answer, status: KubeStatus): void {
  answer.send(status.code, status);
}
