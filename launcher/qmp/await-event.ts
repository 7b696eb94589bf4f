// The mechanics behind QmpClient.waitForEvent: one listener per wait, removed on every way
// out (match, timeout, close, abort) so long-lived clients do not accumulate listeners.

import type { EventEmitter } from 'node:events';
import type { QmpClientEvents } from './client.js';
import { QmpTimeoutError } from './errors.js';
import type { QmpEvent, QmpEventData } from './protocol.js';

/** What {@link awaitEvent} waits for. */
export interface AwaitEventOptions<N extends string> {
  emitter: EventEmitter<QmpClientEvents>;
  name: N;
  predicate: (event: QmpEvent<QmpEventData<N>>) => boolean;
  /** `Infinity` waits forever. */
  timeoutMs: number;
  signal?: AbortSignal;
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** Resolve with the first matching event; reject on timeout, close, abort or a throwing predicate. */
export function awaitEvent<N extends string>(options: AwaitEventOptions<N>): Promise<QmpEvent<QmpEventData<N>>> {
  const { emitter, name, predicate, timeoutMs, signal } = options;
  if (signal?.aborted) return Promise.reject(asError(signal.reason));
  return new Promise((resolve, reject) => {
    const settle = (error: Error | undefined, event?: QmpEvent<QmpEventData<N>>): void => {
      clearTimeout(timer);
      emitter.off('event', onEvent);
      emitter.off('closed', onClosed);
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(event as QmpEvent<QmpEventData<N>>);
    };
    const onEvent = (event: QmpEvent): void => {
      if (event.event !== name) return;
      const typed = event as QmpEvent<QmpEventData<N>>;
      try {
        if (predicate(typed)) settle(undefined, typed);
      } catch (err) {
        settle(asError(err)); // a broken predicate fails this wait, not the connection
      }
    };
    const onClosed = (error: Error): void => settle(error);
    const onAbort = (): void => settle(asError(signal?.reason));
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => settle(new QmpTimeoutError(`event:${name}`, timeoutMs)), timeoutMs)
      : undefined;
    emitter.on('event', onEvent);
    emitter.on('closed', onClosed);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
