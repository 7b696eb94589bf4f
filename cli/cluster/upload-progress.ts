/**
 * The upload's progress on stderr: a bar, the bytes the importer holds of the file's size, the
 * rate over the last seconds and the time left at that rate. On a terminal one line is rewritten
 * a few times a second; in a pipe or a log, a line per tenth of the file, so a CI log stays short.
 */
import { CLEAR_LINE, fitWidth, type ProgressStream } from './progress.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 -> "1.5 KiB". */
export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** Seconds as "1:05:09", "4:07" or "0:09"; "--:--" when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const two = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}

/** The progress line for `done` of `total` bytes at `rate` bytes/s (undefined: not measured yet). */
export function progressLine(label: string, done: number, total: number, rate: number | undefined): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const width = 24;
  const filled = Math.round(fraction * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const speed = rate === undefined ? '--/s' : `${formatSize(rate)}/s`;
  const eta = done >= total ? 0 : rate ? (total - done) / rate : undefined;
  return `${label} ${bar} ${Math.floor(fraction * 100)}% ${formatSize(done)} / ${formatSize(total)} ${speed} ETA ${formatDuration(eta)}`;
}

/** How far back the rate looks: long enough to smooth PUT boundaries, short enough to follow a change. */
const WINDOW_MS = 5000;

/** The live progress of one upload. */
export class UploadProgress {
  private samples: { at: number; bytes: number }[] = [];
  /** The first sample of the current run of progress (reset when the offset goes back). */
  private first: { at: number; bytes: number } | undefined;
  private lastDraw = 0;
  private lastTenth = -1;
  private done = 0;

  constructor(
    private readonly stream: ProgressStream,
    private readonly label: string,
    private readonly total: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Bytes/s over the window, or since the start while the window is short; undefined until samples 100 ms apart. */
  rate(): number | undefined {
    const last = this.samples.at(-1);
    const windowStart = this.samples[0];
    const from = windowStart && last && last.at - windowStart.at >= 500 ? windowStart : this.first;
    if (!from || !last || last.at - from.at < 100) return undefined;
    return Math.max(0, (last.bytes - from.bytes) / ((last.at - from.at) / 1000));
  }

  /** The importer holds `bytes` (it may go back after a dropped connection). */
  update(bytes: number): void {
    const at = this.now();
    this.done = bytes;
    if (this.samples.length && bytes < (this.samples.at(-1)?.bytes ?? 0)) {
      this.samples = [];
      this.first = undefined;
    }
    this.first ??= { at, bytes };
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && at - (this.samples[0]?.at ?? at) > WINDOW_MS) this.samples.shift();
    if (this.stream.isTTY) {
      if (at - this.lastDraw < 200 && bytes < this.total) return;
      this.lastDraw = at;
      this.stream.write(CLEAR_LINE + fitWidth(progressLine(this.label, bytes, this.total, this.rate()), this.stream.columns));
      return;
    }
    const tenth = this.total > 0 ? Math.floor((bytes / this.total) * 10) : 10;
    if (tenth <= this.lastTenth) return;
    this.lastTenth = tenth;
    this.stream.write(`${progressLine(this.label, bytes, this.total, this.rate())}\n`);
  }

  /** A line about a retry, kept above the bar. */
  note(text: string): void {
    this.stream.write(`${this.stream.isTTY ? CLEAR_LINE : ''}${text}\n`);
    if (this.stream.isTTY) this.stream.write(progressLine(this.label, this.done, this.total, this.rate()));
  }

  /** Ends the bar's line. */
  end(): void {
    if (this.stream.isTTY) this.stream.write('\n');
  }
}
