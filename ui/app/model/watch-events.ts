/**
 * Keeping a list current from a watch: the events applied to a map keyed by name, the
 * resourceVersion to resume from, and when to list again (410 Gone: the version is too old).
 */

/** The fields of any object the app keeps. */
export interface KubeObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; creationTimestamp?: string };
}

/** One line of a watch stream. */
export type WatchEvent<T> = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; object: T } | { type: 'ERROR'; object: { code?: number; message?: string; reason?: string } };

/** What applying an event asks of the watcher next. */
export type Next = { kind: 'continue'; resourceVersion: string | undefined } | { kind: 'relist'; reason: string };

/**
 * Applies one event to `items` in place; returns what to do next. A BOOKMARK only moves the
 * resourceVersion; an ERROR with code 410 (or reason Expired/Gone) means list again.
 */
export function applyWatchEvent<T extends KubeObject>(items: Map<string, T>, event: WatchEvent<T>, resourceVersion: string | undefined): Next {
  if (event.type === 'ERROR') {
    const gone = event.object.code === 410 || event.object.reason === 'Expired' || event.object.reason === 'Gone';
    return { kind: 'relist', reason: gone ? 'resourceVersion too old (410 Gone)' : (event.object.message ?? 'watch error') };
  }
  const rv = event.object.metadata.resourceVersion ?? resourceVersion;
  if (event.type === 'DELETED') items.delete(event.object.metadata.name);
  else if (event.type !== 'BOOKMARK') items.set(event.object.metadata.name, event.object);
  return { kind: 'continue', resourceVersion: rv };
}

/** Splits a chunked stream of newline-separated JSON into events; keeps the unfinished tail. */
export class LineSplitter {
  private tail = '';

  /** The complete lines in `chunk` (with what was left over before). */
  push(chunk: string): string[] {
    const text = this.tail + chunk;
    const lines = text.split('\n');
    this.tail = lines.pop() ?? '';
    return lines.filter((l) => l.trim() !== '');
  }
}

/**
 * Coalesces many calls into one per frame: a watch of 1000 VMs delivers bursts of events, and
 * rendering once per animation frame (not once per event) keeps the page responsive.
 */
export class FrameBatcher {
  private pending = false;

  constructor(
    private readonly flush: () => void,
    private readonly schedule: (run: () => void) => void,
  ) {}

  /** Asks for a flush; many asks before the frame make one flush. */
  request(): void {
    if (this.pending) return;
    this.pending = true;
    this.schedule(() => {
      this.pending = false;
      this.flush();
    });
  }
}
