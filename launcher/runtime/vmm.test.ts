// The supervisor against a fake QEMU (a process stand-in plus the scripted QMP server), for
// the paths a real guest cannot be made to take on demand: I/O errors, a QEMU that ignores
// quit and SIGTERM, a failed start, the guest-agent stop. test/launcher covers real QEMU.

import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LauncherVm } from '../../api/resolve.js';
import { FakeQmpServer, type FakeQmpConnection, type ReceivedCommand } from '../../test/fakes/qmp-server.js';
import type { QemuPlan } from '../qemu/index.js';
import { startFakeAgent } from '../../test/fakes/guest-agent.js';
import type { QemuExit, QemuProcessLike } from './process.js';
import { VmSupervisor, type SupervisorOptions } from './vmm.js';

/** Stands in for the QEMU child: exits when told to, or on signals it does not ignore. */
class FakeQemu implements QemuProcessLike {
  readonly pid = 4242;
  readonly exited: Promise<QemuExit>;
  readonly exitSignal: AbortSignal;
  readonly signals: NodeJS.Signals[] = [];
  readonly ignored = new Set<NodeJS.Signals>();
  stderr = '';
  exit: QemuExit | undefined;
  private readonly abort = new AbortController();
  private resolveExit!: (exit: QemuExit) => void;

  constructor() {
    this.exitSignal = this.abort.signal;
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  end(exit: QemuExit): void {
    if (this.exit) return;
    this.exit = exit;
    this.abort.abort(new Error('qemu exited'));
    this.resolveExit(exit);
  }

  kill(signal: NodeJS.Signals): boolean {
    this.signals.push(signal);
    if (this.ignored.has(signal)) return true;
    // QEMU exits 0 on SIGTERM after flushing; SIGKILL is a signal death.
    this.end(signal === 'SIGTERM' ? { code: 0, signal: null } : { code: null, signal });
    return true;
  }

  async waitForExit(ms: number): Promise<QemuExit | undefined> {
    return Promise.race([this.exited, sleep(ms, undefined)]);
  }

  stderrTail(): string {
    return this.stderr;
  }
}

/** How the fake QEMU and its guest behave. */
interface Behaviour {
  /** The guest powers off on the ACPI button (else it ignores it). */
  acpi: boolean;
  /** QEMU exits on quit (else it hangs). */
  quit: boolean;
  /** How many `cont`s fail (as the first after an NBD outage can in QEMU 7.2). */
  contFailures?: number;
}

function qemuModel(qemu: FakeQemu, behaviour: Behaviour) {
  return (command: ReceivedCommand, conn: FakeQmpConnection): void => {
    switch (command.execute) {
      case 'query-kvm':
        return conn.reply(command, { enabled: false, present: false });
      case 'cont':
        if (behaviour.contFailures) {
          behaviour.contFailures--;
          return conn.fail(command, 'GenericError', 'Could not resume: the block device is not ready');
        }
        conn.event('RESUME');
        return conn.reply(command);
      case 'stop':
        conn.event('STOP');
        return conn.reply(command);
      case 'system_powerdown':
        conn.reply(command);
        if (behaviour.acpi) setTimeout(() => guestPowersOff(qemu, conn), 20);
        return;
      case 'quit':
        if (!behaviour.quit) return; // a hung QEMU does not even answer
        conn.event('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' });
        conn.reply(command);
        conn.end();
        return qemu.end({ code: 0, signal: null });
      default:
        return conn.reply(command);
    }
  };
}

function guestPowersOff(qemu: FakeQemu, conn: FakeQmpConnection): void {
  conn.event('SHUTDOWN', { guest: true, reason: 'guest-shutdown' });
  conn.end();
  qemu.end({ code: 0, signal: null });
}

const vm = (extra: Partial<LauncherVm> = {}): LauncherVm =>
  ({
    name: 'fake',
    namespace: 'test',
    disks: [{ name: 'root', bus: 'virtio', readOnly: false, cache: 'none', hotpluggable: false, source: 'persistentVolumeClaim', spec: { name: 'root' } }],
    paused: false,
    terminationGracePeriodSeconds: 1,
    ...extra,
  }) as LauncherVm;

