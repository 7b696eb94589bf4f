/**
 * The wait after an upload: the operator converts the file and reports Ready or Failed in the
 * image's status. Polled every two seconds (an image's phase changes a few times in its life),
 * each change printed on stderr; Ready prints the result on stdout.
 */
import { EXIT, VerbError } from '../exit.js';
import type { ClusterContext } from './context.js';
import { ImageClient, type ImageObject } from './image-api.js';
import { printable, type Output } from './progress.js';

/** The line for an image's state now. */
export function imageStateLine(name: string, image: ImageObject | undefined): string {
  if (!image) return `vmimage/${name}: gone`;
  const { phase = 'Pending', progress } = image.status ?? {};
  return `vmimage/${name}: ${phase}${progress && phase === 'Importing' ? ` ${progress}` : ''}`;
}

/** Why a Failed image failed: its Failure (or Ready=False) condition. */
export function failureOf(image: ImageObject): string {
  const conditions = image.status?.conditions ?? [];
  const failure = conditions.find((c) => c.type === 'Failure' && c.status === 'True') ?? conditions.find((c) => c.type === 'Ready' && c.status === 'False');
  return failure ? `${failure.reason ?? 'Failed'}: ${failure.message ?? ''}` : 'no condition says why (kubectl describe vmimage shows its events)';
}

/** Waits for Ready (exit 0), Failed (a VerbError with why) or the timeout (exit 3). */
export async function waitForImage(ctx: ClusterContext, name: string, opts: { timeoutMs: number; io: Output; pollMs?: number }): Promise<number> {
  const client = new ImageClient(ctx, name);
  const deadline = Date.now() + opts.timeoutMs;
  let shown = '';
  for (;;) {
    const image = await client.get().catch((err: unknown) => {
      if ((err as { transient?: boolean }).transient) return null;
      throw err;
    });
    if (image !== null) {
      const line = imageStateLine(name, image);
      if (line !== shown) opts.io.err.write(`${printable(line)}\n`);
      shown = line;
      if (!image) throw new VerbError(`image ${ctx.namespace}/${name} was deleted while importing`);
      if (image.status?.phase === 'Ready') {
        const { format, virtualSize } = image.status;
        opts.io.out.write(`virtualmachineimage.kubevmm.io/${name} Ready${format ? ` (${printable(format)}${virtualSize ? `, ${printable(virtualSize)}` : ''})` : ''}\n`);
        return EXIT.ok;
      }
      if (image.status?.phase === 'Failed') throw new VerbError(`image ${ctx.namespace}/${name} Failed: ${printable(failureOf(image))}`);
    }
    if (Date.now() > deadline) throw new VerbError(`image ${ctx.namespace}/${name} is not Ready after ${Math.round(opts.timeoutMs / 1000)} s (${shown}); the upload is complete, the import goes on: kubectl get vmimage ${name} -w`, EXIT.timedOut);
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 2000));
  }
}
