import { UnsupportedSpecError } from './errors.js';
import { hostForwards, MAC_PREFIX, macAddress, networkFragment } from './network.js';
import { deviceById, flagValues, testVm } from '../../test/fakes/launcher-vm.js';

const VM = { name: 'web-1', namespace: 'team-a' };

describe('macAddress', () => {
  it('keeps an explicit MAC (lower-cased)', () => {
    expect(macAddress(VM, { name: 'default', macAddress: '52:54:00:AB:CD:EF' })).toBe('52:54:00:ab:cd:ef');
  });

  it('derives a stable QEMU-range MAC from the identity and interface', () => {
    const mac = macAddress(VM, { name: 'default' });
    expect(mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(mac.startsWith(MAC_PREFIX)).toBe(true);
    expect(macAddress({ ...VM }, { name: 'default' })).toBe(mac);
  });

  it.each([
    ['another interface', VM, 'second'],
    ['another name', { ...VM, name: 'web-2' }, 'default'],
    ['another namespace', { ...VM, namespace: 'team-b' }, 'default'],
    ['a uid', { ...VM, uid: '6f1c1b52-8d8a-4f8e-9c59-1c2f7e0e9a11' }, 'default'],
  ])('differs for %s', (_name, vm, iface) => {
    expect(macAddress(vm, { name: iface })).not.toBe(macAddress(VM, { name: 'default' }));
  });

  it('prefers the uid: a VM recreated under the same name gets a new MAC', () => {
    const uid = '6f1c1b52-8d8a-4f8e-9c59-1c2f7e0e9a11';
    expect(macAddress({ ...VM, uid }, { name: 'default' })).toBe(macAddress({ name: 'x', namespace: 'y', uid }, { name: 'default' }));
  });
});

describe('hostForwards', () => {
  it.each([
    ['same port by default', [{ port: 22, protocol: 'TCP' as const }], {}, ['tcp::22-:22']],
    ['mapped port', [{ port: 22, protocol: 'TCP' as const }], { 'TCP/22': 40022 }, ['tcp::40022-:22']],
    ['udp', [{ port: 53, protocol: 'UDP' as const }], { 'TCP/53': 1 }, ['udp::53-:53']],
    ['none', [], {}, []],
  ])('%s', (_name, ports, hostPorts, expected) => {
    expect(hostForwards({ ports }, hostPorts)).toEqual(expected);
  });
});

describe('networkFragment', () => {
  it('masquerade: a user netdev with forwards and a NIC on its own port, no option ROM', () => {
    const vm = testVm({ interfaces: [{ name: 'default', ports: [{ port: 22 }, { port: 53, protocol: 'UDP' }] }] });
    const { args, ports } = networkFragment({ vm, hostPorts: { 'TCP/22': 40022 } });
    expect(flagValues(args, '-netdev')).toEqual(['user,id=net-default,hostfwd=tcp::40022-:22,hostfwd=udp::53-:53']);
    expect(deviceById(args, 'nic-default')).toEqual({
      head: 'virtio-net-pci',
      props: { id: 'nic-default', bus: 'port-net-default', netdev: 'net-default', mac: macAddress(vm, { name: 'default' }), romfile: '' },
    });
    expect(ports).toEqual(['port-net-default']);
  });

  it('the default interface exists when none is listed', () => {
    expect(networkFragment({ vm: testVm() }).ports).toEqual(['port-net-default']);
  });

  it('e1000e model', () => {
    const vm = testVm({ interfaces: [{ name: 'legacy', model: 'e1000e' }] });
    expect(deviceById(networkFragment({ vm }).args, 'nic-legacy')?.head).toBe('e1000e');
  });

  it('bridge binding is unsupported and says why', () => {
    const vm = testVm({ interfaces: [{ name: 'br', binding: 'bridge' }] });
    expect(() => networkFragment({ vm })).toThrow(UnsupportedSpecError);
    expect(() => networkFragment({ vm })).toThrow(/tap device and CAP_NET_ADMIN/);
  });
});
