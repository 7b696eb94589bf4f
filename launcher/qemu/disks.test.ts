import type { DiskSpec } from '../../api/schema/vm.js';
import { diskFragment, driveLetters, MAX_SATA_DISKS, SCSI_CONTROLLER } from './disks.js';
import { LauncherInputError, UnsupportedSpecError } from './errors.js';
import { deviceById, flagValues, parseOpts, testVm } from '../../test/fakes/launcher-vm.js';
import type { DiskBacking } from './types.js';

const PVC = { persistentVolumeClaim: { claimName: 'pvc' } };
const CLOUD_INIT = { cloudInit: { userData: '#cloud-config' } };

function plan(disks: DiskSpec[]) {
  const vm = testVm({ disks });
  const backings: Record<string, DiskBacking> = {};
  for (const d of vm.disks) backings[d.name] = { path: `/disks/${d.name}`, format: 'raw', driver: 'file' };
  return diskFragment({ vm, backings });
}

describe('driveLetters', () => {
  it.each([
    [0, 'a'],
    [1, 'b'],
    [25, 'z'],
    [26, 'aa'],
    [27, 'ab'],
    [51, 'az'],
    [52, 'ba'],
    [701, 'zz'],
    [702, 'aaa'],
  ])('%i -> %s', (index, letters) => {
    expect(driveLetters(index)).toBe(letters);
  });
});

describe('diskFragment: front ends', () => {
  it.each([
    ['virtio disk', { name: 'root', ...PVC }, 'virtio-blk-pci', { bus: 'port-disk-root' }, 'vda'],
    ['scsi disk', { name: 'root', bus: 'scsi', ...PVC }, 'scsi-hd', { bus: 'scsi0.0', 'scsi-id': '0', lun: '0' }, 'sda'],
    ['sata disk', { name: 'root', bus: 'sata', ...PVC }, 'ide-hd', { bus: 'ide.0' }, 'sda'],
    ['virtio cloud-init: a read-only disk', { name: 'ci', ...CLOUD_INIT }, 'virtio-blk-pci', { bus: 'port-disk-ci' }, 'vda'],
    ['scsi cloud-init: a CD-ROM', { name: 'ci', bus: 'scsi', ...CLOUD_INIT }, 'scsi-cd', { bus: 'scsi0.0' }, 'sr0'],
    ['sata cloud-init: a CD-ROM', { name: 'ci', bus: 'sata', ...CLOUD_INIT }, 'ide-cd', { bus: 'ide.0' }, 'sr0'],
  ] as const)('%s', (_name, disk, driver, props, target) => {
    const result = plan([disk as DiskSpec]);
    const dev = deviceById(result.args, `disk-${disk.name}`);
    expect(dev?.head).toBe(driver);
    expect(dev?.props).toMatchObject({ ...props, drive: `fmt-${disk.name}`, serial: disk.name, werror: 'stop', rerror: 'stop' });
    expect(result.disks[disk.name]).toMatchObject({ deviceId: `disk-${disk.name}`, nodeName: `fmt-${disk.name}`, target });
  });

  it.each([
    ['none', 'on'],
    ['writeback', 'on'],
    ['writethrough', 'off'],
  ] as const)('cache %s -> write-cache=%s', (cache, writeCache) => {
    const dev = deviceById(plan([{ name: 'root', cache, ...PVC }]).args, 'disk-root');
    expect(dev?.props['write-cache']).toBe(writeCache);
  });

  it('read-only disks have no write cache and read-only nodes', () => {
    const result = plan([{ name: 'os', readOnly: true, ...PVC }]);
    expect(deviceById(result.args, 'disk-os')?.props['write-cache']).toBeUndefined();
    expect(flagValues(result.args, '-blockdev').map((j) => (JSON.parse(j) as { 'read-only': boolean })['read-only'])).toEqual([true, true]);
  });

  it('bootindex follows bootOrder, cloud-init and unordered disks get none', () => {
    const result = plan([{ name: 'b', bootOrder: 2, ...PVC }, { name: 'a', bootOrder: 1, ...PVC }, { name: 'ci', ...CLOUD_INIT }]);
    expect(['b', 'a', 'ci'].map((n) => deviceById(result.args, `disk-${n}`)?.props.bootindex)).toEqual(['2', '1', undefined]);
  });

  it('truncates serials to 20 characters', () => {
    const name = 'a-very-long-disk-name-that-goes-on';
    expect(deviceById(plan([{ name, ...PVC }]).args, `disk-${name}`)?.props.serial).toBe('a-very-long-disk-nam');
  });
});

