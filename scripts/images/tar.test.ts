// The writer is read back by GNU tar (an independent reader): owners, modes, long names,
// symlinks and large-ish files must come out as written, and equal entries give equal bytes.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tarStream, type TarEntry } from './tar.js';

const exec = promisify(execFile);

async function collect(entries: TarEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of tarStream(entries)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('tarStream', () => {
  let dir: string;
  let source: string;
  const long = `deep/${'d'.repeat(90)}/${'f'.repeat(80)}.bin`;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubevmm-tar-'));
    source = join(dir, 'src.bin');
    await writeFile(source, Buffer.alloc(70_000, 7));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const entries = (): TarEntry[] => [
    { type: 'dir', path: 'disk', mode: 0o755, uid: 0, gid: 0 },
    { type: 'file', path: 'disk/guest.img', source, mode: 0o440, uid: 107, gid: 107 },
    { type: 'file', path: 'etc/motd', content: Buffer.from('hi\n'), mode: 0o644, uid: 0, gid: 0 },
    { type: 'symlink', path: 'bin/sh', target: 'busybox', uid: 0, gid: 0 },
    { type: 'file', path: long, content: Buffer.from('x'), mode: 0o600, uid: 65532, gid: 65532 },
  ];

  it('is listed by GNU tar with the owners, modes, sizes and link targets given', async () => {
    const archive = join(dir, 'a.tar');
    await writeFile(archive, await collect(entries()));
    const { stdout } = await exec('tar', ['--numeric-owner', '-tvf', archive]);
    const rows = stdout.trim().split('\n').map((l) => l.split(/\s+/));
    expect(rows.map((r) => [r[0], r[1], r[2], r.slice(5).join(' ')])).toEqual([
      ['drwxr-xr-x', '0/0', '0', 'disk/'],
      ['-r--r-----', '107/107', '70000', 'disk/guest.img'],
      ['-rw-r--r--', '0/0', '3', 'etc/motd'],
      ['lrwxrwxrwx', '0/0', '0', 'bin/sh -> busybox'],
      ['-rw-------', '65532/65532', '1', long],
    ]);
    await exec('tar', ['-xf', archive, '-C', dir, long, 'disk/guest.img']);
    expect((await readFile(join(dir, 'disk/guest.img'))).equals(await readFile(source))).toBe(true);
  });

  it('gives the same bytes for the same entries, whenever it runs', async () => {
    expect((await collect(entries())).equals(await collect(entries()))).toBe(true);
  });

  it('refuses paths that would escape the archive root', async () => {
    for (const path of ['../etc/passwd', '/etc/passwd', 'a//b', 'a/./b']) {
      await expect(collect([{ type: 'dir', path, mode: 0o755, uid: 0, gid: 0 }])).rejects.toThrow('must be relative, normalized');
    }
  });
});
