// Headless Chromium for tests and the chromium parity runner: Debian's /usr/bin/chromium driven by
// playwright-core (Playwright cannot download its own browsers here).

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.EDGEPACK_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
}
