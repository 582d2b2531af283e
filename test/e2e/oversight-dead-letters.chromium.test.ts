/**
 * Dead letters in real headless Chromium against an embedded app on port 0: broker1's email address is
 * not valid, so the email of a research note to broker1 fails for good and is dead-lettered with its
 * reason (as in test/integration/delivery.suite.ts). The admin opens /admin/dead-letters, picks the
 * email queue, sees the job and its reason, replays it after confirming in the row (no browser
 * dialog), once the address is fixed: the list empties and the delivery is sent.
 * The view passes the axe check; no console errors.
 */
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { deliveries, users } from '../../src/store/schema/index.ts';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the dead letters browser test');

async function until<T>(fn: () => Promise<T | undefined | false>, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!hasChromium)('dead letters in Chromium', () => {
  const suite = webSuite();

  it('lists a dead-lettered email with its reason and replays it after confirmation', async () => {
    const db = suite.web.app.qiao.db.db;
    const broker = (await suite.web.rest('broker1', 'GET', '/api/me')).body.id as string;
    await db.update(users).set({ email: 'broker1-at-nowhere' }).where(eq(users.id, broker));
    expect((await suite.web.rest('broker1', 'PUT', '/api/subscriptions/research.sector.finance', {})).status).toBeLessThan(300);
    expect((await suite.web.rest('broker1', 'PUT', '/api/preferences', { categories: { research: { transports: { email: true } } } })).status).toBe(200);
    const pub = await suite.web.rest('research1', 'POST', '/api/channels/research.sector.finance/publications', {
      kind: 'note',
      payload: { title: '银行业季度观察', summary: '息差企稳', tickers: ['600036.SH'], riskLevel: 'R3' },
    });
    expect(pub.status).toBe(201);
    const emailRow = () => db.select().from(deliveries).where(and(eq(deliveries.messageId, pub.body.id), eq(deliveries.userId, broker), eq(deliveries.transport, 'email')));
    await until(async () => (await emailRow())[0]?.status === 'failed', 'the failed email');

    const up = await suite.open('admin', '/admin/dead-letters');
    const { page } = up;
    await page.waitForSelector('[data-testid="dead-letters-queue"]');
    await page.selectOption('[data-testid="dead-letters-queue"]', 'email');
    await page.waitForURL(/\/admin\/dead-letters\?queue=email$/);
    const row = page.locator('[data-testid="dead-letter-row"]');
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    expect(await row.first().locator('[data-testid="dead-letter-reason"]').textContent()).toBe('recipient email address is not valid');
    await expectAccessible(page, 'dead letters');

    // Replay asks first; cancel leaves it alone.
    await row.first().locator('[data-testid="dead-letter-replay"]').click();
    await row.first().locator('[data-testid="dead-letter-cancel"]').click();
    expect(await row.count()).toBe(1);

    await db.update(users).set({ email: 'broker1@qiao.example' }).where(eq(users.id, broker));
    await row.first().locator('[data-testid="dead-letter-replay"]').click();
    await expectAccessible(page, 'dead letter replay confirmation');
    await row.first().locator('[data-testid="dead-letter-confirm"]').click();
    await page.waitForSelector('[data-testid="dead-letters-empty"]');
    expect(await page.locator('[data-testid="info-text"]').first().textContent()).toContain('已重放');
    await until(async () => (await emailRow())[0]?.status === 'sent', 'the email sent after replay');
    expect(up.problems).toEqual([]);
  }, 90_000);
});
