// Debian's Chromium through playwright-core, shared by the web console's browser tests
// (test/ui, test/e2e/ui.test.ts) and its benchmark (bench/ui-inventory.ts). A missing
// Chromium is an error with the install command, never a skip.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian's chromium package puts the browser; KUBEVMM_CHROMIUM names another. */
export const CHROMIUM = process.env.KUBEVMM_CHROMIUM ?? '/usr/bin/chromium';

/** The size the console must be usable at. */
export const VIEWPORT = { width: 1280, height: 800 };

/** Starts headless Chromium; throws with the install command when it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: run \`bash scripts/install-deps.sh\` (or \`apt-get install -y chromium\`); KUBEVMM_CHROMIUM names another binary`);
  }
  // --no-sandbox: tests run as root, where Chromium refuses its sandbox.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}
