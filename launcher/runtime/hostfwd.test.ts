import { forwardRule, guestAccepted, hostfwdAddCommand, hostfwdAddResult, hostfwdRemoveCommand, hostfwdRemoved, parseUsernet } from './hostfwd.js';

/** `info usernet` as QEMU 7.2 printed it while a session connected to guest port 7000 (recorded). */
const CONNECTING = [
  'Hub -1 (net-default):',
  '  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ',
  '  TCP[SYN_SENT]      22       127.0.0.1 46001       10.0.2.15  7000     0     0',
  '  TCP[HOST_FORWARD]  21       127.0.0.1 46001       10.0.2.15  7000     0     0',
  '',
].join('\r\n');
const ESTABLISHED = CONNECTING.replace('TCP[SYN_SENT]   ', 'TCP[ESTABLISHED]');
/** Two netdevs, a spec forward on all addresses, a UDP row and a closing connection. */
const MIXED = [
  'Hub -1 (net-default):',
  '  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ',
  '  TCP[HOST_FORWARD]  14               * 22         10.0.2.15    22     0     0',
  '  TCP[TIME_WAIT]     22       127.0.0.1 46001       10.0.2.15  7000     0     0',
  '  UDP[236 sec]       17       10.0.2.15 68      10.0.2.2    67     0     0',
  'Hub -1 (net-backend):',
  '  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ',
  '  TCP[ESTABLISHED]   30       127.0.0.1 46001       10.0.2.15  7000     0     0',
  '',
].join('\r\n');

const FORWARD = { netdev: 'net-default', hostPort: 46001, guestPort: 7000 };

describe('hostfwd command lines', () => {
  it('forwards a loopback port to the guest port on the netdev', () => {
    expect(hostfwdAddCommand(FORWARD)).toBe('hostfwd_add net-default tcp:127.0.0.1:46001-:7000');
    expect(hostfwdRemoveCommand(FORWARD)).toBe('hostfwd_remove net-default tcp:127.0.0.1:46001');
  });

  // A port is a number by the time it gets here; these are what a careless caller (or a
  // TypeScript `as`) could still hand over. None may reach the monitor.
  it.each([
    ['a string with a second command', '22 ; quit'],
    ['a string with a quote', '22"'],
    ['a numeric string', '22'],
    ['NaN', Number.NaN],
    ['a fraction', 22.5],
    ['zero', 0],
    ['above 65535', 65536],
    ['negative', -1],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('refuses a guest port that is %s', (_what, port) => {
    expect(() => hostfwdAddCommand({ ...FORWARD, guestPort: port as number })).toThrow(/guest port must be an integer from 1 to 65535/);
  });

  it.each([['net-default x'], ['default'], ['net-'], ['net-A'], ['net-a\nquit'], ['net-a b']])('refuses netdev id %j', (netdev) => {
    expect(() => hostfwdAddCommand({ ...FORWARD, netdev })).toThrow(/not a netdev id/);
    expect(() => hostfwdRemoveCommand({ ...FORWARD, netdev })).toThrow(/not a netdev id/);
  });
});

describe('hostfwd answers (recorded from QEMU 7.2)', () => {
  it('reads an empty answer as added, a taken port as a retry, anything else as a failure', () => {
    expect(hostfwdAddResult('')).toEqual({ added: true });
    expect(hostfwdAddResult("Could not set up host forwarding rule 'tcp:127.0.0.1:45001-:23'\r\n")).toEqual({ added: false, portTaken: true, message: "Could not set up host forwarding rule 'tcp:127.0.0.1:45001-:23'" });
    expect(hostfwdAddResult("unrecognized netdev id 'net-nope'\r\n")).toMatchObject({ added: false, portTaken: false, message: "unrecognized netdev id 'net-nope'" });
  });

  it('tells a removed rule from one that was not there', () => {
    expect(hostfwdRemoved('host forwarding rule for tcp:127.0.0.1:45001 removed\r\n')).toBe(true);
    expect(hostfwdRemoved('host forwarding rule for tcp:127.0.0.1:45001 not found\r\n')).toBe(false);
    expect(hostfwdRemoved("unrecognized netdev id 'net-nope'\r\n")).toBe(false);
  });
});

describe('info usernet', () => {
  it('parses each row under its netdev', () => {
    expect(parseUsernet(CONNECTING)).toEqual([
      { netdev: 'net-default', protocol: 'TCP', state: 'SYN_SENT', sourceAddress: '127.0.0.1', sourcePort: 46001, destinationAddress: '10.0.2.15', destinationPort: 7000 },
      { netdev: 'net-default', protocol: 'TCP', state: 'HOST_FORWARD', sourceAddress: '127.0.0.1', sourcePort: 46001, destinationAddress: '10.0.2.15', destinationPort: 7000 },
    ]);
    expect(parseUsernet(MIXED).map((s) => `${s.netdev} ${s.protocol}[${s.state}] ${s.sourceAddress}:${s.sourcePort}`)).toEqual([
      'net-default TCP[HOST_FORWARD] *:22',
      'net-default TCP[TIME_WAIT] 127.0.0.1:46001',
      'net-backend TCP[ESTABLISHED] 127.0.0.1:46001',
    ]);
    expect(parseUsernet('')).toEqual([]);
  });

  it('sees the guest accept only in an ESTABLISHED row of this forward', () => {
    expect(guestAccepted(parseUsernet(CONNECTING), FORWARD)).toBe(false);
    expect(guestAccepted(parseUsernet(ESTABLISHED), FORWARD)).toBe(true);
    expect(guestAccepted(parseUsernet(ESTABLISHED), { ...FORWARD, guestPort: 7001 })).toBe(false);
    expect(guestAccepted(parseUsernet(ESTABLISHED), { ...FORWARD, hostPort: 46002 })).toBe(false);
    // Another netdev's connection, and this netdev's closing one, are not this session's.
    expect(guestAccepted(parseUsernet(MIXED), FORWARD)).toBe(false);
  });

  it('finds the forward rule while it exists', () => {
    expect(forwardRule(parseUsernet(CONNECTING), FORWARD)).toMatchObject({ state: 'HOST_FORWARD', sourcePort: 46001 });
    expect(forwardRule(parseUsernet(MIXED), FORWARD)).toBeUndefined();
  });
});
