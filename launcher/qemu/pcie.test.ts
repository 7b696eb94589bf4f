import { LauncherInputError, UnsupportedSpecError } from './errors.js';
import { MAX_ROOT_PORTS, pcieTopology, rootPortId, sparePortIds } from './pcie.js';
import { flagValues, parseOpts } from '../../test/fakes/launcher-vm.js';

const ports = (occupied: string[], spare: number) =>
  flagValues(pcieTopology(occupied, spare).args, '-device').map((d) => parseOpts(d));

describe('pcieTopology', () => {
  it.each([
    // index, address, multifunction
    [0, '0x2.0x0', 'on'],
    [1, '0x2.0x1', undefined],
    [7, '0x2.0x7', undefined],
    [8, '0x3.0x0', 'on'],
    [17, '0x4.0x1', undefined],
  ])('port %i sits at %s (multifunction %s)', (index, addr, multifunction) => {
    const port = ports(['a'], index)[index];
    expect(port?.head).toBe('pcie-root-port');
    expect(port?.props).toMatchObject({ bus: 'pcie.0', addr, chassis: String(index + 1) });
    expect(port?.props.multifunction).toBe(multifunction);
  });

  it('occupied ports refuse hotplug, spare ports accept it without reserving I/O space', () => {
    const list = ports(['port-disk-root', 'port-rng'], 2);
    expect(list.map((p) => [p.props.id, p.props.hotplug, p.props['io-reserve']])).toEqual([
      ['port-disk-root', 'off', undefined],
      ['port-rng', 'off', undefined],
      ['hotplug0', 'on', '0'],
      ['hotplug1', 'on', '0'],
    ]);
    expect(pcieTopology([], 2).sparePorts).toEqual(['hotplug0', 'hotplug1']);
  });

  it('gives unique chassis and port numbers', () => {
    const list = ports(['a', 'b', 'c'], 20);
    expect(new Set(list.map((p) => p.props.chassis)).size).toBe(23);
    expect(new Set(list.map((p) => p.props.port)).size).toBe(23);
    expect(new Set(list.map((p) => p.props.addr)).size).toBe(23);
  });

  it('fills pcie.0 up to slot 0x1e and no further', () => {
    expect(ports([], MAX_ROOT_PORTS).at(-1)?.props.addr).toBe('0x1e.0x7');
    expect(() => pcieTopology(['x'], MAX_ROOT_PORTS)).toThrow(UnsupportedSpecError);
  });

  it('rejects a port requested twice', () => {
    expect(() => pcieTopology(['a', 'a'], 0)).toThrow(LauncherInputError);
  });
});

describe('port ids', () => {
  it.each([
    ['disk', 'root', 'port-disk-root'],
    ['rng', undefined, 'port-rng'],
  ])('%s %s -> %s', (kind, name, expected) => {
    expect(rootPortId(kind, name)).toBe(expected);
  });

  it('names spare ports hotplugN', () => {
    expect(sparePortIds(3)).toEqual(['hotplug0', 'hotplug1', 'hotplug2']);
    expect(sparePortIds(0)).toEqual([]);
  });
});
