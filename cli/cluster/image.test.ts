import type { CommanderError } from 'commander';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { validateDocuments } from '../../api/validate.js';
import { EXIT } from '../exit.js';
import { addClusterVerbs, type VerbRequest } from './args.js';
import { DEFAULT_UPLOAD_TIMEOUT_S, type ImageImportRequest } from './image-args.js';
import { importManifest, runImageImport, uploadManifest } from './image.js';
import { failureOf, imageStateLine } from './image-wait.js';
import { formatDuration, formatSize, progressLine, UploadProgress } from './upload-progress.js';

async function parse(...args: string[]): Promise<{ request?: VerbRequest; error?: CommanderError; stderr: string }> {
  let request: VerbRequest | undefined;
  let stderr = '';
  const program = new Command('kubevmm').exitOverride().configureOutput({ writeErr: (s) => (stderr += s), writeOut: () => undefined });
  addClusterVerbs(program, async (r) => void (request = r));
  try {
    await program.parseAsync(['node', 'kubevmm', ...args]);
    return { ...(request ? { request } : {}), stderr };
  } catch (err) {
    return { error: err as CommanderError, stderr };
  }
}

function output() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } }, out, err };
}

const noCluster = () => Promise.reject(new Error('printing needs no cluster'));

describe('kubevmm image import', () => {
  it('parses its flags and kubectl’s', async () => {
    expect((await parse('image', 'import', 'debian-12', '--url', 'https://images.example/d.qcow2', '--sha256', 'a'.repeat(64), '--size', '20Gi', '-n', 'team-a', '--apply')).request).toEqual({
      verb: 'image-import', name: 'debian-12', url: 'https://images.example/d.qcow2', sha256: 'a'.repeat(64), size: '20Gi', namespace: 'team-a', apply: true,
    });
    const noUrl = await parse('image', 'import', 'debian-12');
    expect(noUrl.stderr).toMatch(/required option '--url <url>' not specified/);
    expect((await parse('image', 'import', 'x', '--url', 'https://a.example/b', '--size', 'big')).stderr).toMatch(/--size takes a quantity such as 20Gi/);
  });

  it('prints a manifest that kubevmm validate takes, and needs no cluster for it', async () => {
    const request: ImageImportRequest = { verb: 'image-import', name: 'debian-12', url: 'https://images.example/debian-12.qcow2.xz', sha256: 'b'.repeat(64), size: '20Gi', storageClass: 'fast', apply: false, namespace: 'team-a' };
    const { io, out } = output();
    expect(await runImageImport(request, noCluster, io)).toBe(EXIT.ok);
    const printed = parseYaml(out.join(''));
    expect(printed).toEqual({
      apiVersion: 'kubevmm.io/v1alpha1',
      kind: 'VirtualMachineImage',
      metadata: { name: 'debian-12', namespace: 'team-a' },
      spec: { source: { http: { url: 'https://images.example/debian-12.qcow2.xz', sha256: 'b'.repeat(64) } }, storage: { size: '20Gi', storageClassName: 'fast' } },
    });
    expect(validateDocuments([printed])[0]?.issues).toEqual([]);
    expect(importManifest({ ...request, sha256: undefined, size: undefined, storageClass: undefined } as unknown as ImageImportRequest).spec).toEqual({ source: { http: { url: request.url } } });
  });

  it('refuses flags that make an invalid image as a usage error naming the flag, before any cluster is asked', async () => {
    const bad: ImageImportRequest = { verb: 'image-import', name: 'debian-12', url: 'ftp://images.example/d.img', sha256: 'XYZ', apply: true };
    await expect(runImageImport(bad, noCluster, output().io)).rejects.toMatchObject({
      exitCode: EXIT.usage,
      message: expect.stringMatching(/these flags make an invalid VirtualMachineImage:\n {2}--url: .*spec\.source\.http\.url: must be an http:\/\/ or https:\/\/ URL[\s\S]*\n {2}--sha256: .*must be 64 lower-case hex digits/),
    });
  });
});

