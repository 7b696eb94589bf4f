import { classifyNbdError, describeNbdServer, hasPskKey, nbdNodes, tlsPskClient, DEFAULT_NBD_TIMING } from './nbd.js';

const server = { host: '10.0.0.7', port: 10809, export: 'disk' };

describe('nbdNodes', () => {
  it.each([
    [
      'a writable disk: unmap discards and zero detection, TLS and both timeouts',
      { name: 'data', readOnly: false },
      {
        driver: 'nbd',
        'node-name': 'file-data',
        'read-only': false,
        server: { type: 'inet', host: '10.0.0.7', port: '10809' },
        export: 'disk',
        'tls-creds': 'tls-nbd',
        'reconnect-delay': 10,
        'open-timeout': 10,
        discard: 'unmap',
      },
      { driver: 'raw', 'node-name': 'fmt-data', file: 'file-data', 'read-only': false, discard: 'unmap', 'detect-zeroes': 'unmap' },
    ],
    [
      'a read-only disk: no discard, no zero detection',
      { name: 'ro', readOnly: true },
      {
        driver: 'nbd',
        'node-name': 'file-ro',
        'read-only': true,
        server: { type: 'inet', host: '10.0.0.7', port: '10809' },
        export: 'disk',
        'tls-creds': 'tls-nbd',
        'reconnect-delay': 10,
        'open-timeout': 10,
      },
      { driver: 'raw', 'node-name': 'fmt-ro', file: 'file-ro', 'read-only': true },
    ],
  ])('%s', (_name, disk, protocol, format) => {
    expect(nbdNodes({ disk, server, timing: DEFAULT_NBD_TIMING })).toEqual([protocol, format]);
  });

  it('takes the timing and the credentials it is given, and keeps long names within QEMU limits', () => {
    const [protocol, format] = nbdNodes({ disk: { name: 'x'.repeat(63), readOnly: false }, server, timing: { reconnectDelaySeconds: 3, openTimeoutSeconds: 0 }, tlsCreds: 'other' });
    expect(protocol).toMatchObject({ 'reconnect-delay': 3, 'open-timeout': 0, 'tls-creds': 'other' });
    expect(protocol['node-name'].length).toBeLessThanOrEqual(31);
    expect(format.file).toBe(protocol['node-name']);
  });
});

describe('tlsPskClient', () => {
  it('is a client endpoint reading keys.psk in the directory as user kubevmm', () => {
    expect(tlsPskClient('/var/run/kubevmm/control')).toEqual({
      'qom-type': 'tls-creds-psk',
      id: 'tls-nbd',
      endpoint: 'client',
      dir: '/var/run/kubevmm/control',
      username: 'kubevmm',
      priority: 'NORMAL:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305',
    });
  });
});

describe('hasPskKey', () => {
  it.each([
    ['kubevmm:00ff\n', true],
    ['other:aa\r\nkubevmm:AB12cd34\r\n', true],
    ['kubevmm:\n', false],
    ['kubevmm:abc\n', false], // odd number of hex digits is not a key
    ['kubevmm:zz\n', false],
    ['kubevmmx:aa\n', false],
    ['', false],
  ])('%j -> %s', (content, expected) => {
    expect(hasPskKey(content)).toBe(expected);
  });
});

describe('classifyNbdError', () => {
  it.each([
    ['TLS handshake failed: The TLS connection was non-properly terminated.', 'NbdTlsFailed'],
    ["Requested export not available; server reported: export 'nope' not present", 'NbdExportNotFound'],
    ["Failed to connect to '127.0.0.1:10899': Connection refused", 'NbdUnreachable'],
    ['address resolution failed for nosuch.invalid:10809: Name or service not known', 'NbdUnreachable'],
    ['Could not open image: Permission denied', 'AttachFailed'],
  ])('%s -> %s', (message, reason) => {
    const failure = classifyNbdError(message);
    expect(failure.reason).toBe(reason);
    if (reason !== 'AttachFailed') expect(failure.hint).toEqual(expect.any(String));
  });
});

describe('describeNbdServer', () => {
  it.each([
    [server, '10.0.0.7:10809/disk'],
    [{ host: 'fd00::7', port: 10809, export: 'disk' }, '[fd00::7]:10809/disk'],
  ])('%j -> %s', (s, text) => {
    expect(describeNbdServer(s)).toBe(text);
  });
});
