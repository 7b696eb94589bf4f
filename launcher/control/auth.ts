// Bearer-token authentication of the control API. The token comes from a file (a Secret
// volume in the pod); it is re-read when the file changes, so a rotated Secret takes effect
// without restarting the VM. Comparison is constant-time over digests, which also hides the
// token's length.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';

/** True when `given` equals `expected`, in time independent of where they differ. */
export function tokensMatch(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && expected.length > 0;
}

/** The token of an `Authorization: Bearer <token>` header, if it is one. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** A token file, re-read whenever its inode, size or mtime changes. */
export class TokenFile {
  private cached: { key: string; token: string } | undefined;

  constructor(private readonly path: string) {}

  /** The current token (surrounding whitespace removed); throws when the file is unreadable or empty. */
  async token(): Promise<string> {
    const info = await stat(this.path);
    const key = `${info.ino}:${info.size}:${info.mtimeMs}`;
    if (this.cached?.key !== key) {
      const token = (await readFile(this.path, 'utf8')).trim();
      if (!token) throw new Error(`token file ${this.path} is empty`);
      this.cached = { key, token };
    }
    return this.cached.token;
  }
}