describe('diskFragment: placement', () => {
  it('names targets by bus in spec order and puts each virtio disk on its port', () => {
    const result = plan([
      { name: 'root', ...PVC },
      { name: 's1', bus: 'scsi', ...PVC },
      { name: 'data', ...PVC },
      { name: 'h1', bus: 'sata', ...PVC },
      { name: 'ci', bus: 'sata', ...CLOUD_INIT },
    ]);
    expect(Object.fromEntries(Object.entries(result.disks).map(([k, v]) => [k, [v.target, v.port]]))).toEqual({
      root: ['vda', 'port-disk-root'],
      s1: ['sda', 'port-scsi'],
      data: ['vdb', 'port-disk-data'],
      h1: ['sdb', undefined],
      ci: ['sr0', undefined],
    });
    expect(result.ports).toEqual(['port-scsi', 'port-disk-root', 'port-disk-data']);
    expect(result.scsiBus).toBe('scsi0.0');
  });

  it('one SCSI controller serves every SCSI disk, each on its own target', () => {
    const result = plan([{ name: 'a', bus: 'scsi', ...PVC }, { name: 'b', bus: 'scsi', ...PVC }]);
    const controllers = flagValues(result.args, '-device').filter((d) => d.startsWith('virtio-scsi-pci'));
    expect(controllers).toEqual([`virtio-scsi-pci,id=${SCSI_CONTROLLER.id},bus=${SCSI_CONTROLLER.port}`]);
    expect(['a', 'b'].map((n) => deviceById(result.args, `disk-${n}`)?.props['scsi-id'])).toEqual(['0', '1']);
  });

  it('hotpluggable disks are left to the launcher, but a SCSI one still brings the controller', () => {
    const result = plan([{ name: 'root', ...PVC }, { name: 'hot', bus: 'scsi', hotpluggable: true, ...PVC }]);
    expect(Object.keys(result.disks)).toEqual(['root']);
    expect(deviceById(result.args, 'disk-hot')).toBeUndefined();
    expect(deviceById(result.args, 'scsi0')).toBeDefined();
    expect(result.scsiBus).toBe('scsi0.0');
  });

  it('without SCSI disks there is no controller', () => {
    const result = plan([{ name: 'root', ...PVC }]);
    expect(deviceById(result.args, 'scsi0')).toBeUndefined();
    expect(result.scsiBus).toBeUndefined();
  });

  it('orders block nodes before the device that uses them', () => {
    const { args } = plan([{ name: 'root', ...PVC }]);
    const kinds = args.filter((a) => a.startsWith('-'));
    expect(kinds).toEqual(['-blockdev', '-blockdev', '-device']);
    expect(parseOpts(args[5] as string).props.drive).toBe((JSON.parse(args[3] as string) as { 'node-name': string })['node-name']);
  });
});

describe('diskFragment: errors', () => {
  it(`more than ${MAX_SATA_DISKS} SATA disks are unsupported`, () => {
    const disks = Array.from({ length: MAX_SATA_DISKS + 1 }, (_, i) => ({ name: `d${i}`, bus: 'sata' as const, ...PVC }));
    expect(() => plan(disks)).toThrow(UnsupportedSpecError);
    expect(() => plan(disks.slice(1))).not.toThrow();
  });

  it('a read-only SATA hard disk is unsupported (ide-hd refuses it)', () => {
    expect(() => plan([{ name: 'ro', bus: 'sata', readOnly: true, ...PVC }])).toThrow(/cannot be read-only/);
  });

  it('a disk without backing is a launcher error', () => {
    const vm = testVm({ disks: [{ name: 'root', ...PVC }] });
    const error = (() => {
      try {
        diskFragment({ vm, backings: {} });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(LauncherInputError);
    expect(error).toMatchObject({ reason: 'MissingInput' });
  });
});
