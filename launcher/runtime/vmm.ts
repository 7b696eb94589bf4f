// The supervisor of one QEMU: starts it, follows its lifecycle over QMP, carries out the
// operations the control API and `kubevmm play` ask for, and turns the way QEMU ends into
// the launcher's outcome. Lifecycle rules live in state.ts and outcome.ts; this file only
// wires events to them and performs the side effects they call for.

import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LauncherVm } from '../../api/resolve.js';
import {
  connectQmp,
  executeAwaitingEvent,
  queryKvm,
  systemReset,
  type QmpClient,
  type QmpEvent,
} from '../qmp/index.js';
import type { QemuPlan } from '../qemu/index.js';
import type { Accelerator } from './accel.js';
import { IoRetry } from './backoff.js';
import { DEFAULT_TIMING, longTimeout, type SupervisorTiming } from './timing.js';
import { VmStateError, describeError, reasonOf } from './errors.js';
import { GuestAgentMonitor } from './guestinfo.js';
import { DiskHotplug, type AttachRequest, type DiskStatus, type NbdClientOptions } from './hotplug.js';
import { decideOutcome, type RunOutcome, type StopRecord } from './outcome.js';
import { QemuProcess, type QemuExit, type QemuProcessLike, type SpawnQemuOptions } from './process.js';
import { SerialHub } from './serial.js';
import { INITIAL_STATE, isFinal, reduceVmState, type VmAction, type VmState } from './state.js';
import { diskStatuses, type LauncherStatus, type StopRequest, type VmController } from './status.js';
import { Terminator, powerOffGuest } from './terminate.js';

/** Options of {@link VmSupervisor.start}. */
export interface SupervisorOptions {
  vm: LauncherVm;
  plan: QemuPlan;
  /** The accelerator the plan was made for; status reports what query-kvm says once known. */
  accelerator: Accelerator;
  qemuBinary?: string;
  /** Where QEMU's stderr is copied (besides the tail kept for failure reasons). */
  stderrSink?: NodeJS.WritableStream;
  timing?: Partial<SupervisorTiming>;
  /** Progress lines (state changes, retries); default: dropped. */
  log?: (line: string) => void;
  /** Starts QEMU; tests pass a fake. Default: {@link QemuProcess.spawn}. */
  spawn?: (options: SpawnQemuOptions) => QemuProcessLike;
  /** NBD client settings for disks hotplugged from attachment pods (key file, reconnect). */
  nbd?: Partial<NbdClientOptions>;
  /** QEMU ends when this process dies, however it dies (`kubevmm play`). */
  dieWithParent?: boolean;
}

const DEFAULT_STOP: StopRequest = { reason: 'StopRequested', message: 'stop requested' };

/** Runs one VM from QEMU's start to its exit. */
export class VmSupervisor implements VmController {
  /** Resolves when the guest runs (or is held paused); rejects when start-up failed. */
  readonly started: Promise<void>;
  /** Resolves once, after QEMU exited, with the outcome. Never rejects. */
  readonly done: Promise<RunOutcome>;
  private readonly timing: SupervisorTiming;
  private readonly process: QemuProcessLike;
  private readonly startedAt = new Date().toISOString();
  private readonly changes = new EventEmitter<{ state: [VmState] }>();
  private readonly terminator: Terminator;
  private readonly agent: GuestAgentMonitor | undefined;
  private readonly ioRetry: IoRetry;
  private state: VmState = INITIAL_STATE;
  private accelerator: Accelerator;
  private qmp: QmpClient | undefined;
  private hotplug: DiskHotplug | undefined;
  private serial: SerialHub | undefined;
  private stopRecord: StopRecord | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(private readonly options: SupervisorOptions) {
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.accelerator = options.accelerator;
    const spawn = options.spawn ?? ((o: SpawnQemuOptions) => QemuProcess.spawn(o));
    this.process = spawn({ binary: options.qemuBinary, argv: options.plan.argv, stderrSink: options.stderrSink, ...(options.dieWithParent ? { dieWithParent: true } : {}) });
    this.terminator = new Terminator({ process: this.process, qmp: () => this.qmp, waitMs: this.timing.quitWaitMs, onSignal: (s) => this.stopRecord?.signalsSent.push(s) });
    const agentSocket = options.plan.sockets.guestAgent;
    this.agent = agentSocket ? new GuestAgentMonitor({ socketPath: agentSocket, pollIntervalMs: this.timing.agentPollMs }) : undefined;
    this.ioRetry = new IoRetry({
      policy: this.timing.ioRetry,
      // Only while the I/O error still holds the VM: a user's pause or resume cancels the retry.
      resume: () => {
        if (!this.pausedByIoError() || !this.qmp || this.qmp.closed) return;
        // A `cont` right after an NBD export came back can fail (QEMU 7.2): try again later.
        this.qmp.execute('cont').catch((err) => {
          this.log(`resume after I/O error failed: ${describeError(err)}`);
          if (this.pausedByIoError() && !this.stopping) this.ioRetry.schedule();
        });
      },
      log: (line) => this.log(line),
    });
    this.done = this.process.exited.then((exit) => this.finish(exit));
    this.started = this.boot();
    this.started.catch(() => undefined); // the outcome reports start-up failures
  }

