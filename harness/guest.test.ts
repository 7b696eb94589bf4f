import { loginPrompt } from './guest.js';

describe('loginPrompt', () => {
  it('matches the prompt on a clean line', () => {
    expect('Debian GNU/Linux 12 deb ttyS0\r\n\r\ndeb login: ').toMatch(loginPrompt('deb'));
  });

  it('matches the prompt when cloud-init wrote between the hostname and login (seen in CI)', () => {
    const console = [
      'Debian GNU/Linux 12 kubevmm-deb ttyS0',
      '',
      "kubevmm-deb[   44.369700] cloud-init[344]: Cloud-init v. 22.4.2 running 'modules:config' at Sun, 06 Dec 2026 00:10:57 +0000.",
      " login: [   50.107218] cloud-init[350]: Cloud-init v. 22.4.2 running 'modules:final'",
    ].join('\r\n');
    expect(console).toMatch(loginPrompt('kubevmm-deb'));
  });

  it('does not match another host, a hostname inside a line, or no prompt at all', () => {
    expect('other login: ').not.toMatch(loginPrompt('deb'));
    expect('[ 1.0] deb login: ').not.toMatch(loginPrompt('deb'));
    expect('deb[ 3.1] systemd[1]: Started getty\r\n').not.toMatch(loginPrompt('deb'));
  });

  it('treats dots in the hostname literally', () => {
    expect('debxe login: ').not.toMatch(loginPrompt('deb.e'));
    expect('deb.e login: ').toMatch(loginPrompt('deb.e'));
  });
});
