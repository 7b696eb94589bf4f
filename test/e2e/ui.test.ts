// The web console on the real node (issue 14), in Debian's Chromium: a kubevmm-vm-user signs in
// with a token, creates a VM in the wizard and sees it reach Running without a reload, reads
// the guest's boot and types on the serial tab, sees the VNC canvas draw, attaches a disk and
// stops the VM from the page; a kubevmm-vm-viewer sees the VM with the actions disabled and is
// refused the console. The console runs in cluster mode (ui/server, the browser's own token),
// as the chart serves it. Every failed step saves a screenshot under test-artifacts/ui/; the
// VNC tab's screenshot is written to docs/img/ui-vnc.png for the docs.
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Browser } from 'playwright-core';
import { cspViolations, launchChromium, openPage, screenshot, step, type TestPage } from '../ui/helpers/browser.js';
import { startConsole, type ConsoleServer } from '../ui/helpers/console-server.js';
import { E2E_UP_TIMEOUT_MS, getJson, imageRef, kubectl, testNamespace, useE2eCluster } from './helpers/cluster.js';
import { bindClusterRole } from './helpers/cli.js';
import { claimManifest } from './helpers/pvc.js';
import { apply, BOOT_MS, getVm } from './helpers/vm.js';

/** Where the docs' VNC screenshot goes (the lead commits it after a run). */
const VNC_SCREENSHOT = join(process.cwd(), 'docs', 'img', 'ui-vnc.png');
const VM = 'ui-web';

let ns: { name: string; drop: () => void };
let browser: Browser;
let served: ConsoleServer;
let editor: TestPage;
const tokens: Record<string, string> = {};

function user(name: string, role: string): string {
  kubectl(['-n', ns.name, 'create', 'serviceaccount', name]);
  bindClusterRole(ns.name, name, role);
  return kubectl(['-n', ns.name, 'create', 'token', name, '--duration', '2h']).stdout.trim();
}

async function signIn(token: string): Promise<TestPage> {
  const t = await openPage(browser);
  await t.page.goto(served.url);
  await t.page.getByTestId('signin-token').fill(token);
  await t.page.getByTestId('signin-submit').click();
  await step(t, 'sign in', () => t.page.getByTestId('inventory').waitFor());
  return t;
}

const tab = (t: TestPage, name: string) => t.page.goto(`${served.url}#/ns/${ns.name}/vm/${VM}/${name}`);

beforeAll(async () => {
  useE2eCluster();
  ns = testNamespace('e2e-ui');
  tokens.editor = user('editor', 'kubevmm-vm-user');
  tokens.viewer = user('viewer', 'kubevmm-vm-viewer');
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.KUBECONFIG!);
  served = await startConsole(kc, ns.name);
  browser = await launchChromium();
  editor = await signIn(tokens.editor!);
}, E2E_UP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await served?.close();
  ns?.drop();
});

