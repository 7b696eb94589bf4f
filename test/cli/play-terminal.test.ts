// `kubevmm play` in a real terminal (tmux), as a person uses it: installed the README's way,
// type into the guest's shell, detach the console with Ctrl-], shut the guest down with Ctrl-C,
// and the shell sees play's own exit code 0.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGuest, requireQemu } from '../../harness/guest.js';
import { installKubevmm, type InstalledKubevmm } from './helpers/kubevmm.js';
import { requireTmux, tmux, tmuxSession } from './helpers/tmux.js';

const SESSION = `kubevmm-play-${process.pid}`;
let image = '';
let kubevmm: InstalledKubevmm;

const terminal = tmuxSession(SESSION);
const { screen, until } = terminal;

beforeAll(async () => {
  requireTmux();
  await requireQemu();
  image = await buildGuest();
  kubevmm = await installKubevmm();
}, 300_000);

afterAll(async () => {
  terminal.kill();
  await kubevmm?.remove();
});

it('gives the guest shell to the terminal, detaches on Ctrl-], and shuts down on Ctrl-C', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubevmm-tty-'));
  const manifest = join(dir, 'tty.yaml');
  writeFileSync(
    manifest,
    'apiVersion: kubevmm.io/v1alpha1\nkind: VirtualMachine\nmetadata: { name: tty }\nspec:\n  memory: { guest: 160Mi }\n  devices: { graphics: none }\n  interfaces: []\n  disks:\n    - { name: root, readOnly: true, containerDisk: { image: fixture } }\n    - { name: ci, cloudInit: { userData: "#cloud-config\\n" } }\n',
  );
  const command = `${kubevmm.bin} play ${manifest} --disk root=${image} --accel tcg; echo KUBEVMM-EXIT=$?; sleep 60`;
  tmux('new-session', '-d', '-s', SESSION, '-x', '150', '-y', '40', command);
  await until('the guest to be ready', () => screen().includes('Press Enter for a shell.'), 120_000);
  tmux('send-keys', '-t', SESSION, 'Enter');
  await until('a shell prompt', () => screen().includes('kubevmm-guest#'), 20_000);
  tmux('send-keys', '-t', SESSION, 'echo typed-$((6*7))', 'Enter');
  await until('the guest to run the command', () => screen().includes('typed-42'), 20_000);
  tmux('send-keys', '-t', SESSION, 'C-]');
  await until('the console to detach', () => screen().includes('console detached; the VM keeps running'), 10_000);
  tmux('send-keys', '-t', SESSION, 'C-c');
  await until('play to exit', () => /KUBEVMM-EXIT=\d+/.test(screen()), 90_000);
  expect(screen()).toContain('GuestShutdown: guest powered off');
  expect(screen()).toContain('KUBEVMM-EXIT=0');
}, 300_000);
