/**
 * The parts of RFB 3.8 (the VNC protocol, RFC 6143) a client needs to read one screen: pure
 * parsers of the server's fixed-size pieces, builders of the client's messages, and the blit
 * of rectangles into an RGBA framebuffer. No I/O here: cli/cluster/rfb-client.ts drives them
 * over a stream. The client asks for one pixel format (32 bits, true colour, little-endian,
 * red at bit 16), so Raw pixels arrive as B, G, R, unused.
 */

/** RFB's errors: the server broke the protocol, or wants what this client does not do. */
export class RfbError extends Error {
  override readonly name = 'RfbError';
}

/** The version this client speaks. */
export const CLIENT_VERSION = 'RFB 003.008\n';

/** Security types (RFC 6143 §7.1.2 and IANA's registry), for messages that name them. */
const SECURITY_NAMES: Readonly<Record<number, string>> = {
  1: 'None',
  2: 'VNC Authentication (a password)',
  16: 'Tight',
  18: 'TLS',
  19: 'VeNCrypt',
  20: 'SASL',
  30: 'Apple Remote Desktop',
};
export const SECURITY_NONE = 1;

/** Encodings (RFC 6143 §7.7): Raw, CopyRect and the DesktopSize pseudo-encoding. */
export const ENCODING = { raw: 0, copyRect: 1, desktopSize: -223 } as const;

/** Server message types (RFC 6143 §7.6). */
export const SERVER_MESSAGE = { framebufferUpdate: 0, setColourMapEntries: 1, bell: 2, serverCutText: 3 } as const;

/** A pixel format (RFC 6143 §7.4). */
export interface PixelFormat {
  bitsPerPixel: number;
  depth: number;
  bigEndian: boolean;
  trueColour: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
  redShift: number;
  greenShift: number;
  blueShift: number;
}

/** What this client asks for: 4 bytes a pixel, B G R x in memory. */
export const CLIENT_PIXEL_FORMAT: PixelFormat = {
  bitsPerPixel: 32,
  depth: 24,
  bigEndian: false,
  trueColour: true,
  redMax: 255,
  greenMax: 255,
  blueMax: 255,
  redShift: 16,
  greenShift: 8,
  blueShift: 0,
};
export const BYTES_PER_PIXEL = CLIENT_PIXEL_FORMAT.bitsPerPixel / 8;

/** The server's 12-byte ProtocolVersion; refuses servers older than 3.8. */
export function parseVersion(bytes: Buffer): { major: number; minor: number } {
  const match = /^RFB (\d{3})\.(\d{3})\n$/.exec(bytes.toString('latin1'));
  if (!match) throw new RfbError(`not an RFB server: it greeted with ${JSON.stringify(bytes.toString('latin1'))}`);
  const version = { major: Number(match[1]), minor: Number(match[2]) };
  if (version.major < 3 || (version.major === 3 && version.minor < 8)) {
    throw new RfbError(`the VNC server speaks RFB ${version.major}.${version.minor}; kubevmm needs 3.8 or later`);
  }
  return version;
}

/** Which security type to answer, from the server's list; refuses servers that want authentication. */
export function chooseSecurity(types: readonly number[]): number {
  if (types.includes(SECURITY_NONE)) return SECURITY_NONE;
  const offered = types.map((t) => SECURITY_NAMES[t] ?? `type ${t}`).join(', ');
  throw new RfbError(`the VNC server wants authentication (${offered}); kubevmm speaks only security type None, as the launcher's QEMU offers it`);
}

/** The 24-byte head of ServerInit, before the name: size and pixel format, and the name's length. */
export function parseServerInitHead(bytes: Buffer): { width: number; height: number; pixelFormat: PixelFormat; nameLength: number } {
  if (bytes.length < 24) throw new RfbError(`ServerInit is 24 bytes before the name, got ${bytes.length}`);
  return { width: bytes.readUInt16BE(0), height: bytes.readUInt16BE(2), pixelFormat: parsePixelFormat(bytes.subarray(4, 20)), nameLength: bytes.readUInt32BE(20) };
}

/** A 16-byte PIXEL_FORMAT. */
export function parsePixelFormat(bytes: Buffer): PixelFormat {
  return {
    bitsPerPixel: bytes.readUInt8(0),
    depth: bytes.readUInt8(1),
    bigEndian: bytes.readUInt8(2) !== 0,
    trueColour: bytes.readUInt8(3) !== 0,
    redMax: bytes.readUInt16BE(4),
    greenMax: bytes.readUInt16BE(6),
    blueMax: bytes.readUInt16BE(8),
    redShift: bytes.readUInt8(10),
    greenShift: bytes.readUInt8(11),
    blueShift: bytes.readUInt8(12),
  };
}

function pixelFormatBytes(format: PixelFormat): Buffer {
  const bytes = Buffer.alloc(16);
  bytes.writeUInt8(format.bitsPerPixel, 0);
  bytes.writeUInt8(format.depth, 1);
  bytes.writeUInt8(format.bigEndian ? 1 : 0, 2);
  bytes.writeUInt8(format.trueColour ? 1 : 0, 3);
  bytes.writeUInt16BE(format.redMax, 4);
  bytes.writeUInt16BE(format.greenMax, 6);
  bytes.writeUInt16BE(format.blueMax, 8);
  bytes.writeUInt8(format.redShift, 10);
  bytes.writeUInt8(format.greenShift, 11);
  bytes.writeUInt8(format.blueShift, 12);
  return bytes;
}

