import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseImageSpec, specConfig, specEntries, specImage } from './spec.js';

describe('image specs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubevmm-spec-'));
    await writeFile(join(dir, 'coredns'), 'ELF');
    await chmod(join(dir, 'coredns'), 0o755);
    await mkdir(join(dir, 'conf'));
    await chmod(join(dir, 'conf'), 0o750);
    await writeFile(join(dir, 'conf/Corefile'), '.:53 {}\n');
    await symlink('Corefile', join(dir, 'conf/current'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const spec = () =>
    parseImageSpec(
      {
        name: 'kubevmm.local/coredns',
        version: '1.15.0',
        files: [
          { path: '/usr/bin/coredns', source: join(dir, 'coredns'), uid: 0, gid: 0 },
          { path: '/etc/coredns', source: join(dir, 'conf'), uid: 65532, gid: 65532 },
          { path: '/bin/sh', symlink: 'busybox' },
          { path: '/tmp', directory: true, mode: '1777' },
        ],
        config: { entrypoint: ['/usr/bin/coredns'], cmd: ['-conf', '/etc/coredns/Corefile'], user: '65532:65532', env: { GOMAXPROCS: '1' }, exposedPorts: ['53/udp', '53'] },
      },
      'coredns.json',
    );

  it('lays out the files with their modes and owners, parents added, directories walked, in path order', async () => {
    const entries = await specEntries(spec());
    expect(entries.map((e) => [e.type, e.path, 'mode' in e ? e.mode.toString(8) : '-', `${e.uid}:${e.gid}`])).toEqual([
      ['dir', 'bin', '755', '0:0'],
      ['symlink', 'bin/sh', '-', '0:0'],
      ['dir', 'etc', '755', '0:0'],
      ['dir', 'etc/coredns', '750', '65532:65532'],
      ['file', 'etc/coredns/Corefile', '644', '65532:65532'],
      ['symlink', 'etc/coredns/current', '-', '65532:65532'],
      ['dir', 'tmp', '1777', '0:0'],
      ['dir', 'usr', '755', '0:0'],
      ['dir', 'usr/bin', '755', '0:0'],
      ['file', 'usr/bin/coredns', '755', '0:0'],
    ]);
  });

  it('maps the config to OCI fields (a bare port is TCP)', () => {
    expect(specConfig(spec().config)).toEqual({
      Entrypoint: ['/usr/bin/coredns'],
      Cmd: ['-conf', '/etc/coredns/Corefile'],
      User: '65532:65532',
      Env: ['GOMAXPROCS=1'],
      ExposedPorts: { '53/udp': {}, '53/tcp': {} },
    });
  });

  it('keys the layer by content: same files, same key; a changed byte, a new key', async () => {
    const memo = join(dir, 'memo');
    const first = (await specImage(spec(), memo)).layers[0]!.key;
    expect((await specImage(spec(), memo)).layers[0]!.key).toBe(first);
    await writeFile(join(dir, 'conf/Corefile'), '.:54 {}\n');
    expect((await specImage(spec(), memo)).layers[0]!.key).not.toBe(first);
  });

  it('names every bad field and how to fix it', () => {
    const bad = { name: 'CoreDNS', version: 'latest!', files: [{ path: 'etc/x', source: 'rel', mode: '999' }, { path: '/a/../b', symlink: 'x' }], config: { user: '', surprise: 1 } };
    const message = (() => {
      try {
        parseImageSpec(bad, 'bad.json');
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(message).toContain('bad.json is not a valid image spec');
    for (const field of ['name: must be a lowercase repository with a registry host', 'version: must be a tag', 'files.0', 'files.1', 'config']) expect(message).toContain(field);
  });

  it('refuses a path listed twice and a source that is not there', async () => {
    const twice = parseImageSpec({ name: 'kubevmm.local/x', version: '1', files: [{ path: '/a', directory: true }, { path: '/a', symlink: 'b' }] }, 'x');
    await expect(specEntries(twice)).rejects.toThrow('files: /a appears twice');
    const missing = parseImageSpec({ name: 'kubevmm.local/x', version: '1', files: [{ path: '/a', source: join(dir, 'nope') }] }, 'x');
    await expect(specEntries(missing)).rejects.toThrow(`files: /a: cannot read ${join(dir, 'nope')} (ENOENT)`);
  });
});
