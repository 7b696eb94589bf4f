// The archive is unpacked with GNU tar and every digest is recomputed from the bytes: what an
// importer checks (index -> manifest -> config and layers, diff IDs of the uncompressed layers).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { CONTAINERD_NAME_ANNOTATION, OCI_REF_ANNOTATION, writeEntriesLayer, writeOciArchive } from './oci.js';

const exec = promisify(execFile);
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Descriptor {
  digest: string;
  size: number;
  mediaType: string;
  annotations?: Record<string, string>;
}

describe('writeOciArchive', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubevmm-oci-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes an OCI layout whose digests check out and whose index names the full reference', async () => {
    const layer = await writeEntriesLayer([{ type: 'file', path: 'pause', content: Buffer.from('#!x'), mode: 0o755, uid: 0, gid: 0 }], join(dir, 'blobs'));
    const ref = 'kubevmm.local/pause:3.10.2-0123456789ab';
    const written = await writeOciArchive({ ref, layers: [layer, layer], config: { User: '65535:65535', Entrypoint: ['/pause'] } }, join(dir, 'out/image.oci.tar'));
    const root = join(dir, 'unpacked');
    await exec('mkdir', ['-p', root]);
    await exec('tar', ['-xf', join(dir, 'out/image.oci.tar'), '-C', root]);
    const blob = (d: Descriptor | string) => readFile(join(root, 'blobs/sha256', (typeof d === 'string' ? d : d.digest).slice(7)));

    expect(JSON.parse(await readFile(join(root, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
    expect(index.manifests).toHaveLength(1);
    const [m] = index.manifests;
    expect(m!.annotations).toEqual({ [CONTAINERD_NAME_ANNOTATION]: ref, [OCI_REF_ANNOTATION]: ref });
    const manifestBytes = await blob(m!);
    expect([sha(manifestBytes), manifestBytes.length]).toEqual([m!.digest, m!.size]);
    expect(m!.digest).toBe(written.manifestDigest);

    const manifest = JSON.parse(manifestBytes.toString()) as { config: Descriptor; layers: Descriptor[] };
    const configBytes = await blob(manifest.config);
    expect(sha(configBytes)).toBe(manifest.config.digest);
    const config = JSON.parse(configBytes.toString()) as { config: unknown; rootfs: { diff_ids: string[] }; architecture: string; os: string };
    expect(config).toMatchObject({ architecture: 'amd64', os: 'linux', config: { User: '65535:65535', Entrypoint: ['/pause'] } });
    for (const [i, l] of manifest.layers.entries()) {
      const bytes = await blob(l);
      expect([sha(bytes), bytes.length, l.mediaType]).toEqual([l.digest, l.size, 'application/vnd.oci.image.layer.v1.tar+gzip']);
      expect(sha(gunzipSync(bytes))).toBe(config.rootfs.diff_ids[i]);
    }
  });
});
