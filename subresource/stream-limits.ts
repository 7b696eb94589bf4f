/**
 * How many streams one subresource server replica keeps open, in all and per user. Each stream
 * may hold a client message (up to MAX_CLIENT_MESSAGE_BYTES, stream.ts) and up to ~1 MiB for a
 * slow client (bridge.ts) in memory: without a cap, one user opening streams in a loop could
 * take the replica past its memory limit and every other user's sessions with it. Counted per
 * replica: with N replicas behind the Service a user can hold up to N times the per-user cap.
 */
import { failureStatus, type KubeStatus, type SubresourceRequest } from '../api/contract/subresource.js';

/** Defaults of {@link StreamLimitSettings}: 200 x ~1.3 MiB stays well inside a 512Mi pod. */
export const STREAM_LIMIT_DEFAULTS = { maxStreams: 200, maxStreamsPerUser: 20 } as const;

/** The caps (flags `--max-streams`, `--max-streams-per-user`). */
export interface StreamLimitSettings {
  maxStreams: number;
  maxStreamsPerUser: number;
}

/** A slot taken, or the Status to refuse the stream with. */
export type StreamSlot = { ok: true; release: () => void } | { ok: false; status: KubeStatus; log: string };

/** Counts the open streams of one replica. */
export class StreamLimits {
  private open = 0;
  private readonly byUser = new Map<string, number>();

  constructor(private readonly settings: StreamLimitSettings = STREAM_LIMIT_DEFAULTS) {}

  /** Streams open now, in all and of `user`. */
  count(user?: string): number {
    return user === undefined ? this.open : (this.byUser.get(user) ?? 0);
  }

  /**
   * Takes a slot for `user`'s stream; `release` (once, idempotent) gives it back. A refusal is a
   * 503 Status (the contract has no 429) that names the limit and what to do.
   */
  take(user: string, request: SubresourceRequest): StreamSlot {
    const { maxStreams, maxStreamsPerUser } = this.settings;
    const mine = this.count(user);
    const named = { name: request.name };
    if (mine >= maxStreamsPerUser) {
      const message = `too many streams: you have ${mine} console, VNC or port-forward streams open through this subresource server replica, the most allowed per user (--max-streams-per-user=${maxStreamsPerUser}); close one and try again`;
      return { ok: false, status: failureStatus('ServiceUnavailable', message, named), log: `user stream limit ${maxStreamsPerUser} reached` };
    }
    if (this.open >= maxStreams) {
      const message = `too many streams: this subresource server replica has ${this.open} streams open, the most it takes (--max-streams=${maxStreams}); try again later`;
      return { ok: false, status: failureStatus('ServiceUnavailable', message, named), log: `replica stream limit ${maxStreams} reached` };
    }
    this.open++;
    this.byUser.set(user, mine + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.open--;
      const left = (this.byUser.get(user) ?? 1) - 1;
      if (left > 0) this.byUser.set(user, left);
      else this.byUser.delete(user);
    };
    return { ok: true, release };
  }
}
