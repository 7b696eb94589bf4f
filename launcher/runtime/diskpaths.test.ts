import type { LauncherVm, ResolvedDisk } from '../../api/resolve.js';
import { parseDiskMappings, parseDiskSizes, podDiskLocations, unknownDiskMappings } from './diskpaths.js';

const disk = (name: string, source: ResolvedDisk['source'], spec: Record<string, unknown> = {}, hotpluggable = false) =>
  ({ name, source, hotpluggable, spec: { name, ...spec } }) as ResolvedDisk;
const vm = {
  disks: [
    disk('root', 'persistentVolumeClaim', { persistentVolumeClaim: { claimName: 'r' } }),
    disk('blk', 'persistentVolumeClaim', { persistentVolumeClaim: { claimName: 'b' } }),
    disk('scratch', 'emptyDisk'),
    disk('os', 'containerDisk'),
    disk('ci', 'cloudInit', { cloudInit: { userDataSecretRef: { name: 's' } } }),
    disk('inline', 'cloudInit', { cloudInit: { userData: 'x' } }),
    disk('hot', 'persistentVolumeClaim', { persistentVolumeClaim: { claimName: 'h' } }, true),
  ],
} as LauncherVm;

describe('podDiskLocations', () => {
  it('follows the pod layout: block device when present, else disk.img; Secret dirs for cloud-init', async () => {
    const isBlock = async (path: string) => path === '/dev/kubevmm/blk';
    expect(await podDiskLocations(vm, isBlock)).toEqual({
      paths: {
        root: '/var/run/kubevmm/disks/root/disk.img',
        blk: '/dev/kubevmm/blk',
        scratch: '/var/run/kubevmm/disks/scratch/disk.img',
        os: '/var/run/kubevmm/disks/os/disk.img',
      },
      secretDirs: { ci: '/var/run/kubevmm/cloudinit/ci' },
    });
  });
});

describe('parseDiskSizes', () => {
  it('parses NAME=BYTES', () => {
    expect(parseDiskSizes(['data=1073741824', 'logs=4096'])).toEqual({ data: 2 ** 30, logs: 4096 });
  });

  it.each(['data', 'data=', 'data=1Gi', 'data=0', '=5', 'data=-1', 'data=99999999999999999'])('refuses %s naming the form', (value) => {
    expect(() => parseDiskSizes([value])).toThrow(/--disk-size .*expected NAME=BYTES/);
  });

  it('refuses a disk given twice', () => {
    expect(() => parseDiskSizes(['a=1', 'a=2'])).toThrow(/--disk-size a is given twice/);
  });
});

describe('parseDiskMappings', () => {
  it('parses NAME=PATH into absolute paths', () => {
    expect(parseDiskMappings(['root=./a.qcow2', 'data=/srv/d.img', 'odd=x=y'], '/home/u')).toEqual({
      root: '/home/u/a.qcow2',
      data: '/srv/d.img',
      odd: '/home/u/x=y',
    });
  });
  it.each([['root'], ['=x'], ['root=']])('rejects %s', (value) => {
    expect(() => parseDiskMappings([value])).toThrow(/expected NAME=PATH/);
  });
  it('rejects a disk given twice', () => {
    expect(() => parseDiskMappings(['a=/x', 'a=/y'])).toThrow('--disk a is given twice');
  });
  it('finds mappings that name no disk', () => {
    expect(unknownDiskMappings(vm, { root: '/x', rot: '/y' })).toEqual(['rot']);
  });
});