describe('VmSupervisor with a fake QEMU', () => {
  let dir: string;
  let server: FakeQmpServer;
  let qemu: FakeQemu;
  let plan: QemuPlan;
  let serial: net.Server;
  const behaviour: Behaviour = { acpi: true, quit: true };

  const supervise = (options: Partial<SupervisorOptions> = {}): VmSupervisor =>
    VmSupervisor.start({
      vm: vm(),
      plan,
      accelerator: 'tcg',
      spawn: () => qemu,
      timing: { quitWaitMs: 50, shutdownExitWaitMs: 50, ioRetry: { initialMs: 20, maxMs: 80 }, agentPollMs: 20, connectTimeoutMs: 2000 },
      ...options,
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmm-'));
    Object.assign(behaviour, { acpi: true, quit: true, contFailures: 0 });
    qemu = new FakeQemu();
    plan = {
      argv: [],
      disks: { root: { deviceId: 'disk-root', nodeName: 'fmt-root', target: 'vda', port: 'port-disk-root' } },
      sparePorts: ['hotplug0'],
      sockets: { qmp: join(dir, 'qmp.sock'), serial: join(dir, 'serial.sock'), console: join(dir, 'console.sock'), serialLog: join(dir, 'serial.log') },
    };
    server = await FakeQmpServer.start({ path: plan.sockets.qmp, onCommand: qemuModel(qemu, behaviour) });
    // QEMU's serial chardev: the supervisor connects to it before letting the guest run.
    serial = net.createServer((conn) => {
      conn.on('error', () => undefined);
      void qemu.exited.then(() => conn.end()); // QEMU's exit closes its sockets
    });
    await new Promise<void>((r) => serial.listen(plan.sockets.serial, r));
  });
  afterEach(async () => {
    serial.close();
    qemu.end({ code: 0, signal: null });
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const sent = (name: string) => server.commands.filter((c) => c.execute === name).length;

  it('starts the guest, pauses, resumes and stops it through ACPI', async () => {
    const vmm = supervise();
    await vmm.started;
    expect(vmm.status()).toMatchObject({ state: 'running', accelerator: 'tcg', disks: [{ name: 'root', phase: 'Attached', target: 'vda' }] });
    await vmm.pause();
    expect(vmm.status()).toMatchObject({ state: 'paused', reason: 'PausedByUser' });
    await vmm.resume();
    expect(vmm.status().state).toBe('running');
    const outcome = await vmm.stop();
    expect(outcome).toEqual({ exitCode: 0, state: 'succeeded', reason: 'GuestShutdown', message: 'guest powered off' });
    expect(sent('system_powerdown')).toBe(1);
    expect(sent('quit')).toBe(0); // QEMU exited by itself after the power-off
  });

  it('holds a spec.paused VM at -S instead of starting it', async () => {
    const vmm = supervise({ vm: vm({ paused: true }) });
    await vmm.started;
    expect(vmm.status()).toMatchObject({ state: 'paused', reason: 'PausedByUser' });
    expect(sent('cont')).toBe(0);
    await vmm.resume();
    expect(vmm.status().state).toBe('running');
  });

  it('rejects operations in the wrong state with a conflict', async () => {
    const vmm = supervise();
    await expect(vmm.pause()).rejects.toMatchObject({ reason: 'WrongState', kind: 'conflict' });
    await vmm.started;
    await vmm.stop();
    await expect(vmm.resume()).rejects.toMatchObject({ reason: 'WrongState' });
    await expect(vmm.attachDisk({ name: 'x', path: '/x' })).rejects.toMatchObject({ reason: 'WrongState' });
  });

  it('resumes a VM paused by an I/O error with growing delays, until a user pause', async () => {
    const vmm = supervise();
    await vmm.started;
    const ioError = () => {
      server.connection.event('BLOCK_IO_ERROR', { device: '', 'node-name': 'fmt-root', operation: 'write', action: 'stop', reason: 'No space left on device', nospace: true });
      server.connection.event('STOP');
    };
    const contTimes = () => server.commands.map((c, i) => ({ c, i })).filter(({ c }) => c.execute === 'cont');
    ioError();
    await sleep(5);
    expect(vmm.status()).toMatchObject({ state: 'paused', reason: 'IoError', message: 'paused on disk root: write error: No space left on device (no space left)' });
    for (let i = 0; i < 50 && vmm.status().state !== 'running'; i++) await sleep(5);
    expect(vmm.status().state).toBe('running');
    expect(contTimes()).toHaveLength(2); // boot + one retry

    const t0 = Date.now();
    ioError();
    for (let i = 0; i < 50 && vmm.status().state !== 'paused'; i++) await sleep(2);
    for (let i = 0; i < 100 && vmm.status().state !== 'running'; i++) await sleep(5);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(35); // second retry waits 40 ms
    expect(contTimes()).toHaveLength(3);

    ioError();
    await sleep(5);
    await vmm.pause(); // the user takes over: no more automatic resumes
    expect(vmm.status()).toMatchObject({ state: 'paused', reason: 'PausedByUser' });
    await sleep(150);
    expect(contTimes()).toHaveLength(3);
    expect(vmm.status().state).toBe('paused');
  });

  it('keeps resuming after an I/O error when cont itself fails', async () => {
    const vmm = supervise();
    await vmm.started;
    behaviour.contFailures = 2;
    server.connection.event('BLOCK_IO_ERROR', { device: '', 'node-name': 'fmt-root', operation: 'read', action: 'stop', reason: 'Input/output error' });
    server.connection.event('STOP');
    for (let i = 0; i < 50 && vmm.status().state !== 'paused'; i++) await sleep(2);
    expect(vmm.status()).toMatchObject({ state: 'paused', reason: 'IoError' });
    for (let i = 0; i < 200 && vmm.status().state !== 'running'; i++) await sleep(5);
    expect(vmm.status().state).toBe('running');
    expect(sent('cont')).toBe(4); // boot, two failures, the one that worked
  });

  it('quits a guest that ignores ACPI when the grace period ends', async () => {
    behaviour.acpi = false;
    const vmm = supervise();
    await vmm.started;
    const outcome = await vmm.stop();
    expect(outcome).toMatchObject({ exitCode: 0, reason: 'GracePeriodExpired', message: 'guest did not power off within 1s; stopped with quit' });
    expect(sent('quit')).toBe(1);
    expect(qemu.signals).toEqual([]);
  });

  it('a forced stop during a graceful one quits at once, without waiting out the grace period', async () => {
    behaviour.acpi = false;
    const vmm = supervise({ vm: vm({ terminationGracePeriodSeconds: 3600 }) });
    await vmm.started;
    void vmm.stop();
    await new Promise((r) => setTimeout(r, 50));
    expect(sent('quit')).toBe(0); // still waiting for the guest
    const started = Date.now();
    const outcome = await vmm.stop({ reason: 'Interrupted', message: 'second Ctrl-C', force: true });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(sent('quit')).toBe(1);
    expect(outcome).toMatchObject({ exitCode: 0, reason: 'ForcedStop' });
  });

  it('escalates to SIGTERM and then SIGKILL when QEMU ignores quit', async () => {
    Object.assign(behaviour, { acpi: false, quit: false });
    qemu.ignored.add('SIGTERM');
    const vmm = supervise({ vm: vm({ terminationGracePeriodSeconds: 0 }) });
    await vmm.started;
    const outcome = await vmm.stop();
    expect(qemu.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(outcome).toMatchObject({ exitCode: 1, reason: 'QemuKilled', message: 'qemu exited on signal SIGKILL: it did not exit after quit and SIGTERM' });
  });

  it('reports a QEMU that dies at start with its stderr', async () => {
    await server.close(); // no monitor ever appears
    const vmm = supervise();
    qemu.stderr = 'qemu-system-x86_64: -blockdev ...: Could not open disk.img: Permission denied\n';
    setTimeout(() => qemu.end({ code: 1, signal: null }), 30);
    await expect(vmm.started).rejects.toMatchObject({ reason: 'QmpConnectFailed' });
    expect(await vmm.done).toMatchObject({
      exitCode: 1,
      reason: 'QemuStartFailed',
      message: 'qemu exited with code 1 while starting: qemu-system-x86_64: -blockdev ...: Could not open disk.img: Permission denied',
    });
    server = await FakeQmpServer.start({ path: plan.sockets.qmp }); // for afterEach
  });

  it('shuts down through the guest agent when it answers, and reports the guest', async () => {
    const agentSocket = join(dir, 'qga.sock');
    plan.sockets.guestAgent = agentSocket;
    const agent = await startFakeAgent(agentSocket, (cmd, reply, socket) => {
      if (cmd.execute === 'guest-shutdown') {
        socket.end();
        return guestPowersOff(qemu, server.connection);
      }
      if (cmd.execute === 'guest-sync-delimited') return reply({ return: cmd.arguments?.id });
      if (cmd.execute === 'guest-get-host-name') return reply({ return: { 'host-name': 'fake' } });
      return reply({ error: { class: 'CommandNotFound', desc: 'nope' } });
    });
    try {
      const vmm = supervise();
      await vmm.started;
      for (let i = 0; i < 100 && !vmm.status().guest?.agentConnected; i++) await sleep(10);
      expect(vmm.status().guest).toEqual({ agentConnected: true, hostname: 'fake' });
      const outcome = await vmm.stop();
      expect(outcome).toMatchObject({ exitCode: 0, reason: 'GuestShutdown' });
      expect(agent.received).toContain('guest-shutdown');
      expect(sent('system_powerdown')).toBe(0);
    } finally {
      await agent.close();
    }
  });
});
