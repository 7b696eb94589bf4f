import { parseExportOptions, type ExportFlags } from './options.js';
import { exportImage, planExport, type ExportPlanInput } from './plan.js';

/** The argv as {option: parsed JSON value} pairs, which is what matters to the daemon. */
function options(argv: string[]): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (let i = 0; i < argv.length; i += 2) {
    const value = argv[i + 1]!;
    out.push([argv[i]!, value.startsWith('{') ? JSON.parse(value) : value]);
  }
  return out;
}

const base: ExportPlanInput = {
  source: '/var/run/kubevmm/export',
  mode: 'filesystem',
  port: 10809,
  address: '0.0.0.0',
  pskDir: '/var/run/kubevmm/nbd',
  readOnly: false,
  format: 'raw',
};

describe('planExport', () => {
  it('a writable raw disk.img: server TLS-PSK, O_DIRECT file, unmap, writable export "disk"', () => {
    expect(options(planExport(base))).toEqual([
      ['--object', { 'qom-type': 'tls-creds-psk', id: 'tls0', endpoint: 'server', dir: '/var/run/kubevmm/nbd', priority: 'NORMAL:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305' }],
      ['--blockdev', { driver: 'file', 'node-name': 'file0', filename: '/var/run/kubevmm/export/disk.img', 'read-only': false, cache: { direct: true, 'no-flush': false }, discard: 'unmap' }],
      ['--blockdev', { driver: 'raw', 'node-name': 'disk0', file: 'file0', 'read-only': false, discard: 'unmap', 'detect-zeroes': 'unmap' }],
      ['--nbd-server', { addr: { type: 'inet', host: '0.0.0.0', port: '10809' }, 'tls-creds': 'tls0' }],
      ['--export', { type: 'nbd', id: 'export0', 'node-name': 'disk0', name: 'disk', writable: true }],
    ]);
  });

  it.each<[string, Partial<ExportPlanInput>, Array<[number, Record<string, unknown>]>]>([
    ['a block device is opened as host_device', { mode: 'block', source: '/dev/kubevmm/export' }, [[1, { driver: 'host_device', filename: '/dev/kubevmm/export' }]]],
    ['a qcow2 image is served as its guest-visible bytes', { format: 'qcow2' }, [[2, { driver: 'qcow2', file: 'file0' }]]],
    ['read-only: read-only nodes, no discard, export not writable', { readOnly: true }, [
      [1, { 'read-only': true, discard: undefined }],
      [2, { 'read-only': true, 'detect-zeroes': undefined }],
      [4, { writable: false }],
    ]],
    ['another port and address', { port: 10900, address: '::' }, [[3, { addr: { type: 'inet', host: '::', port: '10900' } }]]],
    ['a listening socket handed over as a descriptor', { listenFd: 3 }, [[3, { addr: { type: 'fd', str: '3' }, 'tls-creds': 'tls0' }]]],
  ])('%s', (_name, change, expected) => {
    const planned = options(planExport({ ...base, ...change }));
    for (const [index, fields] of expected) {
      const value = planned[index]![1] as Record<string, unknown>;
      for (const [key, v] of Object.entries(fields)) expect([key, value[key]]).toEqual([key, v]);
    }
  });

  it('keeps a path with commas intact and ends with the pid file when given one', () => {
    const argv = planExport({ ...base, source: '/mnt/a,b=c', pidFile: '/tmp/x/qsd.pid' });
    expect(options(argv)[1]![1]).toMatchObject({ filename: '/mnt/a,b=c/disk.img' });
    expect(argv.slice(-2)).toEqual(['--pidfile', '/tmp/x/qsd.pid']);
  });

  it('names the image: disk.img in the directory, or the device itself', () => {
    expect(exportImage({ source: '/v', mode: 'filesystem' })).toBe('/v/disk.img');
    expect(exportImage({ source: '/dev/sdb', mode: 'block' })).toBe('/dev/sdb');
  });
});

describe('parseExportOptions', () => {
  const ok: ExportFlags = { source: '/v', mode: 'filesystem' };

  it('fills the defaults from the layout contract', () => {
    expect(parseExportOptions(ok)).toEqual({ source: '/v', mode: 'filesystem', port: 10809, address: '0.0.0.0', pskDir: '/var/run/kubevmm/nbd', readOnly: false });
    expect(parseExportOptions({ ...ok, size: '1Gi', port: '10900', readOnly: true, pskDir: '/k' })).toMatchObject({ size: 2 ** 30, port: 10900, readOnly: true, pskDir: '/k' });
    expect(parseExportOptions({ ...ok, size: '1048576' }).size).toBe(1048576);
  });

  it.each<[ExportFlags, RegExp]>([
    [{ mode: 'filesystem' }, /^--source is required/],
    [{ source: 'rel/dir', mode: 'filesystem' }, /^--source rel\/dir: give an absolute path/],
    [{ source: '/v' }, /^--mode \(missing\): use --mode filesystem .* or --mode block/],
    [{ source: '/v', mode: 'Filesystem' }, /^--mode Filesystem:/],
    [{ ...ok, port: '0' }, /^--port 0: not a TCP port/],
    [{ ...ok, port: '99999' }, /^--port 99999/],
    [{ ...ok, port: '80a' }, /^--port 80a/],
    [{ ...ok, size: 'lots' }, /^--size lots: not a size; give bytes or a quantity such as 10Gi/],
    [{ ...ok, size: '1000' }, /^--size 1000: must be a positive whole number of 512-byte sectors/],
    [{ ...ok, size: '-1Gi' }, /^--size -1Gi/],
    [{ source: '/dev/sdb', mode: 'block', size: '1Gi' }, /^--size 1Gi: only for --mode filesystem/],
    [{ ...ok, address: 'a b' }, /^--address a b/],
  ])('%j is refused: %s', (flags, message) => {
    expect(() => parseExportOptions(flags)).toThrow(message);
  });
});
