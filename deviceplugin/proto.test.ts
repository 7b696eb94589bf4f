import { loadDevicePluginApi } from './proto.js';

describe('device plugin API', () => {
  it('uses the kubelet wire names: package v1beta1, Registration and DevicePlugin with their methods', () => {
    const api = loadDevicePluginApi();
    const paths = (service: typeof api.Registration.service) =>
      Object.values(service).map((m) => [m.path, m.requestStream, m.responseStream]);
    expect(paths(api.Registration.service)).toEqual([['/v1beta1.Registration/Register', false, false]]);
    expect(paths(api.DevicePlugin.service)).toEqual([
      ['/v1beta1.DevicePlugin/GetDevicePluginOptions', false, false],
      ['/v1beta1.DevicePlugin/ListAndWatch', false, true],
      ['/v1beta1.DevicePlugin/GetPreferredAllocation', false, false],
      ['/v1beta1.DevicePlugin/Allocate', false, false],
      ['/v1beta1.DevicePlugin/PreStartContainer', false, false],
    ]);
  });

  it('encodes Register and DeviceSpec with the kubelet field numbers', () => {
    const api = loadDevicePluginApi();
    const register = api.Registration.service.Register;
    if (!register) throw new Error('no Register method');
    const bytes = register.requestSerialize({ version: 'v1beta1', endpoint: 'e.sock', resource_name: 'a/b' });
    // field 1 "v1beta1", field 2 "e.sock", field 3 "a/b" (tag = field << 3 | 2 for strings)
    expect([...bytes]).toEqual([0x0a, 7, ...Buffer.from('v1beta1'), 0x12, 6, ...Buffer.from('e.sock'), 0x1a, 3, ...Buffer.from('a/b')]);
    const allocate = api.DevicePlugin.service.Allocate;
    if (!allocate) throw new Error('no Allocate method');
    const response = allocate.responseSerialize({
      container_responses: [{ devices: [{ container_path: '/c', host_path: '/h', permissions: 'rw' }] }],
    });
    // AllocateResponse.container_responses = 1 > ContainerAllocateResponse.devices = 3 > DeviceSpec 1, 2, 3
    const spec = [0x0a, 2, ...Buffer.from('/c'), 0x12, 2, ...Buffer.from('/h'), 0x1a, 2, ...Buffer.from('rw')];
    expect([...response]).toEqual([0x0a, spec.length + 2, 0x1a, spec.length, ...spec]);
  });
});