  /** Spawn QEMU and start supervising it. */
  static start(options: SupervisorOptions): VmSupervisor {
    return new VmSupervisor(options);
  }

  /** QEMU's process id (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.process.pid;
  }

  /** The QMP connection while it is open, for read-only queries (metrics); undefined before and after. */
  get monitor(): QmpClient | undefined {
    return this.qmp && !this.qmp.closed ? this.qmp : undefined;
  }

  /** Where console sessions attach (the launcher's fan-out of QEMU's serial port). */
  get serialSocket(): string {
    return this.options.plan.sockets.console;
  }

  /** The serial fan-out while QEMU runs, for console sessions over the control API; undefined before and after. */
  get console(): SerialHub | undefined {
    return this.serial;
  }

  /** QEMU's VNC socket; undefined when the VM has no display (`devices.graphics: none`). */
  get vncSocket(): string | undefined {
    return this.options.plan.sockets.vnc;
  }

  /** The console log: what the guest wrote to its serial port, bounded (see SerialHub). */
  get serialLog(): string {
    return this.options.plan.sockets.serialLog;
  }

  status(): LauncherStatus {
    const { state, reason, message } = this.state;
    return {
      state,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
      accelerator: this.accelerator,
      startedAt: this.startedAt,
      disks: diskStatuses(this.options.vm, this.options.plan, this.hotplug?.list() ?? []),
      ...(this.agent ? { guest: this.agent.info } : {}),
    };
  }

  async pause(): Promise<void> {
    const { state } = this.state;
    if (state === 'paused') {
      this.ioRetry.cancel();
      this.dispatch({ type: 'paused-by-user' });
      return;
    }
    if (state !== 'running') throw new VmStateError('pause', state);
    await executeAwaitingEvent(this.requireQmp(), { command: 'stop', event: 'STOP', timeoutMs: this.timing.commandTimeoutMs });
  }

  async resume(): Promise<void> {
    const { state } = this.state;
    if (state === 'running') return;
    if (state !== 'paused') throw new VmStateError('resume', state);
    this.ioRetry.cancel();
    await executeAwaitingEvent(this.requireQmp(), { command: 'cont', event: 'RESUME', timeoutMs: this.timing.commandTimeoutMs });
  }

  async reset(): Promise<void> {
    this.requireLive('reset');
    await systemReset(this.requireQmp());
  }

  stop(request: StopRequest = DEFAULT_STOP): Promise<RunOutcome> {
    if (!this.stopping && !this.process.exit && !isFinal(this.state.state)) {
      this.stopping = this.runStop(request).catch((err) => this.log(`stop: ${describeError(err)}`));
    }
    if (request.force) this.forceQuit();
    return this.done;
  }

  /** A forced stop (a second Ctrl-C): `quit` now, without waiting for the guest. */
  private forceQuit(): void {
    if (this.process.exit) return;
    if (this.stopRecord) this.stopRecord.forced = true;
    this.log('forced stop: quitting qemu without waiting for the guest');
    void this.terminator.terminate();
  }

  async attachDisk(request: AttachRequest): Promise<DiskStatus> {
    return this.requireHotplug('attach a disk').attach(request);
  }

  async detachDisk(name: string): Promise<void> {
    return this.requireHotplug('detach a disk').detach(name);
  }

  private async boot(): Promise<void> {
    try {
      const qmp = await connectQmp(this.options.plan.sockets.qmp, {
        retryUntilMs: this.timing.connectTimeoutMs,
        signal: this.process.exitSignal,
        commandTimeoutMs: this.timing.commandTimeoutMs,
      });
      this.qmp = qmp;
      qmp.on('event', (event) => this.onEvent(event));
      // Before `cont`: QEMU runs with -S, so not a byte of the boot is lost.
      const { serial, console: consoleSocket, serialLog } = this.options.plan.sockets;
      this.serial = await SerialHub.start({ qemuSocket: serial, consoleSocket, logFile: serialLog, log: (l) => this.log(l) });
      this.hotplug = new DiskHotplug({ qmp, plan: this.options.plan, detachTimeoutMs: this.timing.detachTimeoutMs, nbd: this.options.nbd });
      this.accelerator = (await queryKvm(qmp)).enabled ? 'kvm' : 'tcg';
      if (this.stopping) return;
      if (this.options.vm.paused) this.dispatch({ type: 'held-paused' });
      else await executeAwaitingEvent(qmp, { command: 'cont', event: 'RESUME', timeoutMs: this.timing.commandTimeoutMs });
      this.agent?.start();
    } catch (err) {
      // When QEMU died the exit explains more than the QMP error does; finish() reports it.
      if (!this.process.exit && !this.stopping) {
        this.dispatch({ type: 'failed', reason: reasonOf(err, 'StartFailed'), message: `qemu did not start: ${describeError(err)}` });
      }
      throw err;
    }
  }

