/**
 * Every view of every role in English: log in with English chosen, open each entry of the role's
 * navigation, and check that the page's own words — page headings, column headers, field labels, the
 * navigation, form legends — have no Chinese left (names and messages are data and stay as written), that axe-core
 * finds nothing serious, and that nothing was logged as an error. A key missing from an English table
 * does not compile; this catches text written into a view outside the dictionary.
 */
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the English sweep of every view');
const CJK = /[\u3400-\u9fff\uff00-\uffef]/;
const ROLES = ['client1', 'broker1', 'manager1', 'research1', 'compliance1', 'admin'] as const;

describe.skipIf(!hasChromium)('every view in English', () => {
  const suite = webSuite();

  for (const login of ROLES) {
    it(`${login}: every navigation entry has English chrome, is accessible and logs no error`, async () => {
      const up = await suite.open(login, '/', 'en');
      const { page } = up;
      const hrefs = await page.locator('[data-testid="nav"] a').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
      expect(hrefs.length).toBeGreaterThan(2);
      for (const href of hrefs) {
        await page.click(`[data-testid="nav"] a[href="${href}"]`);
        await page.waitForFunction((h) => location.pathname === h, href);
        await page.waitForSelector('main h1');
        await page.waitForTimeout(300);
        const chrome = await page
          .locator('main h1, main thead th, main .field__label, main legend, [data-testid="nav"] a, .page__hint')
          .evaluateAll((els) => els.map((e) => (e.textContent ?? '').trim()).filter(Boolean));
        const chinese = chrome.filter((text) => CJK.test(text));
        expect(chinese, `${login} ${href}`).toEqual([]);
        expect(await page.getAttribute('html', 'lang')).toBe('en');
        await expectAccessible(page, `${login} ${href} (en)`);
      }
      expect(up.problems).toEqual([]);
    }, 90_000);
  }
});
