import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it). Tests never download a browser. */
export const chromiumPath = '/usr/bin/chromium';

/**
 * Whether browser tests can run here. CI must have Chromium, so there its absence fails instead;
 * elsewhere the browser tests wait until it is installed.
 */
export const hasBrowser = ((): boolean => {
  if (existsSync(chromiumPath)) return true;
  if (process.env.CI === 'true') throw new Error(`${chromiumPath} is missing: apt-get install chromium`);
  return false;
})();

/** Headless Chromium as the machines run it: no sandbox (root), no calls home. */
export const launchBrowser = (): Promise<Browser> =>
  chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });

/** Where screenshots go for a person to look at (BILLING_SCREENSHOTS), or nowhere. */
export const screenshotFolder = process.env.BILLING_SCREENSHOTS;
