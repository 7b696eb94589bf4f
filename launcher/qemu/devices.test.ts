import { devicesFragment } from './devices.js';
import { deviceById, flagValues } from '../../test/fakes/launcher-vm.js';

const ALL = { rng: true, balloon: true, graphics: 'none' as const, guestAgent: false };

describe('devicesFragment', () => {
  it.each([
    ['all', ALL, ['port-rng', 'port-balloon'], ['rng', 'balloon', 'pvpanic']],
    ['no rng', { ...ALL, rng: false }, ['port-balloon'], ['balloon', 'pvpanic']],
    ['no balloon', { ...ALL, balloon: false }, ['port-rng'], ['rng', 'pvpanic']],
    ['none: pvpanic stays', { ...ALL, rng: false, balloon: false }, [], ['pvpanic']],
  ])('%s', (_name, devices, ports, ids) => {
    const fragment = devicesFragment(devices);
    expect(fragment.ports).toEqual(ports);
    expect(flagValues(fragment.args, '-device').map((d) => /id=([^,]+)/.exec(d)?.[1])).toEqual(ids);
  });

  it('feeds virtio-rng from urandom and enables free page reporting', () => {
    const { args } = devicesFragment(ALL);
    expect(flagValues(args, '-object')).toEqual(['rng-random,id=rng0,filename=/dev/urandom']);
    expect(deviceById(args, 'rng')?.props).toMatchObject({ rng: 'rng0', bus: 'port-rng' });
    expect(deviceById(args, 'balloon')?.props).toMatchObject({ 'free-page-reporting': 'on', bus: 'port-balloon' });
    expect(deviceById(args, 'pvpanic')?.head).toBe('pvpanic');
  });
});
