/**
 * An RFB 3.8 client over any byte stream (a subresource WebSocket stream, QEMU's VNC socket):
 * the handshake with security type None, the pixel format and encodings this client reads,
 * and framebuffer updates applied to an RGBA screen. `vnc --screenshot` reads one full screen
 * with it; bench/vnc-fps.ts counts incremental updates.
 */
import type { Duplex } from 'node:stream';
import {
  blitCopy,
  blitRaw,
  chooseSecurity,
  CLIENT_PIXEL_FORMAT,
  CLIENT_VERSION,
  clientInit,
  Coverage,
  ENCODING,
  newFramebuffer,
  parseRectHeader,
  parseServerInitHead,
  parseVersion,
  rectPayloadLength,
  RfbError,
  SERVER_MESSAGE,
  setEncodings,
  setPixelFormat,
  updateRequest,
  type Framebuffer,
} from './rfb.js';

/** Reads exact byte counts from a stream, keeping what arrives early for the next read. */
export class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter?: () => void;
  private failure?: Error;

  constructor(stream: Duplex) {
    stream.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.waiter?.();
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      this.waiter?.();
    };
    stream.once('end', () => fail(new RfbError('the VNC server closed the connection')));
    stream.once('close', () => fail(new RfbError('the VNC connection closed')));
    stream.once('error', fail);
  }

  /** The next `n` bytes; rejects when the stream ends or fails first. */
  async read(n: number): Promise<Buffer> {
    while (this.buffered < n) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = undefined;
    }
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.buffered -= n;
    return all.subarray(0, n);
  }
}

/** What one FramebufferUpdate brought. */
export interface UpdateSummary {
  rectangles: number;
  /** Bytes of pixel data, headers excluded. */
  bytes: number;
  /** The screen changed size (DesktopSize). */
  resized: boolean;
}

/** One RFB session. */
export class RfbClient {
  private readonly reader: ByteReader;
  /** The screen as last updated; replaced on a resize. */
  framebuffer: Framebuffer = newFramebuffer(0, 0);
  name = '';

  constructor(private readonly stream: Duplex) {
    this.reader = new ByteReader(stream);
  }

  /** Version, security None, ClientInit (shared), ServerInit; then our pixel format and encodings. */
  async handshake(): Promise<void> {
    parseVersion(await this.reader.read(12));
    this.stream.write(CLIENT_VERSION);
    const count = (await this.reader.read(1)).readUInt8(0);
    if (count === 0) throw new RfbError(`the VNC server refused the connection: ${await this.readReason()}`);
    const type = chooseSecurity([...(await this.reader.read(count))]);
    this.stream.write(Buffer.from([type]));
    if ((await this.reader.read(4)).readUInt32BE(0) !== 0) throw new RfbError(`the VNC server refused security type None: ${await this.readReason()}`);
    this.stream.write(clientInit(true));
    const head = parseServerInitHead(await this.reader.read(24));
    this.name = (await this.reader.read(head.nameLength)).toString('utf8');
    if (head.width === 0 || head.height === 0) throw new RfbError(`the VNC server reports an empty ${head.width}x${head.height} screen`);
    this.framebuffer = newFramebuffer(head.width, head.height);
    this.stream.write(setPixelFormat(CLIENT_PIXEL_FORMAT));
    this.stream.write(setEncodings([ENCODING.raw, ENCODING.copyRect, ENCODING.desktopSize]));
  }

  private async readReason(): Promise<string> {
    const length = (await this.reader.read(4)).readUInt32BE(0);
    return (await this.reader.read(Math.min(length, 4096))).toString('utf8');
  }

  /** Asks for the whole screen (incremental: only what changed since the last update). */
  requestUpdate(incremental: boolean): void {
    const { width, height } = this.framebuffer;
    this.stream.write(updateRequest({ x: 0, y: 0, width, height }, incremental));
  }

  /** Reads server messages until a FramebufferUpdate has been applied; `coverage` records its rectangles. */
  async nextUpdate(coverage?: Coverage): Promise<UpdateSummary> {
    for (;;) {
      const type = (await this.reader.read(1)).readUInt8(0);
      if (type === SERVER_MESSAGE.framebufferUpdate) return this.readUpdate(coverage);
      await this.skipMessage(type);
    }
  }

  private async readUpdate(coverage?: Coverage): Promise<UpdateSummary> {
    const rectangles = (await this.reader.read(3)).readUInt16BE(1);
    const summary: UpdateSummary = { rectangles, bytes: 0, resized: false };
    for (let i = 0; i < rectangles; i++) {
      const rect = parseRectHeader(await this.reader.read(12));
      const payload = await this.reader.read(rectPayloadLength(rect));
      summary.bytes += payload.length;
      if (rect.encoding === ENCODING.desktopSize) {
        this.framebuffer = newFramebuffer(rect.width, rect.height);
        summary.resized = true;
        continue;
      }
      if (rect.encoding === ENCODING.raw) blitRaw(this.framebuffer, rect, payload);
      else blitCopy(this.framebuffer, rect, { x: payload.readUInt16BE(0), y: payload.readUInt16BE(2) });
      coverage?.add(rect);
    }
    return summary;
  }

  /** Messages other than updates carry nothing a screenshot needs; they are read past. */
  private async skipMessage(type: number): Promise<void> {
    if (type === SERVER_MESSAGE.bell) return;
    if (type === SERVER_MESSAGE.setColourMapEntries) {
      const head = await this.reader.read(5);
      await this.reader.read(head.readUInt16BE(3) * 6);
      return;
    }
    if (type === SERVER_MESSAGE.serverCutText) {
      await this.reader.read(this.checkedLength((await this.reader.read(7)).readUInt32BE(3)));
      return;
    }
    throw new RfbError(`the VNC server sent message type ${type}, which RFB 3.8 does not define for a client that asked for nothing more`);
  }

  private checkedLength(length: number): number {
    if (length > 16 * 1024 * 1024) throw new RfbError(`the VNC server announced ${length} bytes of clipboard text`);
    return length;
  }

  /** One full screen: a non-incremental request, then updates until every pixel came (again after a resize). */
  async screenshot(): Promise<Framebuffer> {
    this.requestUpdate(false);
    let coverage = new Coverage(this.framebuffer.width, this.framebuffer.height);
    while (!coverage.complete) {
      const update = await this.nextUpdate(coverage);
      if (update.resized) {
        coverage = new Coverage(this.framebuffer.width, this.framebuffer.height);
        this.requestUpdate(false);
      } else if (!coverage.complete) {
        this.requestUpdate(false);
      }
    }
    return this.framebuffer;
  }
}
