// The two halves of stopping a VM that are not lifecycle rules: asking the guest to power
// off, and making QEMU exit. `quit` lets QEMU flush its block layer; signals follow only
// when QEMU does not go, SIGKILL last because it loses whatever QEMU had not written.

import { quit, systemPowerdown, type QmpClient } from '../qmp/index.js';
import { describeError } from './errors.js';
import type { GuestAgentClient } from './guestagent.js';
import type { StopRecord } from './outcome.js';
import type { QemuProcess } from './process.js';

/** What {@link powerOffGuest} needs. */
export interface PowerOffOptions {
  qmp: Pick<QmpClient, 'execute'>;
  /** The connected guest agent, when there is one. */
  agent?: Pick<GuestAgentClient, 'shutdown'>;
  log?: (line: string) => void;
}

/**
 * Ask the guest OS to power off: through the guest agent when it answers (works for guests
 * that ignore ACPI), else with the ACPI power button. Returns how it was asked, `none` when
 * neither request could be sent.
 */
export async function powerOffGuest({ qmp, agent, log }: PowerOffOptions): Promise<StopRecord['method']> {
  if (agent) {
    try {
      await agent.shutdown('powerdown');
      return 'guest-agent';
    } catch (err) {
      log?.(`guest-shutdown through the guest agent failed (${describeError(err)}); pressing the ACPI power button`);
    }
  }
  try {
    await systemPowerdown(qmp);
    return 'acpi';
  } catch (err) {
    log?.(`system_powerdown failed: ${describeError(err)}`);
    return 'none';
  }
}

/** Options of {@link Terminator}. */
export interface TerminatorOptions {
  process: Pick<QemuProcess, 'exit' | 'exited' | 'kill' | 'waitForExit'>;
  /** The QMP connection, if one was made. */
  qmp: () => Pick<QmpClient, 'execute' | 'closed'> | undefined;
  /** Wait after quit before SIGTERM, and after SIGTERM before SIGKILL. */
  waitMs: number;
  /** Told about every signal sent (the outcome distinguishes ours from others'). */
  onSignal?: (signal: NodeJS.Signals) => void;
}

/** Makes QEMU exit, once, however many callers ask. */
export class Terminator {
  private running: Promise<void> | undefined;

  constructor(private readonly options: TerminatorOptions) {}

  /** quit (when QMP is up), then SIGTERM, then SIGKILL, each only if QEMU is still there. */
  terminate(): Promise<void> {
    this.running ??= this.run();
    return this.running;
  }

  private async run(): Promise<void> {
    const { process, waitMs } = this.options;
    if (process.exit) return;
    const qmp = this.options.qmp();
    if (qmp && !qmp.closed) {
      await quit(qmp, { timeoutMs: waitMs }).catch(() => undefined);
      if (await process.waitForExit(waitMs)) return;
    }
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      this.options.onSignal?.(signal);
      process.kill(signal);
      if (await process.waitForExit(waitMs)) return;
    }
    await process.exited;
  }
}
