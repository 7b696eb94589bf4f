/**
 * `kubevmm vnc NAME [--port P]`: the VM's display on a local port for any VNC viewer, each
 * viewer through a `virtualmachines/vnc` stream of its own. `kubevmm vnc NAME --screenshot
 * FILE.png`: reads one full screen over RFB and writes it as a PNG (atomically: a viewer of
 * FILE never sees half a picture).
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PNG } from 'pngjs';
import { EXIT } from '../program.js';
import type { VerbRequest } from './args.js';
import type { ClusterContext } from './context.js';
import { listenLocal } from './listen.js';
import { RfbError, type Framebuffer } from './rfb.js';
import { RfbClient } from './rfb-client.js';
import { processIo, reportFailure, untilStopSignal, type RunnerIo } from './runner-io.js';
import { openStream } from './stream.js';

type VncRequest = Extract<VerbRequest, { verb: 'vnc' }>;

/** The line `vnc` prints once it listens. */
export function vncAddressLine(port: number): string {
  return `VNC on 127.0.0.1:${port}: point any VNC viewer at it (Ctrl-C stops)`;
}

/** The screen as PNG bytes. */
export function encodePng(fb: Framebuffer): Buffer {
  const png = new PNG({ width: fb.width, height: fb.height });
  fb.rgba.copy(png.data);
  return PNG.sync.write(png);
}

/** Writes `bytes` to `file` through a temporary file beside it and a rename. */
export async function writeAtomically(file: string, bytes: Buffer): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(temp, bytes);
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** A screen of any size arrives in well under a second; a minute means the stream is stuck. */
const SCREENSHOT_TIMEOUT_MS = 60_000;

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new RfbError(message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function screenshot(request: VncRequest & { screenshot: string }, ctx: ClusterContext, io: RunnerIo): Promise<number> {
  const { stream } = await openStream(ctx, { name: request.name, subresource: 'vnc' });
  try {
    const client = new RfbClient(stream);
    const fb = await withTimeout(
      client.handshake().then(() => client.screenshot()),
      SCREENSHOT_TIMEOUT_MS,
      `no full screen came from the VNC server of ${request.name} within ${SCREENSHOT_TIMEOUT_MS / 1000} s`,
    );
    try {
      await writeAtomically(request.screenshot, encodePng(fb));
    } catch (err) {
      io.stderr.write(`kubevmm: cannot write the screenshot ${request.screenshot}: ${(err as Error).message}\n`);
      return EXIT.failed;
    }
    io.stdout.write(`${request.screenshot}: ${fb.width}x${fb.height}\n`);
    return EXIT.ok;
  } finally {
    stream.end();
    stream.destroy();
  }
}

async function serve(request: VncRequest, ctx: ClusterContext, io: RunnerIo): Promise<number> {
  // One stream opened and closed first: a refusal (no permission, no VNC, VM stopped) is
  // reported now, with exit 1, rather than to each viewer that connects later.
  (await openStream(ctx, { name: request.name, subresource: 'vnc' })).stream.destroy();
  const listener = await listenLocal({
    port: request.port ?? 0,
    open: async () => (await openStream(ctx, { name: request.name, subresource: 'vnc' })).stream,
    onError: (err, peer) => io.stderr.write(`kubevmm: viewer ${peer}: ${err.message}\n`),
  });
  io.stdout.write(`${vncAddressLine(listener.port)}\n`);
  await untilStopSignal(io);
  await listener.close();
  return EXIT.ok;
}

/** Runs `vnc`; resolves with the exit code. */
export async function runVnc(request: VncRequest, ctx: ClusterContext, io: RunnerIo = processIo()): Promise<number> {
  try {
    if (request.screenshot !== undefined) return await screenshot({ ...request, screenshot: request.screenshot }, ctx, io);
    return await serve(request, ctx, io);
  } catch (err) {
    return reportFailure(io, err);
  }
}
