import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testServing } from '../harness/pki.js';
import { writeSecretVolume } from '../test/fakes/secret-volume.js';
import { PemFilesError, readPemFiles, watchPemFiles, type PemFileContents } from './pem-files.js';

let dir: string;
let a: { certPem: string; keyPem: string };
let b: { certPem: string; keyPem: string };

beforeAll(async () => {
  [a, b] = await Promise.all([testServing(['a.example']), testServing(['b.example'])]);
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pem-files-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const secretVolume = (version: string, pair: { certPem: string; keyPem: string }) => writeSecretVolume(dir, version, { 'tls.crt': pair.certPem, 'tls.key': pair.keyPem });

const files = () => ({ paths: { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') }, pair: { cert: 'cert', key: 'key' } as const, what: '--tls-cert/--tls-key' });

describe('readPemFiles', () => {
  it('reads the set, and names the file that is missing', async () => {
    await expect(readPemFiles(files())).rejects.toThrow(new PemFilesError(`--tls-cert/--tls-key: ${join(dir, 'tls.crt')} does not exist`));
    await secretVolume('v1', a);
    await expect(readPemFiles(files())).resolves.toEqual({ cert: a.certPem, key: a.keyPem });
  });

  it('refuses a certificate with another key (a half-updated pair)', async () => {
    await writeFile(join(dir, 'tls.crt'), a.certPem);
    await writeFile(join(dir, 'tls.key'), b.keyPem);
    await expect(readPemFiles(files())).rejects.toThrow(/tls\.key is not the key of .*tls\.crt/);
    await writeFile(join(dir, 'tls.key'), 'garbage');
    await expect(readPemFiles(files())).rejects.toThrow(/cannot be read as PEM/);
  });
});

describe('watchPemFiles', () => {
  it('reports a swapped Secret volume, and keeps the set in force while the files are unusable', async () => {
    await secretVolume('v1', a);
    const seen: PemFileContents<'cert' | 'key'>[] = [];
    const errors: unknown[] = [];
    const stop = watchPemFiles({ ...files(), current: await readPemFiles(files()), onChange: (n) => seen.push(n), onError: (e) => errors.push(e), pollMs: 50, settleMs: 10 });
    try {
      await secretVolume('v2', b);
      await waitFor(() => seen.length === 1);
      expect(seen[0]).toEqual({ cert: b.certPem, key: b.keyPem });
      await writeFile(join(dir, '..v2', 'tls.key'), a.keyPem); // mismatched: not taken
      await waitFor(() => errors.length > 0);
      expect(seen).toHaveLength(1);
    } finally {
      stop();
    }
  });

  it('reports the first good read when there was none at the start', async () => {
    const seen: unknown[] = [];
    const stop = watchPemFiles({ ...files(), current: undefined, onChange: (n) => seen.push(n), pollMs: 50 });
    try {
      await secretVolume('v1', a);
      await waitFor(() => seen.length === 1);
    } finally {
      stop();
    }
  });
});

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
