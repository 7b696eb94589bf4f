import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decideAccelerator, kvmUsable } from './accel.js';
import { AcceleratorError } from './errors.js';

describe('decideAccelerator', () => {
  it.each([
    ['tcg', true, 'tcg'],
    ['tcg', false, 'tcg'],
    ['kvm', true, 'kvm'],
    ['auto', true, 'kvm'],
    ['auto', false, 'tcg'],
  ] as const)('%s with kvm usable=%s -> %s', (choice, usable, expected) => {
    expect(decideAccelerator(choice, usable)).toBe(expected);
  });

  it('rejects kvm when it is not usable, naming the device and the fix', () => {
    expect(() => decideAccelerator('kvm', false)).toThrow(AcceleratorError);
    try {
      decideAccelerator('kvm', false);
    } catch (err) {
      expect((err as AcceleratorError).reason).toBe('KvmUnavailable');
      expect((err as Error).message).toMatch(/\/dev\/kvm.*accelerator: auto/);
    }
  });
});

describe('kvmUsable', () => {
  it('is false for a missing device and true for a read-write openable file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'accel-'));
    try {
      expect(await kvmUsable(join(dir, 'missing'))).toBe(false);
      const file = join(dir, 'kvm');
      await writeFile(file, '');
      expect(await kvmUsable(file)).toBe(true);
      if (process.getuid?.() !== 0) {
        await chmod(file, 0o400);
        expect(await kvmUsable(file)).toBe(false);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
