import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { modeLine } from './console.js';
import { forwardLine } from './forward.js';
import { newFramebuffer } from './rfb.js';
import { encodePng, vncAddressLine, writeAtomically } from './vnc.js';

describe('what the stream verbs print', () => {
  it('gives the address to point a viewer or a client at, and how to stop', () => {
    expect(vncAddressLine(5901)).toBe('VNC on 127.0.0.1:5901: point any VNC viewer at it (Ctrl-C stops)');
    expect(forwardLine(8080, 'web', 80)).toBe('Forwarding 127.0.0.1:8080 -> web:80 (Ctrl-C stops)');
  });

  it("says how a console session detaches, and when it is another session's mirror", () => {
    expect(modeLine('web', 'interactive', true)).toBe('connected to the console of web (Ctrl-] detaches)');
    expect(modeLine('web', undefined, false)).toBe('connected to the console of web (the end of the input detaches)');
    expect(modeLine('web', 'read-only', true)).toMatch(/^read-only: another session is typing on the console of web; you see its output and your keys go nowhere/);
  });
});

describe('screenshots', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubevmm-png-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('encodes the RGBA screen as a PNG that decodes to the same pixels', () => {
    const fb = newFramebuffer(3, 2);
    fb.rgba.set([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 9, 9, 9, 255, 0, 0, 0, 255, 255, 255, 255, 255]);
    const png = PNG.sync.read(encodePng(fb));
    expect([png.width, png.height]).toEqual([3, 2]);
    expect(png.data.equals(fb.rgba)).toBe(true);
  });

  it('replaces the file whole and leaves no temporary file, also when the write fails', async () => {
    const file = join(dir, 'shot.png');
    await writeAtomically(file, Buffer.from('first'));
    await writeAtomically(file, Buffer.from('second'));
    expect(await readFile(file, 'utf8')).toBe('second');
    expect(await readdir(dir)).toEqual(['shot.png']);
    await expect(writeAtomically(join(dir, 'no-such-dir', 'x.png'), Buffer.from('x'))).rejects.toThrow(/ENOENT/);
    expect(await readdir(dir)).toEqual(['shot.png']);
  });
});
