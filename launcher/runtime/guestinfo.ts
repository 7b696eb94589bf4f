// Keeps the guest section of status current: polls for qemu-guest-agent (the guest may start
// it late, or never), and refreshes hostname, OS and interfaces while it answers. An absent
// agent is normal and costs one short handshake attempt per poll.

import { setTimeout as sleep } from 'node:timers/promises';
import type { GuestInfo } from '../../api/contract/control.js';
import { connectGuestAgent, type GuestAgentClient, type GuestInterface, type GuestOsInfo } from './guestagent.js';

export type { GuestInfo };

/** Status fields from the agent's answers (pure). Loopback is left out: it says nothing. */
export function summarizeGuest(hostname: string | undefined, os: GuestOsInfo | undefined, ifaces: GuestInterface[] | undefined): GuestInfo {
  const interfaces = ifaces
    ?.filter((i) => i.name !== 'lo')
    .map((i) => ({
      name: i.name,
      ...(i['hardware-address'] ? { macAddress: i['hardware-address'] } : {}),
      ipAddresses: (i['ip-addresses'] ?? []).map((a) => a['ip-address']),
    }));
  return {
    agentConnected: true,
    ...(hostname ? { hostname } : {}),
    ...(os?.name || os?.['pretty-name'] ? { osName: os.name ?? os['pretty-name'] } : {}),
    ...(os?.['kernel-release'] ? { kernel: os['kernel-release'] } : {}),
    ...(interfaces ? { interfaces } : {}),
  };
}

/** Options of {@link GuestAgentMonitor}. */
export interface GuestAgentMonitorOptions {
  socketPath: string;
  /** How often to look for an agent that is not connected. Default 5 s. */
  pollIntervalMs?: number;
  /** How often to refresh the details of a connected agent. Default 30 s. */
  refreshIntervalMs?: number;
  /** Handshake deadline. Default 2 s. */
  timeoutMs?: number;
  connect?: (path: string, timeoutMs: number) => Promise<GuestAgentClient>;
}

/** Watches the guest agent in the background until stopped. */
export class GuestAgentMonitor {
  private current: GuestInfo = { agentConnected: false };
  private agent: GuestAgentClient | undefined;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: GuestAgentMonitorOptions) {}

  /** What is known about the guest now. */
  get info(): GuestInfo {
    return this.current;
  }

  /** The connected agent, if any (for guest-shutdown). */
  get client(): GuestAgentClient | undefined {
    return this.current.agentConnected && this.agent && !this.agent.closed ? this.agent : undefined;
  }

  start(): void {
    this.loop ??= this.run().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.agent?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { pollIntervalMs = 5_000, refreshIntervalMs = 30_000 } = this.options;
    while (!this.abort.signal.aborted) {
      const connected = await this.refresh();
      await sleep(connected ? refreshIntervalMs : pollIntervalMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
    }
  }

  /** One round: connect when needed, then read the details. True when the agent answered. */
  private async refresh(): Promise<boolean> {
    const { socketPath, timeoutMs = 2_000, connect = connectGuestAgent } = this.options;
    try {
      if (!this.agent || this.agent.closed) this.agent = await connect(socketPath, timeoutMs);
      const agent = this.agent;
      const hostname = await agent.hostname().catch(optional);
      const os = await agent.osInfo().catch(optional);
      const ifaces = await agent.networkInterfaces().catch(optional);
      if (this.abort.signal.aborted) return false;
      this.current = summarizeGuest(hostname, os, ifaces);
      return true;
    } catch {
      this.agent?.close();
      this.agent = undefined;
      this.current = { agentConnected: false };
      return false;
    }
  }
}

/** A command the agent does not support (old agents, Windows) leaves its field out. */
function optional(err: unknown): undefined {
  if ((err as { reason?: string }).reason === 'AgentCommandFailed') return undefined;
  throw err;
}
