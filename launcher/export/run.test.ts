import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseExportOptions } from './options.js';
import { createSparseImage } from '../runtime/disks.js';
import { isProbeNoise, runExport } from './run.js';

describe('runExport with a stand-in for qemu-storage-daemon', () => {
  let dir: string;
  let volume: string;
  let keys: string;
  let lines: string[];
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });

  /** A daemon that records its argv, writes the pid file if asked, then runs `tail`. */
  async function fakeDaemon(tail: string): Promise<string> {
    const path = join(dir, 'fake-qsd');
    const script = `#!/bin/sh
printf '%s\\n' "$@" > "${dir}/argv"
readlink /proc/$$/fd/3 > "${dir}/fd3" 2>/dev/null
while [ $# -gt 0 ]; do [ "$1" = --pidfile ] && echo $$ > "$2"; shift; done
${tail}
`;
    await writeFile(path, script);
    await chmod(path, 0o755);
    return path;
  }

  let port: number;
  const run = (binary: string, flags: Record<string, string | boolean> = {}) => {
    const options = parseExportOptions({ source: volume, mode: 'filesystem', pskDir: keys, address: '127.0.0.1', port: String(port), ...flags });
    return runExport({ options, binary, log: (l) => lines.push(l), stderrSink: sink, forwardSignals: false });
  };

  /** A port that was free a moment ago, and a server holding one when `hold` is set. */
  async function listen(): Promise<Server> {
    const server = createServer();
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    return server;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'export-'));
    volume = join(dir, 'volume');
    keys = join(dir, 'keys');
    await mkdir(volume);
    await mkdir(keys);
    await writeFile(join(keys, 'keys.psk'), 'kubevmm:00ff00ff\n');
    lines = [];
    const probe = await listen();
    port = (probe.address() as { port: number }).port;
    await new Promise((ok) => probe.close(ok));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('creates a sparse disk.img of --size, announces the export, and exits with the daemon', async () => {
    const code = await run(await fakeDaemon('sleep 1; exit 0'), { size: '64Mi' });
    expect(code).toBe(0);
    const image = await stat(join(volume, 'disk.img'));
    expect(image.size).toBe(64 * 2 ** 20);
    expect(image.blocks).toBe(0); // sparse
    expect(lines).toEqual([
      `created ${volume}/disk.img (67108864 bytes, sparse)`,
      `serving ${volume}/disk.img (raw, writable) as nbd export on 127.0.0.1:${port} with TLS-PSK`,
    ]);
    const argv = (await readFile(join(dir, 'argv'), 'utf8')).split('\n');
    expect(argv).toContain('--export');
    expect(argv.at(-3)).toBe('--pidfile');
    // The runner's listening socket (TCP_NODELAY) is the daemon's descriptor 3.
    expect(argv[argv.indexOf('--nbd-server') + 1]).toContain('"addr":{"type":"fd","str":"3"}');
    expect(await readFile(join(dir, 'fd3'), 'utf8')).toMatch(/^socket:\[\d+\]/);
  });

  it('refuses a port in use, naming --port and the fix', async () => {
    const busy = await listen();
    port = (busy.address() as { port: number }).port;
    try {
      await expect(run(await fakeDaemon('exit 0'), { size: '1Mi' })).rejects.toThrow(new RegExp(`^--port ${port}: cannot listen on 127.0.0.1:${port} .*pick a free --port`));
    } finally {
      await new Promise((ok) => busy.close(ok));
    }
  });

  it('keeps an existing image as it is, and serves qcow2 as qcow2', async () => {
    await writeFile(join(volume, 'disk.img'), Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb]), Buffer.alloc(508)]));
    expect(await run(await fakeDaemon('exit 0'), { size: '1Gi' })).toBe(0);
    expect((await stat(join(volume, 'disk.img'))).size).toBe(512);
    expect(await readFile(join(dir, 'argv'), 'utf8')).toContain('"driver":"qcow2"');
  });

  it('refuses a qcow2 header that names another file, before the daemon could open it', async () => {
    const head = Buffer.alloc(512);
    head.write('QFI\xfb', 0, 'latin1');
    head.writeUInt32BE(3, 4);
    head.writeBigUInt64BE(0x200n, 8); // a backing file, such as the attachment pod's keys.psk
    await writeFile(join(volume, 'disk.img'), head);
    await expect(run(await fakeDaemon('exit 0'), { size: '1Gi' })).rejects.toMatchObject({ reason: 'SourceNotSelfContained', message: expect.stringMatching(/--source .*disk\.img is a qcow2 image that names a backing file/) });
    await expect(stat(join(dir, 'argv'))).rejects.toThrow(); // the daemon never ran
  });

  it('ends in one line with the daemon code and its last message', async () => {
    const code = await run(await fakeDaemon('echo "qemu-storage-daemon: Failed to bind socket: Address already in use" >&2; exit 1'), { size: '1Mi' });
    expect(code).toBe(1);
    expect(lines.at(-1)).toMatch(/fake-qsd exited with code 1: qemu-storage-daemon: Failed to bind socket: Address already in use$/);
  });

  it('names a missing daemon with the package to install', async () => {
    expect(await run(join(dir, 'no-such-daemon'), { size: '1Mi' })).toBe(127);
    expect(lines.at(-1)).toMatch(/not found on PATH; install it \(Debian: apt-get install qemu-system-common\)/);
  });

  it.each<[string, () => Promise<void>, Record<string, string | boolean>, RegExp]>([
    ['no keys.psk', () => rm(join(keys, 'keys.psk')), { size: '1Mi' }, /^--psk-dir .*: cannot read keys\.psk .*mount the VM's Secret key keys\.psk there/],
    ['a keys.psk without our user', () => writeFile(join(keys, 'keys.psk'), 'qemu:00ff\n'), { size: '1Mi' }, /^--psk-dir .*has no "kubevmm:<hex key>" line/],
    ['no image and no --size', async () => undefined, {}, /^--size is required: .*disk\.img does not exist yet/],
    ['no image for a read-only export', async () => undefined, { size: '1Mi', readOnly: true }, /^--read-only: .* cannot create it/],
    ['a source that is a file', () => rm(volume, { recursive: true }).then(() => writeFile(volume, '')), {}, /^--source .* is not a directory: with --mode filesystem/],
  ])('refuses %s before starting anything', async (_name, setup, flags, message) => {
    await setup();
    await expect(run(await fakeDaemon('exit 0'), flags)).rejects.toThrow(message);
    await expect(stat(join(dir, 'argv'))).rejects.toThrow(); // the daemon never ran
  });

  it('keeps TCP probes out of the log, and every other complaint in', () => {
    expect(isProbeNoise('qemu-storage-daemon: option negotiation failed: Failed to read flags: Unexpected end-of-file before all data were read')).toBe(true);
    expect(isProbeNoise('qemu-storage-daemon: option negotiation failed: Failed to read flags: Unable to read from socket: Connection reset by peer')).toBe(true);
    expect(isProbeNoise('qemu-storage-daemon: option negotiation failed: TLS handshake failed: An illegal parameter has been received.')).toBe(false);
  });

  it('createSparseImage leaves no partial file behind', async () => {
    await writeFile(join(volume, 'disk.img.partial'), 'left by a crash');
    await createSparseImage(join(volume, 'disk.img'), 4096);
    expect((await stat(join(volume, 'disk.img'))).size).toBe(4096);
    await expect(stat(join(volume, 'disk.img.partial'))).rejects.toThrow();
  });
});