/** ClientInit: shared, so a viewer already attached is not disconnected. */
export function clientInit(shared = true): Buffer {
  return Buffer.from([shared ? 1 : 0]);
}

/** SetPixelFormat (type 0). */
export function setPixelFormat(format: PixelFormat = CLIENT_PIXEL_FORMAT): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0, 0]), pixelFormatBytes(format)]);
}

/** SetEncodings (type 2), in order of preference. */
export function setEncodings(encodings: readonly number[]): Buffer {
  const bytes = Buffer.alloc(4 + 4 * encodings.length);
  bytes.writeUInt8(2, 0);
  bytes.writeUInt16BE(encodings.length, 2);
  encodings.forEach((encoding, i) => bytes.writeInt32BE(encoding, 4 + 4 * i));
  return bytes;
}

/** An area of the screen. */
export interface Area {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** FramebufferUpdateRequest (type 3): incremental asks only for what changed. */
export function updateRequest(area: Area, incremental: boolean): Buffer {
  const bytes = Buffer.alloc(10);
  bytes.writeUInt8(3, 0);
  bytes.writeUInt8(incremental ? 1 : 0, 1);
  bytes.writeUInt16BE(area.x, 2);
  bytes.writeUInt16BE(area.y, 4);
  bytes.writeUInt16BE(area.width, 6);
  bytes.writeUInt16BE(area.height, 8);
  return bytes;
}

/** A rectangle's 12-byte header in a FramebufferUpdate. */
export interface RectHeader extends Area {
  encoding: number;
}

export function parseRectHeader(bytes: Buffer): RectHeader {
  return { x: bytes.readUInt16BE(0), y: bytes.readUInt16BE(2), width: bytes.readUInt16BE(4), height: bytes.readUInt16BE(6), encoding: bytes.readInt32BE(8) };
}

/** How many bytes follow a rectangle's header; refuses encodings that were not asked for. */
export function rectPayloadLength(rect: RectHeader): number {
  if (rect.encoding === ENCODING.raw) return rect.width * rect.height * BYTES_PER_PIXEL;
  if (rect.encoding === ENCODING.copyRect) return 4;
  if (rect.encoding === ENCODING.desktopSize) return 0;
  throw new RfbError(`the VNC server sent a rectangle in encoding ${rect.encoding}, which kubevmm did not ask for`);
}

/** A screen: RGBA, 4 bytes a pixel, rows top to bottom (what PNG encoders take). */
export interface Framebuffer {
  width: number;
  height: number;
  rgba: Buffer;
}

export function newFramebuffer(width: number, height: number): Framebuffer {
  return { width, height, rgba: Buffer.alloc(width * height * 4) };
}

/** Throws unless `area` lies inside the screen: a server's rectangle is not trusted. */
export function checkInside(fb: Framebuffer, area: Area, what: string): void {
  if (area.x + area.width > fb.width || area.y + area.height > fb.height) {
    throw new RfbError(`the VNC server sent ${what} ${area.width}x${area.height}+${area.x}+${area.y} outside the ${fb.width}x${fb.height} screen`);
  }
}

/** Writes Raw pixels (B G R x, the client's format) into the screen as RGBA. */
export function blitRaw(fb: Framebuffer, rect: Area, pixels: Buffer): void {
  checkInside(fb, rect, 'a rectangle');
  for (let row = 0; row < rect.height; row++) {
    let src = row * rect.width * BYTES_PER_PIXEL;
    let dst = ((rect.y + row) * fb.width + rect.x) * 4;
    for (let col = 0; col < rect.width; col++, src += 4, dst += 4) {
      fb.rgba[dst] = pixels[src + 2]!;
      fb.rgba[dst + 1] = pixels[src + 1]!;
      fb.rgba[dst + 2] = pixels[src]!;
      fb.rgba[dst + 3] = 255;
    }
  }
}

/** CopyRect: the rectangle's pixels come from (srcX, srcY) of the same screen. */
export function blitCopy(fb: Framebuffer, rect: Area, source: { x: number; y: number }): void {
  checkInside(fb, rect, 'a rectangle');
  checkInside(fb, { ...source, width: rect.width, height: rect.height }, 'a CopyRect source');
  const rowBytes = rect.width * 4;
  const rows = Array.from({ length: rect.height }, (_, row) => {
    const from = ((source.y + row) * fb.width + source.x) * 4;
    return Buffer.from(fb.rgba.subarray(from, from + rowBytes));
  });
  rows.forEach((pixels, row) => pixels.copy(fb.rgba, ((rect.y + row) * fb.width + rect.x) * 4));
}

/** Which pixels have arrived since a full-screen request, so the client knows when it has them all. */
export class Coverage {
  private readonly seen: Uint8Array;
  private missing: number;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.seen = new Uint8Array(width * height);
    this.missing = width * height;
  }

  add(area: Area): void {
    for (let row = area.y; row < area.y + area.height; row++) {
      for (let i = row * this.width + area.x, end = i + area.width; i < end; i++) {
        if (!this.seen[i]) {
          this.seen[i] = 1;
          this.missing--;
        }
      }
    }
  }

  get complete(): boolean {
    return this.missing === 0;
  }
}
