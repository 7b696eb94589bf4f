/**
 * The relayed Kubernetes API as the app uses it: JSON calls that turn an error status into an
 * ApiError with the API's message, and list+watch that keeps a map current (resuming from the
 * last resourceVersion, listing again on 410 Gone) until it is stopped.
 */
import { ApiError, apiErrorOf } from './model/status.js';
import { applyWatchEvent, LineSplitter, type KubeObject, type WatchEvent } from './model/watch-events.js';
import type { Session } from './session.js';

/** Answers a list is not retried after: unauthenticated, forbidden, not served. */
const FINAL_CODES = new Set([401, 403, 404]);

/** Options of one call. */
export interface CallOptions {
  method?: string;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

/** API calls as the session's user. */
export class Kube {
  constructor(readonly session: Session) {}

  /** Calls `path` (relative, from model/paths.ts) and parses the JSON answer; rejects with ApiError. */
  async call<T>(path: string, options: CallOptions = {}): Promise<T> {
    const headers = this.session.headers({ accept: 'application/json', ...(options.body !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}) });
    const res = await fetch(path, { method: options.method ?? 'GET', headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), signal: options.signal, credentials: 'same-origin' });
    const text = await res.text();
    if (!res.ok) throw apiErrorOf(res.status, res.statusText, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Lists `path` then watches it, calling `onChange` with the current items after each batch
   * of changes, until `signal` aborts. Errors other than an abort go to `onError` and the
   * loop lists again after a pause (not after 401, 403 or 404: asking again changes nothing).
   */
  async listWatch<T extends KubeObject>(path: string, opts: { signal: AbortSignal; onChange: (items: Map<string, T>) => void; onError: (err: unknown) => void }): Promise<void> {
    const join = path.includes('?') ? '&' : '?';
    while (!opts.signal.aborted) {
      try {
        const list = await this.call<{ items: T[]; metadata: { resourceVersion?: string } }>(path, { signal: opts.signal });
        const items = new Map(list.items.map((i) => [i.metadata.name, i]));
        opts.onChange(items);
        let rv = list.metadata.resourceVersion;
        // Watch until the server ends the stream (its timeout) or asks for a new list.
        for (;;) {
          const next = await this.watchOnce<T>(`${path}${join}watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(rv ?? '')}`, items, opts);
          if (next.kind === 'relist') break;
          rv = next.resourceVersion ?? rv;
        }
      } catch (err) {
        if (opts.signal.aborted) return;
        opts.onError(err);
        // Refused or not served: asking again changes nothing until the user does something.
        if (err instanceof ApiError && FINAL_CODES.has(err.code)) return;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  private async watchOnce<T extends KubeObject>(path: string, items: Map<string, T>, opts: { signal: AbortSignal; onChange: (items: Map<string, T>) => void }) {
    const res = await fetch(path, { headers: this.session.headers(), signal: opts.signal, credentials: 'same-origin' });
    if (res.status === 410) return { kind: 'relist' as const, reason: 'gone' };
    if (!res.ok || !res.body) throw apiErrorOf(res.status, res.statusText, await res.text());
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const splitter = new LineSplitter();
    let rv: string | undefined;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { kind: 'continue' as const, resourceVersion: rv };
      let changed = false;
      for (const line of splitter.push(value)) {
        const next = applyWatchEvent(items, JSON.parse(line) as WatchEvent<T>, rv);
        if (next.kind === 'relist') {
          await reader.cancel();
          return next;
        }
        changed = true;
        rv = next.resourceVersion;
      }
      if (changed) opts.onChange(items);
    }
  }
}
