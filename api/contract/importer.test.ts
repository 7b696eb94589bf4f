import { importerClientMay, importTask } from './importer.js';

describe('importerClientMay', () => {
  it('lets the operator read progress and the subresource server relay uploads, nothing more', () => {
    expect(importerClientMay('kubevmm-operator', 'get', '/status')).toBe(true);
    expect(importerClientMay('kubevmm-operator', 'PUT', '/upload')).toBe(false);
    expect(importerClientMay('kubevmm-subresources', 'HEAD', '/upload')).toBe(true);
    expect(importerClientMay('kubevmm-subresources', 'PUT', '/upload')).toBe(true);
    expect(importerClientMay('kubevmm-subresources', 'GET', '/status')).toBe(false);
    expect(importerClientMay('kubevmm-subresources', 'POST', '/upload')).toBe(false);
  });

  it('gives nothing to any other name, including inherited object keys', () => {
    expect(importerClientMay('someone', 'GET', '/status')).toBe(false);
    expect(importerClientMay('constructor', 'GET', '/status')).toBe(false);
    expect(importerClientMay('__proto__', 'GET', '/status')).toBe(false);
  });
});

it('importTask keeps a file path to plain absolute segments', () => {
  const t = (path: string) => importTask.safeParse({ source: { kind: 'file', path }, target: { mode: 'Block', capacityBytes: 1 } }).success;
  expect(t('/var/run/kubevmm/import/source/disk.img')).toBe(true);
  expect(t('/var/run/../../etc/shadow')).toBe(false);
  expect(t('relative/disk.img')).toBe(false);
});
