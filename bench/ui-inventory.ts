// The web console's inventory at scale (issue 14): time from navigation to the first VM row
// rendered with 1, 100 and 1000 VMs, and the page's JavaScript heap at 1000 VMs over a live
// period while VM statuses keep changing. Chromium from Debian, the app served by ui/server in
// local mode (as `kubevmm ui` serves it) against $KUBECONFIG's control plane with KWOK nodes.
// The operator does not run: the bench writes VM statuses itself. See bench/README.md.
//
//   npx tsx bench/ui-inventory.ts [--counts 1,100,1000] [--runs 5] [--minutes 5]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, CDPSession } from 'playwright-core';
import { launchChromium, VIEWPORT } from '../harness/chromium.js';
import { bundleUi } from '../scripts/bundle-ui.js';
import { REPO_ROOT } from '../scripts/bundle.js';
import { startUiServer, type UiServer } from '../ui/server/server.js';
import { machineLine } from './lib/env.js';
import { applyCrds, connect, createNamespace, deleteNamespace } from './lib/operator-scale-cluster.js';
import { formatSummary, formatTable, intFlag, summarize } from './lib/stats.js';
import { ensureVms, keepPatching } from './lib/ui-vms.js';

const MiB = 2 ** 20;
const argv = process.argv.slice(2);
const countsFlag = argv.includes('--counts') ? argv[argv.indexOf('--counts') + 1]! : '1,100,1000';
const COUNTS = countsFlag.split(',').map(Number).sort((a, b) => a - b);
const RUNS = intFlag(argv, 'runs', 5);
const MINUTES = Number(argv.includes('--minutes') ? argv[argv.indexOf('--minutes') + 1] : 5);
if (!COUNTS.every((n) => Number.isInteger(n) && n > 0) || !(MINUTES > 0)) throw new Error('--counts takes positive whole numbers (1,100,1000); --minutes a positive number');

/** Milliseconds from navigation to the first `vm-row` in the DOM, in a fresh browser context. */
async function firstRowMs(browser: Browser, url: string): Promise<number> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  const started = performance.now();
  await page.goto(url, { waitUntil: 'commit' });
  await page.locator('[data-testid="vm-row"]').first().waitFor({ timeout: 60_000 });
  const ms = performance.now() - started;
  await context.close();
  return ms;
}

/** The page's JS heap after a forced GC, via the DevTools protocol. */
async function heapAfterGc(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  return (await cdp.send('Runtime.getHeapUsage')).usedSize;
}

/** Rendered rows, read through the protocol (no helper script injected into the page's heap). */
async function domRows(cdp: CDPSession): Promise<number> {
  const r = await cdp.send('Runtime.evaluate', { expression: 'document.querySelectorAll(\'[data-testid="vm-row"]\').length', returnByValue: true });
  return Number(r.result.value);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Opens the inventory, starts the status patches, lets one minute pass (JIT, caches and the
 * watch's buffers settle), then samples the heap after a forced GC every 15 s for `MINUTES`.
 */
async function livePeriod(browser: Browser, url: string, patch: () => { stop: () => Promise<number> }): Promise<void> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  await page.goto(url);
  await page.locator('[data-testid="vm-row"]').first().waitFor({ timeout: 60_000 });
  const cdp = await context.newCDPSession(page);
  const loaded = await heapAfterGc(cdp);
  const patching = patch();
  await sleep(60_000);
  const samples: { minute: number; heap: number }[] = [];
  const started = Date.now();
  const endAt = started + MINUTES * 60_000;
  for (;;) {
    samples.push({ minute: (Date.now() - started) / 60_000, heap: await heapAfterGc(cdp) });
    if (Date.now() >= endAt) break;
    await sleep(Math.min(15_000, Math.max(0, endAt - Date.now())));
  }
  const sent = await patching.stop();
  const rows = await domRows(cdp);
  const count = await page.getByTestId('vm-count').innerText();
  await context.close();
  const quarter = Math.max(1, Math.floor(samples.length / 4));
  const first = summarize(samples.slice(0, quarter).map((s) => s.heap / MiB));
  const last = summarize(samples.slice(-quarter).map((s) => s.heap / MiB));
  const peak = Math.max(...samples.map((s) => s.heap)) / MiB;
  const minutes = MINUTES + 1;
  process.stdout.write(`\nlive period at ${COUNTS.at(-1)} VMs: ${sent} status patches in ${minutes} min (${(sent / (minutes * 60)).toFixed(1)}/s); page says "${count}"; DOM rows rendered: ${rows}\n`);
  process.stdout.write(`heap after GC: ${(loaded / MiB).toFixed(1)} MiB once loaded, before any patch; then, after a 1-minute warm-up of patches:\n`);
  process.stdout.write(formatTable(['minute', 'JS heap after GC (MiB)'], samples.map((s) => [s.minute.toFixed(1), (s.heap / MiB).toFixed(1)])) + '\n');
  const growth = last.median / first.median;
  process.stdout.write(`heap: first quarter ${formatSummary(first, 1)} MiB, last quarter ${formatSummary(last, 1)} MiB, ratio ${growth.toFixed(2)}, peak ${peak.toFixed(1)} MiB (goal < 50); ${growth > 1.1 ? 'GROWING' : 'not growing'} (last/first > 1.10 counts as growing)\n`);
}

async function main(): Promise<void> {
  const cluster = connect();
  process.stdout.write(`${await machineLine()}\ncluster ${cluster.server}; counts ${COUNTS.join(', ')}; ${RUNS} runs each; live ${MINUTES} min\n`);
  await applyCrds(REPO_ROOT);
  const namespace = `bench-ui-${Date.now().toString(36)}`;
  await createNamespace(cluster, namespace);
  const dir = await mkdtemp(join(tmpdir(), 'kubevmm-ui-bench-'));
  let server: UiServer | undefined;
  let browser: Browser | undefined;
  try {
    await bundleUi({ outDir: dir, root: REPO_ROOT });
    server = await startUiServer({ mode: 'local', staticDir: dir, kubeConfig: cluster.kc, namespace, version: 'bench' });
    browser = await launchChromium();
    // One warm-up load: Chromium's first start-up and the API server's first list are not the page's cost.
    await ensureVms(cluster.custom, namespace, 1, 0);
    await firstRowMs(browser, server.url);
    const rows: string[][] = [];
    let have = 1;
    let baseline = NaN;
    for (const count of COUNTS) {
      await ensureVms(cluster.custom, namespace, count, have);
      have = count;
      const times: number[] = [];
      for (let r = 0; r < RUNS; r++) times.push(await firstRowMs(browser, server.url));
      const s = summarize(times);
      if (Number.isNaN(baseline)) baseline = s.median;
      rows.push([String(count), formatSummary(s), (s.median / baseline).toFixed(2), s.median < 1500 ? 'yes' : 'NO']);
    }
    process.stdout.write('\nnavigation to first VM row rendered (ms, median (min–max))\n');
    process.stdout.write(formatTable(['VMs', 'first row (ms)', `vs ${COUNTS[0]} VM(s)`, '< 1.5 s'], rows) + '\n');
    const count = have;
    await livePeriod(browser, server.url, () => keepPatching(cluster.custom, namespace, { count, perTick: Math.max(1, Math.round(count / 20)), everyMs: 5_000 }));
  } finally {
    await browser?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
    await deleteNamespace(cluster, namespace, 120_000).catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench ui-inventory: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
