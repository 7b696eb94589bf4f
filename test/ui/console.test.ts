// The web console in Chromium against the local control plane (issue 14): ui/server in
// cluster mode relays to the API server with the browser's own token, so every right seen
// here is the signed-in ServiceAccount's; one suite serves it in local mode, as `kubevmm ui`. The operator does not run: VM statuses are written
// by the test as the operator would. Screenshots: test-artifacts/ui/.
import type { Browser } from 'playwright-core';
import { useControlPlaneWithCrds, CONTROL_PLANE_TIMEOUT_MS, type ControlPlane } from '../operator/helpers/control-plane.js';
import { createNamespace, getJson, waitFor } from '../operator/helpers/operator-process.js';
import { cspViolations, launchChromium, openPage, screenshot, step, VIEWPORT, type TestPage } from './helpers/browser.js';
import { startConsole, type ConsoleServer } from './helpers/console-server.js';
import { applyUserRoles, applyVm, deleteUserRoles, serviceAccountUser, USER_ROLES, writeVmStatus } from './helpers/users.js';
import { runningStatus, testVm } from './helpers/vm.js';

const NS = `ui-${Date.now().toString(36)}`;
let cp: ControlPlane;
let browser: Browser;
let console_: ConsoleServer;
let editorToken: string;
let viewerToken: string;
const pages: TestPage[] = [];

beforeAll(async () => {
  cp = await useControlPlaneWithCrds();
  createNamespace(NS);
  await applyUserRoles();
  editorToken = serviceAccountUser({ namespace: NS, name: 'editor', role: USER_ROLES.user });
  viewerToken = serviceAccountUser({ namespace: NS, name: 'viewer', role: USER_ROLES.viewer });
  applyVm(testVm(NS, 'alpha'));
  writeVmStatus(NS, 'alpha', runningStatus('kwok-node-0', '10.244.0.11'));
  console_ = await startConsole(cp.kc, NS);
  browser = await launchChromium();
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  for (const p of pages) await p.context.close().catch(() => undefined);
  await browser?.close();
  await console_?.close();
  // The VMs go first, waited for: the control plane is shared, and an operator started by a later
  // suite would otherwise take up VMs of a namespace still terminating (and count their writes).
  await cp?.kubectl('-n', NS, 'delete', 'virtualmachines', '--all', '--wait=true', '--timeout=60s').catch(() => undefined);
  await cp?.kubectl('delete', 'namespace', NS, '--wait=false').catch(() => undefined);
  if (cp) deleteUserRoles();
  await cp?.release();
});

/** A fresh tab signed in with `token`, on the inventory. */
async function signedIn(token: string): Promise<TestPage> {
  const t = await openPage(browser);
  pages.push(t);
  await t.page.goto(console_.url);
  await t.page.getByTestId('signin-token').fill(token);
  await t.page.getByTestId('signin-submit').click();
  await t.page.getByTestId('inventory').waitFor();
  return t;
}

const row = (t: TestPage, name: string) => t.page.locator(`[data-testid="vm-row"][data-name="${name}"]`);

