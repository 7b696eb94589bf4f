/**
 * The live progress line of the waiting verbs, on stderr (stdout keeps the final state, for
 * scripts). On a terminal it is one line rewritten in place, its elapsed seconds ticking; in a
 * pipe or a log it is one line per change, so a CI log shows every phase once.
 */

/** Where the line goes: a stream, and whether it is a terminal (and how wide). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** stdout (the final state, manifests) and stderr (progress). */
export interface Output {
  out: ProgressStream;
  err: ProgressStream;
}

/** The process's own streams. */
export const processOutput = (): Output => ({ out: process.stdout, err: process.stderr });

/** Carriage return and erase-line: the terminal's cursor back to the start of an empty line. */
export const CLEAR_LINE = '\r\x1b[2K';

// C0 and C1 control characters, DEL included (\u001b starts a terminal escape sequence).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Text from the cluster made safe for a terminal: status messages and server answers are
 * written by others, and an escape sequence in one could rewrite the user's screen or title.
 * Control characters (newlines too: a progress line is one line) become `?`.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, '?');
}

/** `vm/web-1: Stopping (12s)`: a progress line from patches.ts with the time since the verb began. */
export function progressText(line: string, elapsedMs: number): string {
  return `vm/${printable(line)} (${Math.floor(elapsedMs / 1000)}s)`;
}

/** Cut to the terminal's width: a line that wraps can no longer be rewritten in place. */
export function fitWidth(text: string, columns: number | undefined): string {
  if (!columns || text.length < columns) return text;
  return `${text.slice(0, Math.max(columns - 4, 0))}...`;
}

/** The progress line of one wait. */
export class ProgressLine {
  private line: string | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private readonly started: number;

  constructor(
    private readonly stream: ProgressStream,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  /** Shows `line` (patches.ts's progress line, without the `vm/`). */
  show(line: string): void {
    if (!this.stream.isTTY) {
      if (line !== this.line) this.stream.write(`${progressText(line, this.now() - this.started)}\n`);
      this.line = line;
      return;
    }
    this.line = line;
    this.render();
    // The seconds keep counting while nothing changes; unreferenced, it never holds the process.
    this.ticker ??= setInterval(() => this.render(), 1000).unref();
  }

  private render(): void {
    if (this.line === undefined) return;
    this.stream.write(CLEAR_LINE + fitWidth(progressText(this.line, this.now() - this.started), this.stream.columns));
  }

  /** Stops ticking and, on a terminal, erases the line, so the final state is printed on a clean one. */
  end(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    if (this.stream.isTTY && this.line !== undefined) this.stream.write(CLEAR_LINE);
  }
}
