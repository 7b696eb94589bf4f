import { validateDocuments, validateImage } from '../validate.js';

const image = (spec: Record<string, unknown>, name = 'debian-12') => ({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineImage', metadata: { name, namespace: 'team-a' }, spec });
const paths = (raw: unknown) => validateImage(raw).issues.map((i) => `${i.path}: ${i.message}`);

describe('VirtualMachineImage validation', () => {
  it('admits each of the four sources, with and without storage', () => {
    for (const source of [
      { http: { url: 'https://images.example/debian-12.qcow2.xz', sha256: 'a'.repeat(64) } },
      { registry: { image: 'registry.example/os/debian:12', path: '/disk' } },
      { upload: {} },
      { pvc: { name: 'golden', namespace: 'golden-images' } },
    ]) {
      expect(paths(image({ source, storage: { size: '20Gi', volumeMode: 'Block', accessModes: ['ReadWriteOnce'] } }))).toEqual([]);
      expect(paths(image({ source }))).toEqual([]);
    }
  });

  it('refuses no source, and two sources, naming the field', () => {
    expect(paths(image({ source: {} }))).toEqual(['spec.source: set exactly one source: http, registry, upload, pvc']);
    expect(paths(image({ source: { upload: {}, http: { url: 'https://x.example/a.img' } } }))).toEqual(['spec.source: set exactly one source: http, registry, upload, pvc (got http and upload)']);
  });

  it('refuses a URL with credentials, a non-http scheme, and a checksum that is not sha256 hex', () => {
    expect(paths(image({ source: { http: { url: 'https://user:secret@images.example/a.qcow2' } } }))[0]).toMatch(/^spec\.source\.http\.url: must be an http:\/\/ or https:\/\/ URL with a host and no user:password@/);
    expect(paths(image({ source: { http: { url: 'file:///etc/shadow' } } }))[0]).toMatch(/^spec\.source\.http\.url: /);
    expect(paths(image({ source: { http: { url: 'https://x.example/a.img', sha256: 'ABC' } } }))).toEqual(['spec.source.http.sha256: must be 64 lower-case hex digits (the output of sha256sum)']);
  });

  it('refuses a typo with the field named, and a name longer than 57 characters', () => {
    expect(paths(image({ source: { upload: {} }, storage: { sise: '1Gi' } }))[0]).toMatch(/^spec\.storage\.sise: unknown field "sise"/);
    expect(paths(image({ source: { upload: {} } }, 'a'.repeat(58)))[0]).toMatch(/^metadata\.name: /);
  });

  it('refuses a claim below 1Mi, and copying its own claim', () => {
    expect(paths(image({ source: { upload: {} }, storage: { size: '100Ki' } }))).toEqual(['spec.storage.size: 100Ki is too small for a disk image; give at least 1Mi, or leave it out to size the claim from the image']);
    expect(paths(image({ source: { pvc: { name: 'debian-12-image' } } }))).toEqual([`spec.source.pvc.name: "debian-12-image" is this image's own claim (the operator writes the import there); name the claim to copy from`]);
    // the same name in another namespace is another claim
    expect(paths(image({ source: { pvc: { name: 'debian-12-image', namespace: 'golden' } } }))).toEqual([]);
  });

  it('is a kind `kubevmm validate` knows beside VMs and classes', () => {
    const [result] = validateDocuments([image({ source: { upload: {} } })]);
    expect(result).toMatchObject({ object: 'VirtualMachineImage team-a/debian-12', issues: [] });
    expect(result?.value).toBeDefined();
  });
});

describe('examples/image.yaml', () => {
  it('is valid as written', async () => {
    const { readFile } = await import('node:fs/promises');
    const { parseAllDocuments } = await import('yaml');
    const docs = parseAllDocuments(await readFile('examples/image.yaml', 'utf8')).map((d) => d.toJS() as unknown);
    expect(validateDocuments(docs).map((r) => [r.object, r.issues])).toEqual([
      ['VirtualMachineImage default/debian-12', []],
      ['VirtualMachineImage default/appliance', []],
    ]);
  });
});
