import { QmpProtocolError } from './errors.js';
import { QmpFrameDecoder, encodeCommand } from './framing.js';
import { classifyMessage } from './protocol.js';

describe('QmpFrameDecoder', () => {
  it('decodes several CRLF-terminated messages from one chunk', () => {
    const decoder = new QmpFrameDecoder();
    expect(decoder.push(Buffer.from('{"a":1}\r\n{"b":2}\r\n'))).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('buffers a message split across chunks, including inside a UTF-8 character', () => {
    const decoder = new QmpFrameDecoder();
    const bytes = Buffer.from('{"desc":"disque é"}\r\n');
    const cut = bytes.indexOf(0xc3) + 1; // between the two bytes of "é"
    expect(decoder.push(bytes.subarray(0, cut))).toEqual([]);
    expect(decoder.push(bytes.subarray(cut))).toEqual([{ desc: 'disque é' }]);
  });

  it('accepts bare LF and skips blank lines', () => {
    const decoder = new QmpFrameDecoder();
    expect(decoder.push('{"a":1}\n\r\n\n{"b":2}\n')).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('keeps a trailing partial message for the next chunk', () => {
    const decoder = new QmpFrameDecoder();
    expect(decoder.push('{"a":1}\r\n{"b"')).toEqual([{ a: 1 }]);
    expect(decoder.push(':2}\r\n')).toEqual([{ b: 2 }]);
  });

  it('rejects invalid JSON with a typed protocol error', () => {
    const decoder = new QmpFrameDecoder();
    expect(() => decoder.push('not json\r\n')).toThrow(QmpProtocolError);
  });
});

describe('encodeCommand', () => {
  it('writes execute, id and arguments followed by CRLF', () => {
    expect(encodeCommand('device_del', { id: 'disk1' }, 7)).toBe(
      '{"execute":"device_del","id":7,"arguments":{"id":"disk1"}}\r\n',
    );
  });

  it('omits arguments when there are none', () => {
    expect(encodeCommand('query-status', undefined, 1)).toBe('{"execute":"query-status","id":1}\r\n');
  });
});

describe('classifyMessage', () => {
  it('recognises the greeting', () => {
    const msg = classifyMessage({
      QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 }, package: '' }, capabilities: ['oob'] },
    });
    expect(msg).toEqual({
      kind: 'greeting',
      greeting: { version: { qemu: { major: 7, minor: 2, micro: 0 }, package: '' }, capabilities: ['oob'] },
    });
  });

  it('recognises returns and errors with their ids', () => {
    expect(classifyMessage({ return: { running: true }, id: 3 })).toEqual({
      kind: 'return',
      id: 3,
      value: { running: true },
    });
    expect(classifyMessage({ id: 4, error: { class: 'DeviceNotFound', desc: "Device 'x' not found" } })).toEqual({
      kind: 'error',
      id: 4,
      errorClass: 'DeviceNotFound',
      desc: "Device 'x' not found",
    });
  });

  it('gives events without data an empty data object', () => {
    expect(classifyMessage({ timestamp: { seconds: 1, microseconds: 2 }, event: 'STOP' })).toEqual({
      kind: 'event',
      event: { event: 'STOP', data: {}, timestamp: { seconds: 1, microseconds: 2 } },
    });
  });

  it('rejects values that are not QMP messages', () => {
    expect(() => classifyMessage([1, 2])).toThrow(QmpProtocolError);
    expect(() => classifyMessage({ hello: 'world' })).toThrow(QmpProtocolError);
  });
});
