import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { QmpExecutor } from '../qmp/index.js';
import { freePort } from './ports.js';
import { PortForwarder, type PortForwarderOptions } from './portforward.js';
import type { VmPhase } from './state.js';

/** How the guest answers on a port. */
type Guest = 'accept' | 'refuse' | 'silent' | 'banner';

/**
 * slirp as the human monitor shows it, on real loopback sockets: `hostfwd_add` listens on the
 * host port, each accepted connection behaves as the guest port says, `info usernet` prints the
 * table in QEMU 7.2's layout. Forwards left in `rules` are what a session left behind.
 */
class FakeSlirp implements QmpExecutor {
  readonly rules = new Map<number, { guestPort: number; server: net.Server }>();
  readonly connections: { hostPort: number; guestPort: number; state: string; socket: net.Socket }[] = [];
  /** Host ports that `hostfwd_add` finds taken. */
  readonly taken = new Set<number>();
  guests: Record<number, Guest> = {};
  /** Every monitor command line, in order. */
  readonly commands: string[] = [];
  /** `hostfwd_add` adds the rule but its answer never comes (the QMP reply times out). */
  addTimesOut = false;
  /** `hostfwd_add` answers with this refusal (not "port taken") without adding anything. */
  addRefusal: string | undefined;
  /** `hostfwd_remove` fails without removing anything. */
  removeFails = false;

  async execute<T>(command: string, args?: object): Promise<T> {
    expect(command).toBe('human-monitor-command');
    const line = (args as { 'command-line': string })['command-line'];
    this.commands.push(line);
    return (await this.hmp(line)) as T;
  }

  private async hmp(line: string): Promise<string> {
    const add = /^hostfwd_add net-default tcp:127\.0\.0\.1:(\d+)-:(\d+)$/.exec(line);
    if (add && this.addRefusal) return `${this.addRefusal}\r\n`;
    if (add) {
      const answer = await this.add(Number(add[1]), Number(add[2]));
      if (this.addTimesOut) throw new Error('QMP command human-monitor-command timed out');
      return answer;
    }
    const remove = /^hostfwd_remove net-default tcp:127\.0\.0\.1:(\d+)$/.exec(line);
    if (remove && this.removeFails) throw new Error('QMP command human-monitor-command timed out');
    if (remove) {
      const rule = this.rules.get(Number(remove[1]));
      if (!rule) return `host forwarding rule for tcp:127.0.0.1:${remove[1]} not found\r\n`;
      this.rules.delete(Number(remove[1]));
      rule.server.close(); // stops listening at once; connections it accepted live on, as in slirp
      return `host forwarding rule for tcp:127.0.0.1:${remove[1]} removed\r\n`;
    }
    if (line === 'info usernet') return this.usernet();
    throw new Error(`unexpected monitor command ${JSON.stringify(line)}`);
  }

  private async add(hostPort: number, guestPort: number): Promise<string> {
    if (this.taken.has(hostPort) || this.rules.has(hostPort)) return `Could not set up host forwarding rule 'tcp:127.0.0.1:${hostPort}-:${guestPort}'\r\n`;
    const server = net.createServer((socket) => this.accepted(socket, hostPort, guestPort));
    server.listen(hostPort, '127.0.0.1');
    await once(server, 'listening');
    this.rules.set(hostPort, { guestPort, server });
    return '';
  }

  private accepted(socket: net.Socket, hostPort: number, guestPort: number): void {
    const guest = this.guests[guestPort] ?? 'refuse';
    if (guest === 'refuse') return void socket.end();
    const connection = { hostPort, guestPort, state: guest === 'accept' ? 'ESTABLISHED' : 'SYN_SENT', socket };
    this.connections.push(connection);
    socket.on('error', () => undefined);
    if (guest === 'banner') socket.write('SSH-2.0-guest\r\n');
    if (guest === 'accept') socket.pipe(socket); // an echo server
  }

  private usernet(): string {
    const row = (state: string, hostPort: number, guestPort: number) => `  TCP[${state}]`.padEnd(21) + `21       127.0.0.1 ${hostPort}       10.0.2.15  ${guestPort}     0     0`;
    return [
      'Hub -1 (net-default):',
      '  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ',
      ...this.connections.filter((c) => !c.socket.destroyed).map((c) => row(c.state, c.hostPort, c.guestPort)),
      ...[...this.rules].map(([hostPort, rule]) => row('HOST_FORWARD', hostPort, rule.guestPort)),
      '',
    ].join('\r\n');
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await Promise.all([...this.rules.values()].map((r) => new Promise((resolve) => r.server.close(resolve))));
  }
}

