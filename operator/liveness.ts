/**
 * What /healthz checks: the operator's loops still move. An informer whose loop made no
 * progress for twice its watchdog period (plus slack for a backoff and a list) is wedged; a
 * work queue that had work but finished no reconcile for `queueStallMs` stopped draining.
 * Either way the kubelet's liveness probe restarts the process, which starts clean. Pure.
 */

/** What an informer shows of its loop. */
export interface LoopActivity {
  lastActivityAt: number;
  watchdogMs: number;
}

export interface LivenessInput {
  informers: Readonly<Record<string, LoopActivity>>;
  /** The work queue's stall (0 when idle); undefined while this replica does not lead. */
  queueStalledMs?: number;
  queueStallLimitMs: number;
  /** Now, in ms since the epoch (the informers' clock). */
  now: number;
}

/** Slack beyond two watchdog periods: the informer's longest backoff plus one list call. */
const INFORMER_SLACK_MS = 60_000;

/** The reasons the operator is not live; empty when it is. */
export function livenessProblems(input: LivenessInput): string[] {
  const problems: string[] = [];
  for (const [resource, informer] of Object.entries(input.informers)) {
    const idle = input.now - informer.lastActivityAt;
    if (idle > 2 * informer.watchdogMs + INFORMER_SLACK_MS) problems.push(`informer ${resource} made no progress for ${Math.round(idle / 1000)} s`);
  }
  const stalled = input.queueStalledMs ?? 0;
  if (stalled > input.queueStallLimitMs) problems.push(`work queue finished no reconcile for ${Math.round(stalled / 1000)} s while it had work`);
  return problems;
}
