import { hostKeyAlias, splitSshArgs, splitUserHost, sshArgv } from './ssh-args.js';

describe('ssh arguments', () => {
  it('splits USER@NAME', () => {
    expect(splitUserHost('root@web')).toEqual({ user: 'root', name: 'web' });
    expect(splitUserHost('web')).toEqual({ name: 'web' });
    expect(splitUserHost('a@b@web')).toEqual({ user: 'a@b', name: 'web' });
  });

  it("separates ssh's options (with their values) from the remote command", () => {
    expect(splitSshArgs(['-i', 'key', '-v', '-oBatchMode=yes', 'uname', '-a'])).toEqual({ options: ['-i', 'key', '-v', '-oBatchMode=yes'], command: ['uname', '-a'], guestPort: 22 });
    // A value that looks like a command or an option stays the option's value.
    expect(splitSshArgs(['-l', 'ls', '-o', '-x'])).toEqual({ options: ['-l', 'ls', '-o', '-x'], command: [], guestPort: 22 });
    expect(splitSshArgs(['--', '-weird-command'])).toEqual({ options: [], command: ['-weird-command'], guestPort: 22 });
  });

  it('takes -p as the guest port, alone, joined or after other flags', () => {
    expect(splitSshArgs(['-p', '2222', 'id'])).toEqual({ options: [], command: ['id'], guestPort: 2222 });
    expect(splitSshArgs(['-p2200'])).toMatchObject({ options: [], guestPort: 2200 });
    expect(splitSshArgs(['-4p', '2022', '-v'])).toMatchObject({ options: ['-4', '-v'], guestPort: 2022 });
    expect(() => splitSshArgs(['-p', 'ssh'])).toThrow('ssh -p takes the guest\'s port, 1-65535; got "ssh"');
    expect(() => splitSshArgs(['-i'])).toThrow('ssh option -i needs a value');
  });

  it('points ssh at the local end with the VM as its known_hosts name, and no proxy from ~/.ssh/config', () => {
    const argv = sshArgv({ namespace: 'team-a', name: 'web', user: 'debian', localPort: 40123, options: ['-i', 'key'], command: ['uptime'] });
    expect(argv).toEqual(['-p', '40123', '-o', 'HostKeyAlias=vm/team-a/web', '-o', 'CheckHostIP=no', '-o', 'ProxyCommand=none', '-o', 'ProxyJump=none', '-l', 'debian', '-i', 'key', '127.0.0.1', 'uptime']);
    expect(hostKeyAlias('ns', 'vm')).toBe('vm/ns/vm');
  });
});
