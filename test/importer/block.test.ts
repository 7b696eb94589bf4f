// The importer onto a Block claim: a loop device stands in for the claim's device. Old data on
// the device must not show through where the image has zeros (the written disk equals the image
// over its whole virtual size), and the device's own size (read from sysfs) bounds the image
// even when the task's capacity is larger. Needs root and loop devices, as the real-node tier.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImportError, runImport } from '../../launcher/import/index.js';
import { DISK_BYTES, makeDiskImages, requireTools, type DiskImages } from './helpers/images.js';

const exec = promisify(execFile);
const MiB = 1024 * 1024;

let work: string;
let images: DiskImages;
const devices: string[] = [];

/** A loop device over a file of `bytes` full of random data (a device that held something else). */
async function loopDevice(bytes: number): Promise<string> {
  const backing = join(work, `device-${devices.length}.img`);
  await writeFile(backing, randomBytes(bytes));
  const { stdout } = await exec('losetup', ['--find', '--show', backing]).catch((err: unknown) => {
    throw new Error(`cannot set up a loop device (${String(err)}): this suite needs root and /dev/loop-control (losetup from util-linux)`);
  });
  devices.push(stdout.trim());
  return stdout.trim();
}

beforeAll(async () => {
  await requireTools();
  work = await mkdtemp(join(tmpdir(), 'kubevmm-import-block-'));
  images = await makeDiskImages(join(work, 'images'));
  await mkdir(join(work, 'scratch'));
}, 120_000);

afterAll(async () => {
  for (const device of devices) await exec('losetup', ['--detach', device]).catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

async function deviceBytes(device: string, length: number): Promise<Buffer> {
  const handle = await open(device, 'r');
  try {
    const out = Buffer.alloc(length);
    await handle.read(out, 0, length, 0);
    return out;
  } finally {
    await handle.close();
  }
}

it('writes the image over old data: zeros of the image are zeros on the device', async () => {
  const device = await loopDevice(DISK_BYTES + 16 * MiB);
  const result = await runImport({ task: { source: { kind: 'file', path: images.qcow2 }, target: { mode: 'Block', capacityBytes: 1024 * MiB } }, scratchDir: join(work, 'scratch'), targetDir: join(work, 'none'), targetDevice: device });
  expect(result).toEqual({ format: 'qcow2', virtualSizeBytes: DISK_BYTES, checksumVerified: false });
  expect((await deviceBytes(device, DISK_BYTES)).equals(await readFile(images.raw))).toBe(true);
});

it('refuses an image larger than the device before writing, whatever the task says', async () => {
  const device = await loopDevice(16 * MiB);
  const before = await deviceBytes(device, 16 * MiB);
  const err = await runImport({ task: { source: { kind: 'file', path: images.qcow2 }, target: { mode: 'Block', capacityBytes: 1024 * MiB } }, scratchDir: join(work, 'scratch'), targetDir: join(work, 'none'), targetDevice: device }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ImportError);
  expect(err).toMatchObject({ reason: 'ClaimTooSmall', message: expect.stringContaining(`holds ${16 * MiB} bytes`) });
  expect((await deviceBytes(device, 16 * MiB)).equals(before)).toBe(true);
});
