import { parse } from 'yaml';
import type { DiskSpec } from '../../api/schema/vm.js';
import { CloudInitError } from './errors.js';
import { instanceId, nocloudFiles } from './nocloud.js';

const VM = { name: 'web-1', namespace: 'team-a' };
const UID = '6f1c1b52-8d8a-4f8e-9c59-1c2f7e0e9a11';
const disk = (cloudInit: DiskSpec['cloudInit']) => ({ name: 'cloudinit', spec: { name: 'cloudinit', cloudInit } });

describe('instanceId', () => {
  it.each([
    ['the uid when known', { ...VM, uid: UID }, UID],
    ['namespace-name otherwise', VM, 'team-a-web-1'],
  ])('is %s', (_name, vm, expected) => {
    expect(instanceId(vm)).toBe(expected);
  });
});

describe('nocloudFiles', () => {
  it('meta-data names the instance and the host', () => {
    const files = nocloudFiles({ ...VM, uid: UID }, disk({ userData: '#cloud-config\n' }));
    expect(parse(files['meta-data'])).toEqual({ 'instance-id': UID, 'local-hostname': 'web-1' });
  });

  it.each([
    ['inline user data only', { userData: '#cloud-config\nhostname: a\n' }, undefined, { 'user-data': '#cloud-config\nhostname: a\n' }],
    [
      'inline user and network data',
      { userData: '#cloud-config\n', networkData: 'version: 2\n' },
      undefined,
      { 'user-data': '#cloud-config\n', 'network-config': 'version: 2\n' },
    ],
    ['empty network data is left out', { userData: 'x', networkData: '' }, undefined, { 'user-data': 'x' }],
    ['data from a secret', { userDataSecretRef: { name: 's' } }, { userData: 'secret', networkData: 'net' }, { 'user-data': 'secret', 'network-config': 'net' }],
    ['secret network data wins', { userDataSecretRef: { name: 's' }, networkData: 'inline' }, { userData: 'u', networkData: 'secret' }, { 'user-data': 'u', 'network-config': 'secret' }],
    ['secret without network data keeps the inline one', { userDataSecretRef: { name: 's' }, networkData: 'inline' }, { userData: 'u' }, { 'user-data': 'u', 'network-config': 'inline' }],
  ])('%s', (_name, cloudInit, secret, expected) => {
    const { 'meta-data': _meta, ...rest } = nocloudFiles(VM, disk(cloudInit), secret);
    expect(rest).toEqual(expected);
  });

  it('refuses a disk that is not a cloudInit disk', () => {
    expect(() => nocloudFiles(VM, { name: 'root', spec: { name: 'root', emptyDisk: { capacity: '1Gi' } } })).toThrow(CloudInitError);
  });
});
