// Pages of the web console in Debian's Chromium (harness/chromium.ts). Screenshots go to
// test-artifacts/ui/ (gitignored), kept by CI as artifacts; a failed step saves one too.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { VIEWPORT } from '../../../harness/chromium.js';

export { CHROMIUM, launchChromium, VIEWPORT } from '../../../harness/chromium.js';

/** The screenshots' directory. */
export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'ui');

/** A page of its own (own sessionStorage) that records console errors and CSP violations. */
export interface TestPage {
  context: BrowserContext;
  page: Page;
  /** Console errors and page errors seen so far (CSP violations among them). */
  errors: string[];
}

/** Opens a fresh context and page at 1280×800. */
export async function openPage(browser: Browser, opts: { ignoreHTTPSErrors?: boolean } = {}): Promise<TestPage> {
  const context = await browser.newContext({ viewport: VIEWPORT, ignoreHTTPSErrors: opts.ignoreHTTPSErrors ?? false });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  return { context, page, errors };
}

/** Saves a full-window screenshot as test-artifacts/ui/NAME.png; returns its path. */
export async function screenshot(page: Page, name: string, path?: string): Promise<string> {
  const file = path ?? join(ARTIFACTS, `${name}.png`);
  await mkdir(join(file, '..'), { recursive: true });
  await page.screenshot({ path: file });
  return file;
}

/**
 * Runs a test step; on failure saves a screenshot named after it (and the page's URL and
 * errors in the message), so a failure in CI can be read without rerunning.
 */
export async function step<T>(page: TestPage, name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const file = await screenshot(page.page, `FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}`).catch(() => '(no screenshot)');
    const detail = `${name} failed at ${page.page.url()}; screenshot ${file}; page errors: ${page.errors.join(' | ') || 'none'}`;
    throw new Error(`${detail}\n${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** The CSP violations among a page's errors (the app must cause none). */
export function cspViolations(errors: readonly string[]): string[] {
  return errors.filter((e) => /Content Security Policy/i.test(e));
}