describe('signing in (cluster mode)', () => {
  it('refuses a token the API server does not accept, showing its message, and keeps no token', async () => {
    const t = await openPage(browser);
    pages.push(t);
    await t.page.goto(console_.url);
    await t.page.getByTestId('signin-token').fill('not-a-token');
    await t.page.getByTestId('signin-submit').click();
    await step(t, 'bad token error', () => t.page.getByTestId('signin-error').filter({ hasText: '401' }).waitFor());
    expect(await t.page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('signs in with a ServiceAccount token, shows who the user is, and signs out', async () => {
    const t = await signedIn(editorToken);
    await step(t, 'user shown', () => t.page.getByTestId('user').filter({ hasText: `system:serviceaccount:${NS}:editor` }).waitFor());
    expect(await t.page.evaluate(() => localStorage.length)).toBe(0);
    await t.page.getByTestId('signout').click();
    await t.page.getByTestId('signin').waitFor();
    expect(await t.page.evaluate(() => sessionStorage.length)).toBe(0);
  });
});

describe('local mode (kubevmm ui)', () => {
  it('opens from the printed address, takes the token out of it, keeps no cookie, and lets in no tab without the token', async () => {
    const local = await startConsole(cp.kc, NS, 'local');
    try {
      const t = await openPage(browser);
      pages.push(t);
      await t.page.goto(local.url);
      await step(t, 'local inventory', () => row(t, 'alpha').getByText('Running').waitFor());
      expect(await t.page.getByTestId('user').innerText()).toBe('admin');
      expect(t.page.url()).not.toContain('session=');
      expect(await t.context.cookies()).toEqual([]);
      await t.page.reload();
      await step(t, 'after a reload', () => row(t, 'alpha').waitFor());
      // Another tab of another browser profile (another local user's page could be one) on the bare address.
      const other = await openPage(browser);
      pages.push(other);
      await other.page.goto(local.server.origin);
      await step(other, 'no session', () => other.page.getByText(/401.*kubevmm ui/).waitFor());
      expect(await other.page.getByTestId('inventory').count()).toBe(0);
      expect(cspViolations(t.errors)).toEqual([]);
    } finally {
      await local.close();
    }
  });
});

describe('the inventory', () => {
  it('lists the VMs with status, node, vCPUs, memory, IP and guest OS, and shows a VM created through the API without a reload', async () => {
    const t = await signedIn(editorToken);
    await step(t, 'alpha row', () => row(t, 'alpha').getByText('Running').waitFor());
    const text = await row(t, 'alpha').innerText();
    for (const part of ['kwok-node-0', '2', '1Gi', '10.244.0.11', 'Debian GNU/Linux']) expect(text).toContain(part);
    await t.page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    applyVm(testVm(NS, 'beta'));
    await step(t, 'beta appears live', () => row(t, 'beta').waitFor({ timeout: 15_000 }));
    writeVmStatus(NS, 'beta', { printableStatus: 'Stopped' });
    await step(t, 'beta status live', () => row(t, 'beta').getByText('Stopped').waitFor({ timeout: 15_000 }));
    expect(await t.page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    await t.page.getByTestId('vm-filter').fill('stopped');
    await step(t, 'filter', () => t.page.getByTestId('vm-count').filter({ hasText: '1 of 2' }).waitFor());
    expect(await t.page.getByTestId('vm-row').count()).toBe(1);
    await t.page.getByTestId('vm-filter').fill('');
    expect(cspViolations(t.errors)).toEqual([]);
  });

  it('is driven by the keyboard: Tab to the list, arrows to a VM, Enter opens it, arrows move between tabs', async () => {
    const t = await signedIn(editorToken);
    await row(t, 'beta').waitFor();
    await step(t, 'focus the list', async () => {
      for (let i = 0; i < 20 && !(await t.page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'vm-grid')); i++) await t.page.keyboard.press('Tab');
      expect(await t.page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('vm-grid');
    });
    await t.page.keyboard.press('ArrowDown');
    expect(await row(t, 'beta').getAttribute('aria-selected')).toBe('true');
    await t.page.keyboard.press('Enter');
    await step(t, 'VM page by Enter', () => t.page.getByTestId('vm-page').waitFor());
    expect(t.page.url()).toContain(`#/ns/${NS}/vm/beta/summary`);
    await t.page.getByTestId('tab-summary').focus();
    await t.page.keyboard.press('ArrowRight');
    await step(t, 'tab by arrow', () => t.page.getByTestId('performance').or(t.page.getByTestId('metrics-error')).first().waitFor());
    expect(await t.page.evaluate(() => document.activeElement?.id)).toBe('tab-performance');
    expect(t.page.url()).toContain('/performance');
  });

  it('fits 1280×800 without sideways scrolling, and is screenshot', async () => {
    for (let i = 0; i < 6; i++) {
      const name = `web-${i + 1}`;
      applyVm(testVm(NS, name));
      writeVmStatus(NS, name, i % 3 === 2 ? { printableStatus: 'Stopped', cpus: 2, memory: '1Gi' } : runningStatus(`kwok-node-${i % 2}`, `10.244.0.${20 + i}`));
    }
    const t = await signedIn(editorToken);
    await step(t, 'eight rows', () => t.page.getByTestId('vm-count').filter({ hasText: '8 of 8' }).waitFor({ timeout: 15_000 }));
    const size = await t.page.evaluate(() => ({ width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight }));
    expect(size.width).toBeLessThanOrEqual(VIEWPORT.width);
    expect(size.height).toBeLessThanOrEqual(VIEWPORT.height);
    expect(await t.page.getByTestId('create-vm').isVisible()).toBe(true);
    await screenshot(t.page, 'inventory-1280x800');
  });
});

describe('actions and the wizard (a kubevmm-vm-user)', () => {
  it('creates a VM through the wizard after showing its manifest, and it appears in the inventory', async () => {
    const t = await signedIn(editorToken);
    await t.page.getByTestId('create-vm').click();
    await t.page.getByTestId('wiz-name').fill('Bad_Name');
    await t.page.getByTestId('wiz-boot-value').fill('registry.example/os/debian:12');
    await t.page.getByTestId('wizard-review').click();
    await step(t, 'name error on its field', () => t.page.getByTestId('error-name').filter({ hasText: 'metadata.name' }).waitFor());
    await t.page.getByTestId('wiz-name').fill('from-wizard');
    await t.page.getByTestId('wiz-sshkey').fill('ssh-ed25519 AAAAC3Nza test@ui');
    await t.page.getByTestId('wizard-review').click();
    const manifest = await step(t, 'manifest shown', async () => t.page.getByTestId('wizard-manifest').innerText());
    expect(manifest).toContain('name: from-wizard');
    expect(manifest).toContain('ssh_authorized_keys');
    await screenshot(t.page, 'wizard-review');
    await t.page.getByTestId('wizard-apply').click();
    await step(t, 'VM page after create', () => t.page.getByTestId('vm-page').waitFor());
    const vm = getJson<{ spec: { disks: { name: string }[] } }>(['-n', NS, 'virtualmachine', 'from-wizard']);
    expect(vm?.spec.disks.map((d) => d.name)).toEqual(['boot', 'cloudinit']);
    await t.page.getByTestId('back').click();
    await step(t, 'wizard VM in inventory', () => row(t, 'from-wizard').waitFor());
  });

  it('shows the API server\'s refusal on the field it names', async () => {
    const t = await signedIn(editorToken);
    await t.page.goto(`${console_.url}#/ns/${NS}/new`);
    await t.page.getByTestId('wiz-name').fill('alpha');
    await t.page.getByTestId('wiz-boot-value').fill('registry.example/os/debian:12');
    await t.page.getByTestId('wizard-review').click();
    await t.page.getByTestId('wizard-apply').click();
    await step(t, 'AlreadyExists shown', () => t.page.getByTestId('wizard-error').filter({ hasText: 'already exists' }).waitFor());
  });

  it('stop and start patch the spec, and the summary follows the status live', async () => {
    const t = await signedIn(editorToken);
    await t.page.goto(`${console_.url}#/ns/${NS}/vm/alpha/summary`);
    await step(t, 'summary', () => t.page.getByTestId('fact-guest-os').filter({ hasText: 'Debian GNU/Linux' }).waitFor());
    await step(t, 'stop enabled', () => t.page.locator('[data-testid="action-stop"]:enabled').waitFor());
    await t.page.getByTestId('action-stop').click();
    await waitFor('runStrategy Halted', () => getJson<{ spec: { runStrategy?: string } }>(['-n', NS, 'virtualmachine', 'alpha'])?.spec.runStrategy === 'Halted');
    writeVmStatus(NS, 'alpha', { printableStatus: 'Stopped' });
    await step(t, 'Stopped shown', () => t.page.getByTestId('fact-power-state').filter({ hasText: 'Stopped' }).waitFor({ timeout: 15_000 }));
    await t.page.getByTestId('action-start').click();
    await waitFor('runStrategy Always', () => getJson<{ spec: { runStrategy?: string } }>(['-n', NS, 'virtualmachine', 'alpha'])?.spec.runStrategy === 'Always');
    await t.page.getByTestId('resize-cpus').fill('4');
    await t.page.getByTestId('resize-submit').click();
    await waitFor('4 cores', () => getJson<{ spec: { cpu?: { cores?: number } } }>(['-n', NS, 'virtualmachine', 'alpha'])?.spec.cpu?.cores === 4);
    writeVmStatus(NS, 'alpha', { printableStatus: 'Running', conditions: [{ type: 'RestartRequired', status: 'True', reason: 'SpecChanged', message: 'cpu changes at the next restart', lastTransitionTime: new Date().toISOString() }] });
    await step(t, 'RestartRequired', () => t.page.getByTestId('restart-required').filter({ hasText: 'next restart' }).waitFor({ timeout: 15_000 }));
    await screenshot(t.page, 'vm-summary');
  });
});

describe('a view-only user (kubevmm-vm-viewer)', () => {
  it('sees the VM, with every action disabled and the reason shown, and no console', async () => {
    const t = await signedIn(viewerToken);
    await step(t, 'viewer sees alpha', () => row(t, 'alpha').waitFor());
    await step(t, 'create disabled', () => t.page.getByTestId('create-vm-reason').filter({ hasText: 'you may not create virtualmachines' }).waitFor());
    await t.page.goto(`${console_.url}#/ns/${NS}/vm/alpha/summary`);
    await step(t, 'reason shown', () => t.page.getByTestId('actions-reason').filter({ hasText: `you may not patch virtualmachines in namespace ${NS}` }).waitFor());
    for (const action of ['start', 'stop', 'restart', 'pause', 'delete']) expect(await t.page.getByTestId(`action-${action}`).isDisabled()).toBe(true);
    expect(await t.page.getByTestId('resize-submit').isDisabled()).toBe(true);
    await screenshot(t.page, 'viewer-summary');
    await t.page.getByTestId('tab-console').click();
    await step(t, 'console refused', () => t.page.getByTestId('console-denied').filter({ hasText: 'get virtualmachines/console (subresources.kubevmm.io)' }).waitFor());
    expect(cspViolations(t.errors)).toEqual([]);
  });
});
