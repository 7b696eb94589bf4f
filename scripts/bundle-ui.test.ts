import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './bundle.js';
import { bundleUi, renderIndex } from './bundle-ui.js';

describe('the web console bundle', () => {
  let out: string;
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'kubevmm-ui-bundle-'));
  });
  afterAll(() => rm(out, { recursive: true, force: true }));

  it('writes index.html naming hashed assets that exist, with no inline script or style and nothing from another origin', async () => {
    const index = await bundleUi({ outDir: out, root: REPO_ROOT });
    const page = await readFile(index, 'utf8');
    const js = /<script type="module" src="(assets\/main-[A-Z0-9]+\.js)"><\/script>/.exec(page)?.[1];
    const css = /<link rel="stylesheet" href="(assets\/main-[A-Z0-9]+\.css)">/.exec(page)?.[1];
    expect(js).toBeDefined();
    expect(css).toBeDefined();
    expect((await stat(join(out, js!))).size).toBeGreaterThan(10_000);
    expect((await stat(join(out, css!))).size).toBeGreaterThan(1_000);
    expect(page).not.toMatch(/<script>|<style|\sstyle=|\son[a-z]+=|https?:\/\//);
  }, 60_000);

  it('loads the console, VNC and chart libraries as separate chunks, not in the first script', async () => {
    const chunks = await readdir(join(out, 'assets', 'chunks'));
    for (const name of ['console', 'vnc', 'performance']) expect(chunks.some((c) => c.startsWith(`${name}-`) && c.endsWith('.js'))).toBe(true);
    const page = await readFile(join(out, 'index.html'), 'utf8');
    const main = await readFile(join(out, /src="([^"]+)"/.exec(page)![1]!), 'utf8');
    expect(main).not.toContain('xterm');
    expect(main).not.toContain('noVNC');
  });

  it('refuses a template without its placeholders', () => {
    expect(() => renderIndex('<html></html>', { js: 'a.js', css: 'a.css' })).toThrow(/lacks \{\{js\}\}/);
  });
});
