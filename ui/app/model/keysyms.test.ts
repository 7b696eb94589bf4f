import { keysymsOf } from './keysyms.js';
import { accessOf, describeRight, RIGHTS } from './access.js';

describe('paste as keystrokes', () => {
  it('types ASCII as itself, newline (CRLF too) as Return, tab as Tab', () => {
    expect(keysymsOf('ls -l\r\n\t')).toEqual([0x6c, 0x73, 0x20, 0x2d, 0x6c, 0xff0d, 0xff09]);
  });
  it('types Latin-1 as itself and other characters as Unicode keysyms; drops control characters', () => {
    expect(keysymsOf('é€\u0001')).toEqual([0xe9, 0x01000000 + 0x20ac]);
  });
});

describe('rights', () => {
  it('names the right and the namespace in the reason an action is disabled', () => {
    expect(accessOf(RIGHTS.patch, 'team-a', { allowed: false })).toEqual({ allowed: false, reason: 'you may not patch virtualmachines in namespace team-a' });
    expect(describeRight(RIGHTS.console)).toBe('get virtualmachines/console (subresources.kubevmm.io)');
    expect(accessOf(RIGHTS.console, 'a', { allowed: true })).toEqual({ allowed: true });
  });
});
