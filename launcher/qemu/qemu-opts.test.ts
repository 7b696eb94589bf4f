import { blockdev, device, escapeOptValue, qemuOpts } from './qemu-opts.js';

describe('qemuOpts', () => {
  it.each([
    ['head only', 'q35', {}, 'q35'],
    ['booleans are on/off', 'tcg', { a: true, b: false }, 'tcg,a=on,b=off'],
    ['numbers as decimal', 'x', { n: 32 }, 'x,n=32'],
    ['undefined is left out', 'x', { a: undefined, b: 'y' }, 'x,b=y'],
    ['empty string is kept (romfile=)', 'nic', { romfile: '' }, 'nic,romfile='],
    ['arrays repeat the key', 'user', { hostfwd: ['tcp::1-:2', 'udp::3-:4'] }, 'user,hostfwd=tcp::1-:2,hostfwd=udp::3-:4'],
    ['commas in values are doubled', 'socket', { path: '/a,b/c' }, 'socket,path=/a,,b/c'],
    ['no head', '', { on: true, x: 1 }, 'on=on,x=1'],
  ])('%s', (_name, head, props, expected) => {
    expect(qemuOpts(head, props)).toBe(expected);
  });

  it('escapes commas in the head too', () => {
    expect(escapeOptValue('a,b,,c')).toBe('a,,b,,,,c');
    expect(qemuOpts('unix:/x,y')).toBe('unix:/x,,y');
  });
});

describe('device and blockdev', () => {
  it('wraps an option in its flag', () => {
    expect(device('pvpanic', { id: 'p' })).toEqual(['-device', 'pvpanic,id=p']);
    expect(blockdev({ driver: 'file', filename: '/a,b' })).toEqual(['-blockdev', '{"driver":"file","filename":"/a,b"}']);
  });
});
