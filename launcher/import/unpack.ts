// Decompression as a stream: the first bytes say gzip (node's zlib), xz (Debian's xz, one
// process reading stdin) or neither, and the rest flows through without being held in memory.
// Streams, not files: a download is decompressed while it arrives, so a .xz image needs no
// room for both the compressed and the decompressed copy.

import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Duplex, Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { PROGRAMS } from '../programs.js';
import { ImportError } from './errors.js';
import { sniffCompression, type Compression } from './sniff.js';

/** Bytes needed to tell the compression. */
const MAGIC_BYTES = 6;
/** Write in big pieces: disk images are large and sequential. */
const WRITE_CHUNK = 1024 * 1024;

/** `xz -dc` as a duplex stream; a non-zero exit destroys it with xz's own words. */
function xzStream(binary: string): Duplex {
  const child = spawn(binary, ['--decompress', '--stdout', '--quiet', '--threads=1'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-500)));
  const duplex = Duplex.from({ writable: child.stdin, readable: child.stdout });
  child.on('error', (err) => duplex.destroy(new ImportError({ reason: 'ImportFailed', message: `cannot run ${binary} to decompress the .xz image: ${err.message}`, cause: err })));
  child.on('close', (code, signal) => {
    if (code !== 0) duplex.destroy(new ImportError({ reason: 'ImportFailed', message: `the xz data does not decompress (${signal ?? `exit ${code}`}): ${stderr.trim() || 'xz said nothing'}` }));
  });
  duplex.on('close', () => child.kill());
  return duplex;
}

/** The decompressing stage; none for an uncompressed stream (one hop less for every byte). */
function decompressor(compression: Compression, xzBinary: string): (Transform | Duplex)[] {
  if (compression === 'gzip') return [createGunzip({ chunkSize: 256 * 1024 })];
  if (compression === 'xz') return [xzStream(xzBinary)];
  return [];
}

/** The stream's first bytes and a stream that yields them and then the rest. */
async function peek(source: Readable): Promise<{ head: Buffer; stream: Readable }> {
  const iterator = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < MAGIC_BYTES) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    chunks.push(next.value);
    length += next.value.length;
  }
  const head = Buffer.concat(chunks);
  async function* all(): AsyncGenerator<Buffer> {
    yield head;
    if (ended) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { head, stream: Readable.from(all(), { objectMode: false }) };
}

/** Options of {@link unpackStream}. */
export interface UnpackOptions {
  /** The xz binary. Default PROGRAMS.xz. */
  xz?: string;
}

/** Write `source` to `dest`, decompressed when it is gzip or xz; resolves with the compression seen. */
export async function unpackStream(source: Readable, dest: string, options: UnpackOptions = {}): Promise<Compression> {
  const { head, stream } = await peek(source);
  const sniffed = sniffCompression(head);
  if (sniffed.unsupported) {
    source.destroy();
    throw new ImportError({ reason: 'UnsupportedFormat', message: `the file is ${sniffed.unsupported}-compressed; kubevmm reads gzip (.gz) and xz (.xz): recompress it with one of those` });
  }
  try {
    await pipeline([stream, ...decompressor(sniffed.compression, options.xz ?? PROGRAMS.xz), createWriteStream(dest, { highWaterMark: WRITE_CHUNK })]);
  } catch (err) {
    if (err instanceof ImportError) throw err;
    const zlib = (err as { code?: string }).code?.startsWith('Z_');
    throw new ImportError({ reason: 'ImportFailed', message: zlib ? `the gzip data does not decompress: ${(err as Error).message}` : (err as Error).message, cause: err });
  }
  return sniffed.compression;
}

/** The compression of a local file, from its first bytes. */
export async function fileCompression(path: string): Promise<Compression> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(MAGIC_BYTES);
    const { bytesRead } = await handle.read(head, 0, MAGIC_BYTES, 0);
    return sniffCompression(head.subarray(0, bytesRead)).compression;
  } finally {
    await handle.close();
  }
}

/** A local file decompressed into `dest`; `onBytes` sees the compressed bytes as they are read. */
export async function unpackFile(path: string, dest: string, onBytes: (n: number) => void, options: UnpackOptions = {}): Promise<Compression> {
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of createReadStream(path, { highWaterMark: WRITE_CHUNK }) as AsyncIterable<Buffer>) {
      onBytes(chunk.length);
      yield chunk;
    }
  }
  return unpackStream(Readable.from(counted(), { objectMode: false }), dest, options);
}
