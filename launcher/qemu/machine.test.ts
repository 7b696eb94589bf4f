import { accelFragment, machineFragment, TCG_TB_SIZE_MIB } from './machine.js';
import { flagValues } from '../../test/fakes/launcher-vm.js';

describe('machineFragment', () => {
  it.each([
    ['plain', {}, 'q35,usb=off,vmport=off,dump-guest-core=off'],
    ['hugepages backend', { memoryBackend: 'mem0' }, 'q35,usb=off,vmport=off,dump-guest-core=off,memory-backend=mem0'],
    [
      'efi flash',
      { pflash: { code: 'fw-code', vars: 'fw-vars' } },
      'q35,usb=off,vmport=off,dump-guest-core=off,pflash0=fw-code,pflash1=fw-vars',
    ],
  ])('%s', (_name, options, expected) => {
    expect(flagValues(machineFragment(options).args, '-machine')).toEqual([expected]);
  });

  it('disables S3/S4, boots strictly by bootindex, keeps the clock in UTC', () => {
    const { args } = machineFragment();
    expect(flagValues(args, '-global')).toEqual(['ICH9-LPC.disable_s3=1', 'ICH9-LPC.disable_s4=1']);
    expect(flagValues(args, '-boot')).toEqual(['strict=on']);
    expect(flagValues(args, '-rtc')).toEqual(['base=utc']);
  });
});

describe('accelFragment', () => {
  it.each([
    ['kvm', ['-accel', 'kvm']],
    ['tcg', ['-accel', `tcg,tb-size=${TCG_TB_SIZE_MIB},thread=multi`]],
  ] as const)('%s', (accel, expected) => {
    expect(accelFragment(accel).args).toEqual(expected);
  });

  it('keeps the translation cache the pod renderer budgets for', () => {
    expect(TCG_TB_SIZE_MIB).toBe(32);
  });
});
