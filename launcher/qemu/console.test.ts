import { consoleFragment, GUEST_AGENT_PORT_NAME, VGA_MEMORY_MIB } from './console.js';
import type { LauncherVm } from '../../api/resolve.js';
import { runtimeSockets } from './sockets.js';
import { deviceById, flagValues } from '../../test/fakes/launcher-vm.js';

const DEVICES: LauncherVm['devices'] = { rng: false, balloon: false, graphics: 'vnc', guestAgent: true };
const sockets = (devices = DEVICES) => runtimeSockets('/run', devices);

describe('consoleFragment', () => {
  it('serial console on a socket chardev with no logfile of its own (the launcher keeps a bounded one)', () => {
    const { args } = consoleFragment({ ...DEVICES, graphics: 'none', guestAgent: false }, sockets());
    expect(args).toEqual([
      '-chardev',
      'socket,id=serial0,path=/run/serial.sock,server=on,wait=off',
      '-device',
      'isa-serial,id=console,chardev=serial0',
    ]);
  });

  it('vnc: unix socket and a VGA card on pcie.0', () => {
    const { args, ports } = consoleFragment({ ...DEVICES, guestAgent: false }, sockets());
    expect(flagValues(args, '-vnc')).toEqual(['unix:/run/vnc.sock,share=ignore']);
    expect(deviceById(args, 'video0')).toEqual({ head: 'VGA', props: { id: 'video0', bus: 'pcie.0', addr: '0x1', vgamem_mb: String(VGA_MEMORY_MIB) } });
    expect(ports).toEqual([]);
  });

  it('guest agent: virtio-serial on its port with the named channel on a socket', () => {
    const { args, ports } = consoleFragment({ ...DEVICES, graphics: 'none' }, sockets());
    expect(ports).toEqual(['port-serial']);
    expect(flagValues(args, '-chardev')).toContain('socket,id=qga0,path=/run/qga.sock,server=on,wait=off');
    expect(deviceById(args, 'vserial')?.props.bus).toBe('port-serial');
    expect(deviceById(args, 'qga')?.props).toMatchObject({ bus: 'vserial.0', chardev: 'qga0', name: GUEST_AGENT_PORT_NAME });
  });

  it.each([
    ['vnc and agent', DEVICES, ['console', 'video0', 'vserial', 'qga']],
    ['neither', { ...DEVICES, graphics: 'none' as const, guestAgent: false }, ['console']],
  ])('%s', (_name, devices, ids) => {
    const { args } = consoleFragment(devices, sockets(devices));
    expect(flagValues(args, '-device').map((d) => /id=([^,]+)/.exec(d)?.[1])).toEqual(ids);
  });
});
