/**
 * `kubevmm image import|upload`'s command line, parsed into typed requests like the other
 * cluster verbs (args.ts). Bad input is a usage error (exit 2) naming the flag.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { isQuantity } from '../../api/quantity.js';
import type { ClusterFlags } from './args.js';

/** `image import NAME --url URL`: a manifest to print, or to apply with `--apply`. */
export interface ImageImportRequest extends ClusterFlags {
  verb: 'image-import';
  name: string;
  url: string;
  sha256?: string;
  size?: string;
  storageClass?: string;
  apply: boolean;
}

/** `image upload NAME --file PATH`. */
export interface ImageUploadRequest extends ClusterFlags {
  verb: 'image-upload';
  name: string;
  file: string;
  size?: string;
  storageClass?: string;
  create: boolean;
  wait: boolean;
  /** Seconds without progress (and, with wait, to reach Ready) before giving up. */
  timeout: number;
}

/** Default --timeout of an upload, seconds: how long nothing may progress. */
export const DEFAULT_UPLOAD_TIMEOUT_S = 600;

function quantity(flag: string) {
  return (value: string): string => {
    if (!isQuantity(value)) throw new InvalidArgumentError(`${flag} takes a quantity such as 20Gi or 512Mi`);
    return value;
  };
}

function seconds(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 604_800) throw new InvalidArgumentError('--timeout takes whole seconds from 1 to 604800');
  return n;
}

type Flags = Record<string, unknown>;
const str = (f: Flags, key: string) => (typeof f[key] === 'string' ? { [key]: f[key] as string } : {});

/** Adds `image import` and `image upload`; each parsed call goes to `run`. `cluster` adds the kubeconfig flags and reads them back. */
export function addImageVerbs(program: Command, run: (request: ImageImportRequest | ImageUploadRequest) => Promise<void>, cluster: { flags(c: Command): Command; read(f: Flags): ClusterFlags }): void {
  const image = program.command('image').description('VirtualMachineImages: import one from a URL, or upload a local disk image (docs/disk-images.md)');
  cluster
    .flags(image.command('import').description('a VirtualMachineImage downloaded from an http(s) URL: prints the manifest, --apply applies it').argument('<name>', 'VirtualMachineImage'))
    .requiredOption('--url <url>', 'where the image is: qcow2, raw, vmdk or iso, optionally .gz or .xz, or an OVA')
    .option('--sha256 <hex>', 'the SHA-256 of the file as served: an image that differs ends Failed')
    .option('--size <quantity>', "the image claim's size, e.g. 20Gi (default: the operator's)", quantity('--size'))
    .option('--storage-class <name>', "the image claim's StorageClass (default: the cluster's default)")
    .option('--apply', 'server-side apply the image instead of printing it')
    .action((name: string, f: Flags) =>
      run({ verb: 'image-import', name, url: f.url as string, ...str(f, 'sha256'), ...str(f, 'size'), ...(f.storageClass ? { storageClass: f.storageClass as string } : {}), apply: f.apply === true, ...cluster.read(f) }),
    );
  cluster
    .flags(image.command('upload').description('upload a local disk image (qcow2, raw, vmdk, iso) into a VirtualMachineImage with source upload; resumable: run it again to continue').argument('<name>', 'VirtualMachineImage'))
    .requiredOption('--file <path>', 'the disk image to upload')
    .option('--create', 'create the image (source upload) when it does not exist')
    .option('--size <quantity>', "with --create: the image claim's size (default: the disk's virtual size plus room; needed for .gz and .xz)", quantity('--size'))
    .option('--storage-class <name>', "with --create: the image claim's StorageClass")
    .option('--no-wait', 'return once the file is uploaded, without waiting for the image to be Ready')
    .option('--timeout <seconds>', `give up after this long without progress, and waiting for Ready (default ${DEFAULT_UPLOAD_TIMEOUT_S}); exit 3 when it runs out`, seconds, DEFAULT_UPLOAD_TIMEOUT_S)
    .action((name: string, f: Flags) =>
      run({
        verb: 'image-upload',
        name,
        file: f.file as string,
        ...str(f, 'size'),
        ...(f.storageClass ? { storageClass: f.storageClass as string } : {}),
        create: f.create === true,
        wait: f.wait !== false,
        timeout: (f.timeout as number | undefined) ?? DEFAULT_UPLOAD_TIMEOUT_S,
        ...cluster.read(f),
      }),
    );
}
