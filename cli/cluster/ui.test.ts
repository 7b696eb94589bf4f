import { Command, CommanderError } from 'commander';
import { join } from 'node:path';
import { addClusterVerbs, type VerbRequest } from './args.js';
import { appDir, forwardPage, openerOf, packageRoot } from './ui.js';

async function parse(...args: string[]): Promise<VerbRequest | CommanderError> {
  let request: VerbRequest | undefined;
  const program = new Command('kubevmm').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  addClusterVerbs(program, async (r) => {
    request = r;
  });
  try {
    await program.parseAsync(['node', 'kubevmm', ...args]);
    return request!;
  } catch (err) {
    return err as CommanderError;
  }
}

describe('kubevmm ui', () => {
  it('parses its flags: a free port, 127.0.0.1 and a browser by default; kubectl’s flags', async () => {
    expect(await parse('ui')).toEqual({ verb: 'ui', port: 0, address: '127.0.0.1', open: true });
    expect(await parse('ui', '--port', '8080', '--address', '::1', '--no-open', '-n', 'web', '--context', 'prod')).toEqual({ verb: 'ui', port: 8080, address: '::1', open: false, namespace: 'web', context: 'prod' });
  });

  it('refuses an address off loopback and a port out of range (usage errors)', async () => {
    for (const args of [['--address', '0.0.0.0'], ['--address', '192.168.1.2'], ['--port', '70000'], ['--port', 'x']]) {
      const err = await parse('ui', ...args);
      expect(err).toBeInstanceOf(CommanderError);
      expect((err as CommanderError).message).toMatch(/--address takes a loopback address|--port takes a whole number/);
    }
  });

  it('finds the app in dist/ui of the package it runs from (the bundle’s chunks or the sources), or names npm run bundle', () => {
    const files = new Set(['/pkg/package.json', '/pkg/dist/ui/index.html']);
    const exists = (f: string) => files.has(f);
    expect(packageRoot('/pkg/dist/cli/chunks', exists)).toBe('/pkg');
    expect(appDir({}, '/pkg/dist/cli/chunks', exists)).toBe(join('/pkg', 'dist', 'ui'));
    expect(appDir({}, '/pkg/cli/cluster', exists)).toBe(join('/pkg', 'dist', 'ui'));
    expect(() => appDir({}, '/other/cli', (f) => f === '/other/package.json')).toThrow(/dist\/ui\/index.html is missing\); build it with: npm run bundle/);
    expect(appDir({ KUBEVMM_UI_DIR: '/dev/app' }, '/pkg/cli', (f) => f === '/dev/app/index.html')).toBe('/dev/app');
  });

  it('opens the browser through a page that forwards without script, the address escaped', () => {
    const page = forwardPage('http://127.0.0.1:1/?session=a"b<c');
    expect(page).toContain('content="0;url=http://127.0.0.1:1/?session=a&#34;b&#60;c"');
    expect(page).not.toContain('<script');
    expect([openerOf('linux'), openerOf('darwin'), openerOf('win32')]).toEqual(['xdg-open', 'open', undefined]);
  });
});