describe('a kubevmm-vm-user in the web console', () => {
  it('creates a VM in the wizard; it appears and reaches Running without a reload', async () => {
    const { page } = editor;
    await page.getByTestId('create-vm').click();
    await page.getByTestId('wiz-name').fill(VM);
    await page.getByTestId('wiz-cpus').fill('1');
    await page.getByTestId('wiz-memory').fill('128Mi');
    await page.getByTestId('wiz-boot-value').fill(imageRef('guest-disk'));
    await page.getByTestId('wizard-review').click();
    await step(editor, 'manifest', () => page.getByTestId('wizard-manifest').waitFor());
    await page.getByTestId('wizard-apply').click();
    await step(editor, 'VM page', () => page.getByTestId('vm-page').waitFor());
    await page.getByTestId('back').click();
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
    const row = page.locator(`[data-testid="vm-row"][data-name="${VM}"]`);
    await step(editor, 'Running in the inventory', () => row.getByText('Running').waitFor({ timeout: BOOT_MS }));
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);
    expect(getVm(ns.name, VM)?.status?.printableStatus).toBe('Running');
    await screenshot(page, 'e2e-inventory-running');
  });

  it("shows the guest's boot on the serial tab and echoes a typed command", async () => {
    const { page } = editor;
    await tab(editor, 'console');
    // The terminal's text as xterm.js's DOM renderer shows it (rows of spans), polled from here.
    const text = () => page.getByTestId('console-terminal').locator('.xterm-rows').innerText();
    const onTerminal = (what: string, needle: string, ms: number) =>
      step(editor, what, async () => {
        const until = Date.now() + ms;
        while (!(await text()).includes(needle)) {
          if (Date.now() > until) throw new Error(`no "${needle}" on the terminal after ${ms} ms; it shows:\n${await text()}`);
          await page.waitForTimeout(500);
        }
      });
    await step(editor, 'console connected', () => page.getByTestId('console-state').filter({ hasText: 'connected' }).waitFor({ timeout: 60_000 }));
    await onTerminal('boot output', 'Press Enter for a shell.', BOOT_MS);
    await page.getByTestId('console-terminal').click();
    await page.keyboard.press('Enter');
    await onTerminal('shell prompt', 'kubevmm-guest#', 30_000);
    await page.keyboard.type('echo typed-$((6*7))');
    await page.keyboard.press('Enter');
    await onTerminal('echo', 'typed-42', 30_000);
    await screenshot(page, 'e2e-serial');
  });

  it('draws the VNC display on a canvas that is not blank, with Ctrl-Alt-Del and paste-as-keystrokes', async () => {
    const { page } = editor;
    await tab(editor, 'vnc');
    await step(editor, 'VNC connected', () => page.getByTestId('vnc-state').filter({ hasText: 'connected' }).waitFor({ timeout: 60_000 }));
    const colours = async () =>
      page.evaluate(() => {
        const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="vnc-screen"] canvas');
        if (!canvas || !canvas.width) return 0;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < data.length && seen.size < 16; i += 4 * 97) seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
        return seen.size;
      });
    await step(editor, 'canvas not blank', async () => {
      for (let i = 0; i < 60 && (await colours()) < 2; i++) await page.waitForTimeout(1000);
      expect(await colours()).toBeGreaterThanOrEqual(2);
    });
    expect(await page.getByTestId('vnc-ctrl-alt-del').isEnabled()).toBe(true);
    await page.getByTestId('vnc-paste').fill('echo pasted');
    await page.getByTestId('vnc-type').click();
    await screenshot(page, 'vnc', VNC_SCREENSHOT);
    await screenshot(page, 'e2e-vnc');
    expect(cspViolations(editor.errors)).toEqual([]);
  });

  it('attaches a disk from the summary and shows it Attached', async () => {
    const { page } = editor;
    apply(claimManifest(ns.name, 'extra'));
    await tab(editor, 'summary');
    await page.getByTestId('attach-claim').fill('extra');
    await page.getByTestId('attach-submit').click();
    const phase = page.locator('[data-testid="disk-row"][data-name="extra"] [data-testid="disk-phase"]');
    await step(editor, 'Attached', () => phase.filter({ hasText: 'Attached' }).waitFor({ timeout: 120_000 }));
    expect(getVm(ns.name, VM)?.status?.disks?.find((d: { name: string }) => d.name === 'extra')?.phase).toBe('Attached');
  });

  it('stops the VM from the page: Stopped in the summary', async () => {
    const { page } = editor;
    await page.getByTestId('action-stop').click();
    await step(editor, 'Stopped', () => page.getByTestId('fact-power-state').filter({ hasText: 'Stopped' }).waitFor({ timeout: 180_000 }));
    expect(getJson(['-n', ns.name, 'pod', `${VM}-launcher`])).toBeUndefined();
  });
});

describe('a kubevmm-vm-viewer in the web console', () => {
  it('sees the VM with the actions disabled and the reason, and is refused the console', async () => {
    const viewer = await signIn(tokens.viewer!);
    await tab(viewer, 'summary');
    await step(viewer, 'reason', () => viewer.page.getByTestId('actions-reason').filter({ hasText: 'you may not patch virtualmachines' }).waitFor());
    for (const action of ['start', 'stop', 'delete']) expect(await viewer.page.getByTestId(`action-${action}`).isDisabled()).toBe(true);
    await tab(viewer, 'console');
    await step(viewer, 'console denied', () => viewer.page.getByTestId('console-denied').waitFor());
    // Not only hidden: the API refuses the viewer's own request for the console, naming the right.
    const refused = await viewer.page.evaluate(async (path) => {
      const res = await fetch(path, { headers: { authorization: `Bearer ${sessionStorage.getItem('kubevmm.token')}` } });
      return { status: res.status, body: await res.text() };
    }, `k8s/apis/subresources.kubevmm.io/v1alpha1/namespaces/${ns.name}/virtualmachines/${VM}/console`);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('virtualmachines/console');
    await screenshot(viewer.page, 'e2e-viewer');
    await viewer.context.close();
  });
});
