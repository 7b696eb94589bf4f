import { allocate, deviceIds, deviceList, isKnownResource, preferredAllocation, resourceSpec, UnknownDeviceError } from './catalog.js';

describe('resource catalog', () => {
  it('names resources in the devices.kubevmm.io domain with one socket each', () => {
    expect(resourceSpec('vhost-net')).toEqual({
      short: 'vhost-net',
      resourceName: 'devices.kubevmm.io/vhost-net',
      devicePath: '/dev/vhost-net',
      endpoint: 'kubevmm-vhost-net.sock',
    });
    expect(resourceSpec('tun').devicePath).toBe('/dev/net/tun');
    expect(isKnownResource('kvm')).toBe(true);
    expect(isKnownResource('toString')).toBe(false);
  });

  it('advertises N identical devices with one health', () => {
    expect(deviceIds('kvm', 3)).toEqual(['kvm-0', 'kvm-1', 'kvm-2']);
    expect(deviceList(deviceIds('tun', 2), 'Unhealthy')).toEqual([
      { ID: 'tun-0', health: 'Unhealthy' },
      { ID: 'tun-1', health: 'Unhealthy' },
    ]);
    expect(deviceIds('kvm', 110)).toHaveLength(110);
  });

  it('allocates one device spec per container and refuses unknown IDs', () => {
    const kvm = resourceSpec('kvm');
    const known = new Set(deviceIds('kvm', 2));
    expect(allocate(kvm, known, { container_requests: [{ devices_ids: ['kvm-0', 'kvm-1'] }] })).toEqual({
      container_responses: [{ devices: [{ container_path: '/dev/kvm', host_path: '/dev/kvm', permissions: 'rw' }] }],
    });
    expect(() => allocate(kvm, known, { container_requests: [{ devices_ids: ['kvm-0'] }, { devices_ids: ['kvm-9', 'gpu-0'] }] })).toThrow(
      new UnknownDeviceError(['kvm-9', 'gpu-0'], kvm),
    );
    expect(() => allocate(kvm, known, { container_requests: [{ devices_ids: ['kvm-9'] }] })).toThrow(
      'devices.kubevmm.io/kvm: unknown device IDs kvm-9: this plugin advertises kvm-0, kvm-1, ...',
    );
  });

  it('prefers the required devices, then the first available, up to the size asked', () => {
    const request = (available: string[], must: string[], size: number) => ({
      container_requests: [{ available_deviceIDs: available, must_include_deviceIDs: must, allocation_size: size }],
    });
    expect(preferredAllocation(request(['kvm-0', 'kvm-1', 'kvm-2'], ['kvm-2'], 2))).toEqual({ container_responses: [{ deviceIDs: ['kvm-2', 'kvm-0'] }] });
    expect(preferredAllocation(request(['kvm-0', 'kvm-1'], [], 1))).toEqual({ container_responses: [{ deviceIDs: ['kvm-0'] }] });
  });
});
