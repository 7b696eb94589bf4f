import {
  blitCopy,
  blitRaw,
  chooseSecurity,
  clientInit,
  Coverage,
  ENCODING,
  newFramebuffer,
  parseRectHeader,
  parseServerInitHead,
  parseVersion,
  rectPayloadLength,
  RfbError,
  setEncodings,
  setPixelFormat,
  updateRequest,
} from './rfb.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('RFB parsers', () => {
  it('reads the server version and refuses servers older than 3.8 or that are no RFB server', () => {
    expect(parseVersion(Buffer.from('RFB 003.008\n'))).toEqual({ major: 3, minor: 8 });
    expect(parseVersion(Buffer.from('RFB 003.889\n'))).toEqual({ major: 3, minor: 889 });
    expect(() => parseVersion(Buffer.from('RFB 003.003\n'))).toThrow('speaks RFB 3.3; kubevmm needs 3.8 or later');
    expect(() => parseVersion(Buffer.from('SSH-2.0-Open'))).toThrow(/not an RFB server: it greeted with "SSH-2.0-Open"/);
  });

  it('chooses security None and refuses servers that only offer authentication, naming what they want', () => {
    expect(chooseSecurity([2, 1])).toBe(1);
    expect(() => chooseSecurity([2, 19])).toThrow(RfbError);
    expect(() => chooseSecurity([2, 19])).toThrow('the VNC server wants authentication (VNC Authentication (a password), VeNCrypt)');
    expect(() => chooseSecurity([99])).toThrow('(type 99)');
  });

  it("reads ServerInit's size and pixel format (QEMU's default 32-bit true colour)", () => {
    // 1024x768, bpp 32, depth 24, little-endian, true colour, max 255 each, shifts 16/8/0, name length 4.
    const bytes = hex('0400 0300 20 18 00 01 00ff 00ff 00ff 10 08 00 000000 00000004');
    expect(parseServerInitHead(bytes)).toEqual({
      width: 1024,
      height: 768,
      nameLength: 4,
      pixelFormat: { bitsPerPixel: 32, depth: 24, bigEndian: false, trueColour: true, redMax: 255, greenMax: 255, blueMax: 255, redShift: 16, greenShift: 8, blueShift: 0 },
    });
    expect(() => parseServerInitHead(bytes.subarray(0, 20))).toThrow('ServerInit is 24 bytes before the name, got 20');
  });

  it('reads rectangle headers with signed encodings and knows their payload sizes', () => {
    const raw = parseRectHeader(hex('0001 0002 0003 0004 00000000'));
    expect(raw).toEqual({ x: 1, y: 2, width: 3, height: 4, encoding: ENCODING.raw });
    expect(rectPayloadLength(raw)).toBe(3 * 4 * 4);
    const resize = parseRectHeader(hex('0000 0000 0320 0258 ffffff21'));
    expect(resize).toEqual({ x: 0, y: 0, width: 800, height: 600, encoding: -223 });
    expect(rectPayloadLength(resize)).toBe(0);
    expect(rectPayloadLength({ ...raw, encoding: ENCODING.copyRect })).toBe(4);
    expect(() => rectPayloadLength({ ...raw, encoding: 7 })).toThrow('encoding 7, which kubevmm did not ask for');
  });
});

describe('RFB client messages', () => {
  it('builds ClientInit, SetPixelFormat, SetEncodings and FramebufferUpdateRequest byte for byte', () => {
    expect(clientInit()).toEqual(hex('01'));
    expect(setPixelFormat()).toEqual(hex('00 000000 20 18 00 01 00ff 00ff 00ff 10 08 00 000000'));
    expect(setEncodings([ENCODING.raw, ENCODING.copyRect, ENCODING.desktopSize])).toEqual(hex('02 00 0003 00000000 00000001 ffffff21'));
    expect(updateRequest({ x: 0, y: 0, width: 1024, height: 768 }, false)).toEqual(hex('03 00 0000 0000 0400 0300'));
    expect(updateRequest({ x: 5, y: 6, width: 7, height: 8 }, true)).toEqual(hex('03 01 0005 0006 0007 0008'));
  });
});

describe('the framebuffer', () => {
  it('turns Raw B,G,R,x pixels into opaque RGBA at the right place', () => {
    const fb = newFramebuffer(3, 2);
    // A 2x1 rectangle at (1,1): pure red, then pure blue.
    blitRaw(fb, { x: 1, y: 1, width: 2, height: 1 }, hex('0000ff00 ff000000'));
    expect([...fb.rgba.subarray(16, 24)]).toEqual([255, 0, 0, 255, 0, 0, 255, 255]);
    expect([...fb.rgba.subarray(0, 16)]).toEqual(new Array(16).fill(0));
  });

  it('copies rectangles within the screen, overlapping ones included', () => {
    const fb = newFramebuffer(2, 3);
    blitRaw(fb, { x: 0, y: 0, width: 2, height: 2 }, hex('01020300 04050600 07080900 0a0b0c00'));
    // Shift the top two rows down by one: the source overlaps the destination.
    blitCopy(fb, { x: 0, y: 1, width: 2, height: 2 }, { x: 0, y: 0 });
    const pixel = (i: number) => [...fb.rgba.subarray(i * 4, i * 4 + 3)];
    expect([pixel(2), pixel(3), pixel(4), pixel(5)]).toEqual([
      [3, 2, 1],
      [6, 5, 4],
      [9, 8, 7],
      [12, 11, 10],
    ]);
  });

  it("refuses a server's rectangle or CopyRect source outside the screen", () => {
    const fb = newFramebuffer(4, 4);
    expect(() => blitRaw(fb, { x: 3, y: 0, width: 2, height: 1 }, Buffer.alloc(8))).toThrow('a rectangle 2x1+3+0 outside the 4x4 screen');
    expect(() => blitCopy(fb, { x: 0, y: 0, width: 2, height: 2 }, { x: 3, y: 3 })).toThrow('a CopyRect source 2x2+3+3 outside the 4x4 screen');
  });

  it('knows when every pixel has arrived, however the rectangles overlap', () => {
    const coverage = new Coverage(4, 2);
    coverage.add({ x: 0, y: 0, width: 3, height: 2 });
    coverage.add({ x: 1, y: 0, width: 2, height: 2 });
    expect(coverage.complete).toBe(false);
    coverage.add({ x: 3, y: 1, width: 1, height: 1 });
    expect(coverage.complete).toBe(false);
    coverage.add({ x: 3, y: 0, width: 1, height: 1 });
    expect(coverage.complete).toBe(true);
  });
});