let slirp: FakeSlirp;
let state: VmPhase;
const opened: net.Socket[] = [];

function forwarder(over: Partial<PortForwarderOptions> = {}): PortForwarder {
  return new PortForwarder({ qmp: () => slirp, state: () => state, netdev: 'net-default', connectTimeoutMs: 500, pollMs: 5, ...over });
}

async function echo(socket: net.Socket, text: string): Promise<string> {
  socket.write(text);
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  return chunk.toString();
}

beforeEach(() => {
  slirp = new FakeSlirp();
  state = 'running';
});
afterEach(async () => {
  for (const s of opened.splice(0)) s.destroy();
  await slirp.close();
});

describe('PortForwarder.open', () => {
  it('connects to a guest port the spec does not list, and leaves no forward behind once connected', async () => {
    slirp.guests = { 7000: 'accept' };
    const pf = forwarder();
    const socket = await pf.open(7000);
    opened.push(socket);
    expect(slirp.rules.size).toBe(0);
    expect(await echo(socket, 'ping')).toBe('ping');
    expect(pf.sessions).toBe(1);
    socket.destroy();
    await once(socket, 'close');
    expect(pf.sessions).toBe(0);
  });

  it('keeps two sessions apart, each on its own loopback port', async () => {
    slirp.guests = { 7000: 'accept', 8080: 'accept' };
    const pf = forwarder();
    const [a, b] = await Promise.all([pf.open(7000), pf.open(8080)]);
    opened.push(a, b);
    expect(new Set(slirp.connections.map((c) => c.hostPort)).size).toBe(2);
    expect(await echo(a, 'to a')).toBe('to a');
    expect(await echo(b, 'to b')).toBe('to b');
    expect(pf.sessions).toBe(2);
  });

  it('takes the guest speaking first as accepted and keeps its first bytes for the session', async () => {
    slirp.guests = { 22: 'banner' };
    const socket = await forwarder().open(22);
    opened.push(socket);
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('SSH-2.0-guest\r\n');
    expect(slirp.rules.size).toBe(0);
  });

  it('tries another loopback port when the first one is taken', async () => {
    slirp.guests = { 7000: 'accept' };
    const ports = [await freePort(), await freePort()];
    slirp.taken.add(ports[0]!);
    const picks = [...ports];
    const socket = await forwarder({ freePort: async () => picks.shift()! }).open(7000);
    opened.push(socket);
    expect(slirp.connections.map((c) => c.hostPort)).toEqual([ports[1]]);
  });

  it('gives up with PortForwardFailed when no port can be had, and reserves none', async () => {
    const port = await freePort();
    slirp.taken.add(port);
    const pf = forwarder({ freePort: async () => port });
    await expect(pf.open(7000)).rejects.toMatchObject({ reason: 'PortForwardFailed', message: expect.stringMatching(/after 5 attempts: Could not set up host forwarding rule/) });
    expect(pf.sessions).toBe(0);
  });

  it('answers GuestPortClosed when nothing listens in the guest, and removes the forward', async () => {
    const pf = forwarder();
    await expect(pf.open(7001)).rejects.toMatchObject({ reason: 'GuestPortClosed', kind: 'unreachable', message: expect.stringMatching(/guest port 7001 \(connection refused\)/) });
    expect(slirp.rules.size).toBe(0);
    expect(pf.sessions).toBe(0);
  });

  it('answers GuestPortTimeout when the guest never answers, and removes the forward', async () => {
    slirp.guests = { 7002: 'silent' };
    const pf = forwarder({ connectTimeoutMs: 100 });
    await expect(pf.open(7002)).rejects.toMatchObject({ reason: 'GuestPortTimeout', kind: 'timeout' });
    expect(slirp.rules.size).toBe(0);
    expect(pf.sessions).toBe(0);
  });

  it('stops waiting when the client gives up, and removes the forward', async () => {
    slirp.guests = { 7002: 'silent' };
    const pf = forwarder({ connectTimeoutMs: 5_000 });
    const client = new AbortController();
    const opening = pf.open(7002, client.signal);
    await sleep(50);
    client.abort(new Error('client went away'));
    await expect(opening).rejects.toThrow('client went away');
    expect(slirp.rules.size).toBe(0);
    expect(pf.sessions).toBe(0);
  });

  it('refuses a VM without an interface, naming the fix', async () => {
    await expect(forwarder({ netdev: undefined }).open(22)).rejects.toMatchObject({ reason: 'NoNetwork', kind: 'conflict', message: expect.stringMatching(/add one to spec\.interfaces/) });
  });

  it.each<VmPhase>(['starting', 'paused', 'stopping', 'succeeded'])('refuses while the VM is %s', async (phase) => {
    state = phase;
    await expect(forwarder().open(22)).rejects.toMatchObject({ reason: 'WrongState', kind: 'conflict', message: `cannot forward a guest port while the vm is ${phase}` });
    expect(slirp.rules.size).toBe(0);
  });

  it('refuses a guest port that is not a port before the monitor sees anything', async () => {
    await expect(forwarder().open(Number('22; quit'))).rejects.toMatchObject({ reason: 'InvalidRequest', kind: 'invalid' });
    await expect(forwarder().open(70000)).rejects.toMatchObject({ reason: 'InvalidRequest' });
    expect(slirp.rules.size).toBe(0);
  });

  it('holds at most maxSessions open', async () => {
    slirp.guests = { 7000: 'accept' };
    const pf = forwarder({ maxSessions: 1 });
    opened.push(await pf.open(7000));
    await expect(pf.open(7000)).rejects.toMatchObject({ reason: 'TooManySessions', kind: 'conflict' });
  });

  it('holds the limit when many sessions are asked for at once: only maxSessions forwards are added', async () => {
    slirp.guests = { 7000: 'accept' };
    const pf = forwarder({ maxSessions: 2 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => pf.open(7000)));
    for (const r of results) if (r.status === 'fulfilled') opened.push(r.value);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.reason)).toEqual(Array(8).fill('TooManySessions'));
    expect(slirp.commands.filter((c) => c.startsWith('hostfwd_add'))).toHaveLength(2);
    expect(pf.sessions).toBe(2);
  });

  it('removes a forward whose hostfwd_add answer never came, since QEMU may have added it', async () => {
    slirp.guests = { 7000: 'accept' };
    slirp.addTimesOut = true;
    const pf = forwarder();
    await expect(pf.open(7000)).rejects.toThrow(/timed out/);
    expect(slirp.commands.filter((c) => c.startsWith('hostfwd_remove'))).toHaveLength(1);
    expect(slirp.rules.size).toBe(0);
    expect(pf.sessions).toBe(0);
  });

  it('removes the forward after any refusal other than "port taken"', async () => {
    slirp.addRefusal = "Invalid host forwarding rule 'tcp:127.0.0.1:1-:7000' (Bad host address)";
    await expect(forwarder().open(7000)).rejects.toMatchObject({ reason: 'PortForwardFailed', message: expect.stringMatching(/QEMU refused/) });
    expect(slirp.commands.filter((c) => c.startsWith('hostfwd_remove'))).toHaveLength(1);
  });

  it('never reuses a loopback port whose forward could not be removed', async () => {
    slirp.guests = { 7000: 'accept' };
    const [stuck, next] = [await freePort(), await freePort()];
    const picks = [stuck, stuck, next];
    const log: string[] = [];
    const pf = forwarder({ freePort: async () => picks.shift()!, log: (line) => log.push(line) });
    slirp.addTimesOut = true;
    slirp.removeFails = true;
    await expect(pf.open(7000)).rejects.toThrow(/timed out/);
    expect(log.join('\n')).toMatch(new RegExp(`127\\.0\\.0\\.1:${stuck} failed, the port stays out of use`));
    slirp.addTimesOut = false;
    slirp.removeFails = false;
    const socket = await pf.open(7000);
    opened.push(socket);
    expect(slirp.commands.filter((c) => c.startsWith('hostfwd_add')).map((c) => Number(/:(\d+)-/.exec(c)![1]))).toEqual([stuck, next]);
    socket.destroy();
    await once(socket, 'close');
    expect(pf.sessions).toBe(0);
  });

  it('frees the port of a session whose forward was removed once the connection closes', async () => {
    slirp.guests = { 7000: 'accept' };
    const port = await freePort();
    const pf = forwarder({ freePort: async () => port });
    const first = await pf.open(7000);
    first.destroy();
    await once(first, 'close');
    const second = await pf.open(7000);
    opened.push(second);
    expect(slirp.commands.filter((c) => c.startsWith('hostfwd_add'))).toEqual([`hostfwd_add net-default tcp:127.0.0.1:${port}-:7000`, `hostfwd_add net-default tcp:127.0.0.1:${port}-:7000`]);
  });
});