describe('kubevmm image upload', () => {
  it('parses its flags: resumable by default waits for Ready, --no-wait and --timeout', async () => {
    expect((await parse('image', 'upload', 'debian-12', '--file', 'd.qcow2', '--create', '--size', '10Gi')).request).toEqual({
      verb: 'image-upload', name: 'debian-12', file: 'd.qcow2', size: '10Gi', create: true, wait: true, timeout: DEFAULT_UPLOAD_TIMEOUT_S,
    });
    expect((await parse('image', 'upload', 'x', '--file', 'f', '--no-wait', '--timeout', '30')).request).toMatchObject({ create: false, wait: false, timeout: 30 });
    expect((await parse('image', 'upload', 'x')).stderr).toMatch(/required option '--file <path>'/);
  });

  it('creates an image with an upload source and the claim size asked', () => {
    const manifest = uploadManifest('debian-12', 'team-a', '10307Mi', 'fast');
    expect(manifest.spec).toEqual({ source: { upload: {} }, storage: { size: '10307Mi', storageClassName: 'fast' } });
    expect(validateDocuments([manifest])[0]?.issues).toEqual([]);
  });

  it('shows bytes, rate and time left; in a log one line per tenth', () => {
    expect(formatSize(1536)).toBe('1.5 KiB');
    expect(formatSize(3 * 2 ** 30)).toBe('3.0 GiB');
    expect([formatDuration(9), formatDuration(247), formatDuration(3909), formatDuration(undefined)]).toEqual(['0:09', '4:07', '1:05:09', '--:--']);
    expect(progressLine('vmimage/d', 2 ** 30, 4 * 2 ** 30, 100 * 2 ** 20)).toBe('vmimage/d [######------------------] 25% 1.0 GiB / 4.0 GiB 100.0 MiB/s ETA 0:31');
    let clock = 0;
    const lines: string[] = [];
    const bar = new UploadProgress({ write: (s: string) => lines.push(s) }, 'vmimage/d', 1000, () => clock);
    for (let bytes = 0; bytes <= 1000; bytes += 50) {
      clock += 500;
      bar.update(bytes);
    }
    expect(lines).toHaveLength(11);
    expect(lines.at(-1)).toBe('vmimage/d [########################] 100% 1000 B / 1000 B 100 B/s ETA 0:00\n');
  });

  it('shows a rate for a transfer shorter than the window, and ETA 0:00 once all arrived', () => {
    let clock = 0;
    const lines: string[] = [];
    const bar = new UploadProgress({ write: (s: string) => lines.push(s) }, 'vmimage/d', 2 ** 20, () => clock);
    bar.update(0);
    clock = 200;
    bar.update(2 ** 19);
    expect(bar.rate()).toBe(2.5 * 2 ** 20);
    clock = 400;
    bar.update(2 ** 20);
    expect(lines.at(-1)).toBe('vmimage/d [########################] 100% 1.0 MiB / 1.0 MiB 2.5 MiB/s ETA 0:00\n');
  });

  it('says how the import goes after the upload, and why it failed', () => {
    expect(imageStateLine('d', { metadata: { name: 'd' }, status: { phase: 'Importing', progress: '42%' } })).toBe('vmimage/d: Importing 42%');
    expect(imageStateLine('d', { metadata: { name: 'd' } })).toBe('vmimage/d: Pending');
    expect(failureOf({ metadata: { name: 'd' }, status: { phase: 'Failed', conditions: [{ type: 'Failure', status: 'True', reason: 'NotADiskImage', message: 'the file is a PDF document' }] } })).toBe('NotADiskImage: the file is a PDF document');
  });
});

describe('kubevmm create vm --image --size', () => {
  it('takes --size with --image only', async () => {
    expect((await parse('create', 'vm', 'web', '--image', 'debian-12', '--size', '30Gi')).request).toMatchObject({ verb: 'create-vm', source: { image: 'debian-12' }, size: '30Gi' });
    expect((await parse('create', 'vm', 'web', '--claim', 'root', '--size', '30Gi')).stderr).toMatch(/--size sizes the disk made from --image/);
  });
});
