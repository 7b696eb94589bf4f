// The importer's progress as `GET /status` reports it (importerStatus). Reading the source is
// most of the work of an import, so it spans 0-80 % and conversion 80-99 %; 100 % only once
// the target is written, synced and verified.

import type { ImporterStatus } from '../../api/contract/importer.js';
import type { ImportError } from './errors.js';

/** Share of the percentage that reading the source covers; conversion has the rest but 1 %. */
const READ_SHARE = 80;
const CONVERT_SHARE = 19;

type Phase = ImporterStatus['phase'];

/** Mutable progress of one import; `status()` is the snapshot served. */
export class ImportProgress {
  private phase: Phase = 'Waiting';
  private bytesRead = 0;
  private bytesTotal: number | undefined;
  private convertPercent = 0;
  private retries = 0;
  private failure: ImporterStatus['failure'];
  private found: { format?: string; virtualSizeBytes?: number } = {};
  private checksumVerified = false;

  /** Reading the source starts (download, upload or file), with its size when known. */
  reading(total?: number): void {
    this.phase = 'Downloading';
    if (total !== undefined) this.bytesTotal = total;
  }

  /** The total became known later (the first response's Content-Length, an upload's length). */
  total(bytes: number): void {
    this.bytesTotal = bytes;
  }

  /** `bytes` more source bytes arrived. A transient failure being retried is over once bytes flow again. */
  read(bytes: number): void {
    this.bytesRead += bytes;
    if (this.failure && !this.failure.permanent) this.failure = undefined;
  }

  /** Restart the byte count (a server that cannot resume sends the file again). */
  restartReading(): void {
    this.bytesRead = 0;
  }

  /** A transient failure, retried: counted and shown until bytes flow again. */
  retrying(err: ImportError): void {
    this.retries += 1;
    this.failure = { reason: err.reason, message: err.message, permanent: false };
  }

  /** What qemu-img found. */
  detected(format: string, virtualSizeBytes: number): void {
    this.found = { format, virtualSizeBytes };
  }

  converting(percent = 0): void {
    this.phase = 'Converting';
    this.convertPercent = Math.max(this.convertPercent, Math.min(100, percent));
  }

  verifying(): void {
    this.phase = 'Verifying';
  }

  checksumMatched(): void {
    this.checksumVerified = true;
  }

  done(): void {
    this.phase = 'Done';
  }

  failed(err: ImportError): void {
    this.phase = 'Failed';
    this.failure = { reason: err.reason, message: err.message, permanent: true };
  }

  get currentPhase(): Phase {
    return this.phase;
  }

  /** The 0-100 figure over the whole import. */
  percent(): number {
    const readPart = this.bytesTotal ? Math.min(1, this.bytesRead / this.bytesTotal) * READ_SHARE : 0;
    switch (this.phase) {
      case 'Waiting':
        return 0;
      case 'Downloading':
        return Math.floor(readPart);
      case 'Converting':
        return Math.floor(READ_SHARE + (this.convertPercent / 100) * CONVERT_SHARE);
      case 'Verifying':
        return READ_SHARE + CONVERT_SHARE;
      case 'Done':
        return 100;
      case 'Failed':
        return Math.floor(readPart);
    }
  }

  /** The `GET /status` answer. */
  status(): ImporterStatus {
    return {
      phase: this.phase,
      bytesRead: this.bytesRead,
      ...(this.bytesTotal === undefined ? {} : { bytesTotal: this.bytesTotal }),
      percent: this.percent(),
      ...this.found,
      checksumVerified: this.checksumVerified,
      ...(this.failure ? { failure: this.failure } : {}),
      retries: this.retries,
    };
  }
}