  private onEvent(event: QmpEvent): void {
    this.hotplug?.onEvent(event);
    this.dispatch({ type: 'qmp', event, disk: this.hotplug?.diskOfEvent(event) });
  }

  private dispatch(action: VmAction): void {
    const previous = this.state;
    const next = reduceVmState(previous, action);
    if (next === previous) return;
    this.state = next;
    if (next.state !== previous.state || next.reason !== previous.reason) {
      this.log(`vm ${next.state}${next.reason ? ` (${next.reason}${next.message ? `: ${next.message}` : ''})` : ''}`);
    }
    if (next.state === 'paused' && next.reason === 'IoError' && !this.stopping) this.ioRetry.schedule();
    if (isFinal(next.state)) void this.endQemu(next);
    this.changes.emit('state', next);
  }

  /** A final state was reached while QEMU may still run: make it exit. */
  private async endQemu(state: VmState): Promise<void> {
    this.ioRetry.cancel();
    // After a guest power-off QEMU exits by itself; give it the chance to do so cleanly.
    if (state.state === 'succeeded') await this.process.waitForExit(this.timing.shutdownExitWaitMs);
    await this.terminator.terminate();
  }

  private async runStop(request: StopRequest): Promise<void> {
    const from = this.state.state;
    const graceSeconds = this.options.vm.terminationGracePeriodSeconds;
    const record: StopRecord = { reason: request.reason, graceSeconds, method: 'none', graceExpired: false, forced: !!request.force, signalsSent: [], from };
    this.stopRecord = record;
    this.ioRetry.cancel();
    this.dispatch({ type: 'stop-requested', reason: request.reason, message: request.message });
    if (from === 'running' && this.qmp && !request.force) {
      record.method = await powerOffGuest({ qmp: this.qmp, agent: this.agent?.client, log: (l) => this.log(l) });
      const ended = record.method !== 'none' && (await this.waitForEnd(graceSeconds * 1000));
      record.graceExpired = !ended;
      if (ended && !this.process.exit) await this.process.waitForExit(this.timing.shutdownExitWaitMs);
    }
    await this.terminator.terminate();
  }

  /** True when the VM reached a final state or QEMU exited within `ms`. */
  private waitForEnd(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const settle = (value: boolean): void => {
        cancel();
        this.changes.off('state', onState);
        resolve(value);
      };
      const onState = (s: VmState): void => {
        if (isFinal(s.state)) settle(true);
      };
      // A grace period can exceed what one setTimeout holds; it must never end early.
      const cancel = longTimeout(() => settle(false), ms);
      this.changes.on('state', onState);
      void this.process.exited.then(() => settle(true));
      if (isFinal(this.state.state)) settle(true);
    });
  }

  private async finish(exit: QemuExit): Promise<RunOutcome> {
    this.ioRetry.cancel();
    await this.agent?.stop();
    await this.serial?.close();
    await this.drainQmp();
    const outcome = decideOutcome({ state: this.state, exit, stop: this.stopRecord, stderrTail: this.process.stderrTail() });
    this.state = { state: outcome.state, reason: outcome.reason, message: outcome.message };
    this.changes.emit('state', this.state);
    return outcome;
  }

  /**
   * QEMU's last events (SHUTDOWN after a guest power-off) travel on the QMP socket, while the
   * exit is seen on another channel: read the socket to its end before deciding the outcome.
   */
  private async drainQmp(): Promise<void> {
    const qmp = this.qmp;
    if (!qmp) return;
    if (!qmp.closed) {
      const closed = new Promise<void>((resolve) => qmp.once('closed', () => resolve()));
      await Promise.race([closed, this.process.waitForExit(0).then(() => sleep(1_000))]);
    }
    await qmp.close();
  }

  private pausedByIoError(): boolean {
    return this.state.state === 'paused' && this.state.reason === 'IoError';
  }

  private requireQmp(): QmpClient {
    if (!this.qmp || this.qmp.closed) throw new VmStateError('talk to qemu', this.state.state);
    return this.qmp;
  }

  private requireLive(operation: string): void {
    const { state } = this.state;
    if (state !== 'running' && state !== 'paused') throw new VmStateError(operation, state);
  }

  private requireHotplug(operation: string): DiskHotplug {
    this.requireLive(operation);
    if (!this.hotplug) throw new VmStateError(operation, this.state.state);
    return this.hotplug;
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}
