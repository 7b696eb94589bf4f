import { nbdkitArgs, nbdUri, streamableAnswer } from './stream.js';

const QCOW2 = Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb]), Buffer.alloc(508)]);
const GZIP = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08]), Buffer.alloc(509)]);
const XZ = Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(506)]);
/** A tar header (an OVA): "ustar" at offset 257. */
const TAR = Buffer.alloc(512);
TAR.write('ustar', 257, 'latin1');

describe('streamableAnswer', () => {
  const answer = (over: Partial<Parameters<typeof streamableAnswer>[0]>) => streamableAnswer({ status: 206, url: 'http://mirror/os.qcow2', total: 1 << 30, head: QCOW2, ...over });

  it('streams an uncompressed image from a server that answered the range request', () => {
    expect(answer({})).toEqual({ url: 'http://mirror/os.qcow2', totalBytes: 1 << 30, head: QCOW2 });
  });

  it.each([
    ['a server that ignored the range (200)', { status: 200 }],
    ['a 206 without the total size', { total: undefined }],
    ['an empty file', { total: 0 }],
    ['a 404', { status: 404 }],
    ['gzip', { head: GZIP }],
    ['xz', { head: XZ }],
    ['an OVA (tar)', { head: TAR }],
  ])('downloads instead for %s', (_what, over) => {
    expect(answer(over)).toBeUndefined();
  });
});

describe('nbdkitArgs', () => {
  it('keeps the URL one argument, read-only, http(s) only, no redirects, with retries', () => {
    const url = 'http://mirror/a b?x=1&protocols=file --run=sh';
    const args = nbdkitArgs({ socket: '/s/source.nbd', pidFile: '/s/source.nbd.pid', url });
    expect(args).toContain(`url=${url}`);
    expect(args.filter((a) => a.includes('protocols'))).toEqual([`url=${url}`, 'protocols=http,https']);
    expect(args).toEqual(expect.arrayContaining(['--readonly', '--exit-with-parent', '--filter=retry', 'followlocation=false']));
    // The plugin name comes before its settings, and nothing of the URL can become an option of nbdkit's own.
    expect(args.indexOf('curl')).toBeLessThan(args.indexOf(`url=${url}`));
    expect(args.slice(0, args.indexOf('curl')).some((a) => a.includes('mirror'))).toBe(false);
  });
});

describe('nbdUri', () => {
  it('names the socket for qemu-img', () => {
    expect(nbdUri('/var/run/kubevmm/import/scratch/source.nbd')).toBe('nbd+unix:///?socket=/var/run/kubevmm/import/scratch/source.nbd');
  });
});
