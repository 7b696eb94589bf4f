// QMP frames are JSON objects, each followed by CRLF. A socket read can end anywhere: in
// the middle of a message, or a multi-byte UTF-8 character (device ids and error text may
// be non-ASCII), or after several messages. The decoder buffers until a newline.

import { StringDecoder } from 'node:string_decoder';
import { QmpProtocolError } from './errors.js';

/** Upper bound on one buffered frame; a peer that never sends a newline must not exhaust memory. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Incremental newline-delimited JSON decoder. */
export class QmpFrameDecoder {
  private readonly text = new StringDecoder('utf8');
  private pending = '';

  /**
   * Feed one chunk and get back every complete JSON value it finished.
   * Throws {@link QmpProtocolError} on invalid JSON or an oversized frame.
   */
  push(chunk: Buffer | string): unknown[] {
    this.pending += typeof chunk === 'string' ? chunk : this.text.write(chunk);
    const values: unknown[] = [];
    let newline = this.pending.indexOf('\n');
    while (newline !== -1) {
      const line = this.pending.slice(0, newline).trim();
      this.pending = this.pending.slice(newline + 1);
      if (line !== '') values.push(parseFrame(line));
      newline = this.pending.indexOf('\n');
    }
    if (this.pending.length > MAX_FRAME_BYTES) {
      throw new QmpProtocolError(`QMP frame exceeds ${MAX_FRAME_BYTES} bytes without a newline`);
    }
    return values;
  }
}

function parseFrame(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    throw new QmpProtocolError(`invalid JSON from QMP peer: ${line.slice(0, 200)}`, { cause: err });
  }
}

/** Serialise one command for the wire. */
export function encodeCommand(command: string, args: object | undefined, id: number): string {
  const msg: Record<string, unknown> = { execute: command, id };
  if (args !== undefined) msg.arguments = args;
  return `${JSON.stringify(msg)}\r\n`;
}
