import { LauncherInputError } from './errors.js';
import { MAX_SOCKET_PATH_BYTES, runtimeSockets } from './sockets.js';

const DEVICES = { rng: true, balloon: true, graphics: 'vnc' as const, guestAgent: true };

describe('runtimeSockets', () => {
  it.each([
    ['everything', DEVICES, { qmp: '/r/qmp.sock', serial: '/r/serial.sock', console: '/r/console.sock', serialLog: '/r/serial.log', vnc: '/r/vnc.sock', guestAgent: '/r/qga.sock' }],
    ['no vnc, no agent', { ...DEVICES, graphics: 'none' as const, guestAgent: false }, { qmp: '/r/qmp.sock', serial: '/r/serial.sock', console: '/r/console.sock', serialLog: '/r/serial.log' }],
  ])('%s', (_name, devices, expected) => {
    expect(runtimeSockets('/r/', devices)).toEqual(expected);
  });

  it('refuses a runtime directory too long for a unix socket address', () => {
    // console.sock is the longest socket name
    const dir = `/${'x'.repeat(MAX_SOCKET_PATH_BYTES - '/console.sock'.length - 1)}`;
    expect(runtimeSockets(dir, DEVICES).console).toHaveLength(MAX_SOCKET_PATH_BYTES);
    expect(() => runtimeSockets(`${dir}x`, DEVICES)).toThrow(LauncherInputError);
    expect(() => runtimeSockets(`${dir}x`, DEVICES)).toThrow(/console\.sock is longer than 107 bytes/);
  });
});
