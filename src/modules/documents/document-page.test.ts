import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { givenApp, givenRecord, givenTenant } from '../../testing/fixtures.js';
import { hasBrowser, launchBrowser, screenshotFolder } from '../../testing/browser.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';

let t: TestApp;
let browser: Browser;
let origin: string;

beforeAll(async () => {
  t = await createTestApp();
  t.clock.set('2026-04-01T02:00:00Z');
  await givenTenant(t, 'tnt_page', { name: '上海云杉科技有限公司' });
  await givenApp(t, 'tnt_page', 'app_page');
  origin = await t.app.listen({ host: '127.0.0.1', port: 0 });
  if (hasBrowser) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await t.close();
});

describe.skipIf(!hasBrowser)('the printable invoice page in a browser', () => {
  it('shows Chinese as Chinese, right-aligned figures, and nothing cut off at desktop and phone widths', async () => {
    const record = await givenRecord(t, 'tnt_page', {
      app_id: 'app_page',
      type: 'subscription',
      description: '专业版月度订阅，四月',
      finalize: true,
      lines: Array.from({ length: 12 }, (_, index) => ({
        description: index === 0 ? '专业版月度订阅 Professional plan' : `API 请求超额 overage, region cn-east-${index}`,
        resource_type: index === 0 ? 'subscription' : 'api_requests',
        quantity: index === 0 ? 1 : 123_457 * index,
        unit_price: index === 0 ? 99 : 0.0015,
      })),
    });
    const headers = await t.as.tenant('tnt_page', 'tenant_viewer');
    for (const [name, viewport] of [
      ['desktop', { width: 1280, height: 900 }],
      ['phone', { width: 375, height: 812 }],
    ] as const) {
      const context = await browser.newContext({ viewport, extraHTTPHeaders: headers });
      const page = await context.newPage();
      const started = performance.now();
      const response = await page.goto(`${origin}/billing/records/tnt_page/${record.record_id}/html`);
      const loadMs = performance.now() - started;
      expect(response?.status()).toBe(200);
      expect(loadMs).toBeLessThan(5000);
      const layout = await page.evaluate(() => {
        const numbers: string[] = [];
        document
          .querySelectorAll('table.lines tbody td.num')
          .forEach((cell) => numbers.push(getComputedStyle(cell).textAlign));
        return {
          pageWidth: document.documentElement.scrollWidth,
          viewportWidth: window.innerWidth,
          numbers,
          heading: document.querySelector('h1')?.textContent,
        };
      });
      expect(layout.heading).toBe('账单');
      expect(layout.numbers.every((align) => align === 'right')).toBe(true);
      expect(layout.pageWidth, `${name}: the page scrolls sideways`).toBeLessThanOrEqual(layout.viewportWidth);
      // Chinese shows as Chinese: the fonts that drew the heading and the customer's name have
      // their glyphs (a font without them would leave boxes), as the browser itself reports.
      const cdp = await context.newCDPSession(page);
      await cdp.send('DOM.enable');
      await cdp.send('CSS.enable');
      const { root } = await cdp.send('DOM.getDocument');
      for (const selector of ['h1', '.party:nth-child(2) .name']) {
        const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
        const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId });
        expect(fonts.length, selector).toBeGreaterThan(0);
        for (const font of fonts) expect(font.familyName, selector).toMatch(/CJK|SC|YaHei|PingFang|WenQuanYi/);
      }
      if (screenshotFolder !== undefined) {
        await page.screenshot({ path: `${screenshotFolder}/invoice-page-${name}.png`, fullPage: true });
      }
      await context.close();
    }
  });
});
