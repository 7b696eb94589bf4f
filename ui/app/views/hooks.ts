/**
 * Hooks the pages share: a live list (list+watch, re-rendered at most once per animation
 * frame however many events arrive), the user's rights on a VM, and the current time for ages.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Kube } from '../kube.js';
import { accessOf, accessReview, RIGHTS, type Access, type RightName } from '../model/access.js';
import { API_PREFIX } from '../model/paths.js';
import { FrameBatcher, type KubeObject } from '../model/watch-events.js';

/** A live list: its items (undefined until the first list), and the last error. */
export interface Live<T> {
  items: T[] | undefined;
  error: unknown;
}

/** Lists and watches `path` while the component lives (nothing when path is undefined). */
export function useLiveList<T extends KubeObject>(kube: Kube, path: string | undefined): Live<T> {
  const [live, setLive] = useState<Live<T>>({ items: undefined, error: undefined });
  useEffect(() => {
    setLive({ items: undefined, error: undefined });
    if (!path) return undefined;
    const abort = new AbortController();
    let latest: Map<string, T> | undefined;
    const batcher = new FrameBatcher(() => latest && setLive({ items: [...latest.values()], error: undefined }), (run) => requestAnimationFrame(run));
    void kube.listWatch<T>(path, {
      signal: abort.signal,
      onChange: (items) => {
        latest = items;
        batcher.request();
      },
      onError: (error) => setLive((prev) => ({ ...prev, error })),
    });
    return () => abort.abort();
  }, [kube, path]);
  return live;
}

/** The user's access to each right on `name` (or the namespace), checked once per VM. */
export function useAccess(kube: Kube, namespace: string, name: string | undefined, rights: readonly RightName[]): Partial<Record<RightName, Access>> {
  const [access, setAccess] = useState<Partial<Record<RightName, Access>>>({});
  const key = rights.join(',');
  useEffect(() => {
    let alive = true;
    setAccess({});
    for (const right of rights) {
      kube
        .call<{ status?: { allowed?: boolean; reason?: string } }>(`${API_PREFIX}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`, { method: 'POST', body: accessReview(RIGHTS[right], namespace, name) })
        .then((review) => accessOf(RIGHTS[right], namespace, review.status))
        .catch((err: unknown) => ({ allowed: false as const, reason: `cannot check your rights: ${err instanceof Error ? err.message : String(err)}` }))
        .then((a) => alive && setAccess((prev) => ({ ...prev, [right]: a })))
        .catch(() => undefined);
    }
    return () => {
      alive = false;
    };
    // `rights` is keyed by `key`: a new array of the same rights asks nothing again.
  }, [kube, namespace, name, key]);
  return access;
}

/** The time, refreshed every `ms` (ages in the inventory move without events). */
export function useNow(ms = 10_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
