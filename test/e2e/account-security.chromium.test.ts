/**
 * Account security in real headless Chromium, with the product's TOTP requirement on (admin, compliance):
 * - compliance1 logs in with the password and is held on /account/security with the reason: no other
 *   view is offered and no live connection opens;
 * - it enrols: reads the secret shown as text beside the QR code, computes the code with otplib,
 *   confirms, and sees its ten recovery codes once; then its views and the live connection are there;
 * - it logs out and in again: the password step asks for a code; the enrolment's code again is refused
 *   by its stable code (QIAO_TOTP_REUSED), the next step's code logs in; a recovery code logs in too;
 * - it changes its password: a weak one is refused by code with its reasons, a good one is accepted and
 *   the session goes on with the new token.
 * Each state passes the axe check; no console errors.
 */
import { generate } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateChromium, launchChromium } from '../helpers/browser.ts';
import { DEMO_PASSWORD, expectAccessible, openPage, startWebApp, type UserPage, type WebApp } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the account security browser tests');
const codeAt = (secret: string, steps = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 * steps });

describe.skipIf(!hasChromium)('account security in Chromium', () => {
  let web: WebApp;
  let browser: Browser;
  let up: UserPage;
  let page: Page;
  let secret = '';
  let firstCode = '';
  let recoveryCodes: string[] = [];

  beforeAll(async () => {
    web = await startWebApp({ QIAO_TOTP_REQUIRED_ROLES: 'admin,compliance' });
    browser = await launchChromium();
    up = await openPage(browser, web.base, '/compliance/approvals');
    page = up.page;
    // A wait that fails names its selector before the test's own timeout.
    page.setDefaultTimeout(15_000);
  }, 90_000);
  afterAll(async () => {
    await up?.close();
    await browser?.close();
    await web?.close();
  }, 30_000);

  async function passwordStep(password = DEMO_PASSWORD): Promise<void> {
    await page.fill('[data-testid="login-input"]', 'compliance1');
    await page.fill('[data-testid="password-input"]', password);
    await page.click('[data-testid="login-submit"]');
  }

  it('a compliance user without TOTP is held on /account/security with the reason', async () => {
    await passwordStep();
    await page.waitForSelector('[data-testid="totp-required-notice"]');
    expect(new URL(page.url()).pathname).toBe('/account/security');
    const nav = await page.$$eval('[data-testid="nav"] a', (as) => as.map((a) => a.getAttribute('data-testid')));
    expect(nav).toEqual(['nav-account-security']);
    expect(await page.$('[data-testid="conn-state"]')).toBeNull();
    // Another view by URL leads back here.
    await page.evaluate(() => {
      history.pushState(null, '', '/compliance/archive');
      dispatchEvent(new PopStateEvent('popstate'));
    });
    await page.waitForFunction(() => location.pathname === '/account/security');
    await page.waitForSelector('[data-testid="totp-status"][data-enrolled="false"]');
    await expectAccessible(page, 'account security, enrolment required');
  });

  it('enrols with the secret shown as text, confirms with a computed code and sees ten recovery codes once', async () => {
    await page.click('[data-testid="totp-start"]');
    await page.waitForSelector('[data-testid="totp-secret"]');
    expect(await page.getAttribute('[data-testid="totp-qr"]', 'src')).toMatch(/^data:image\/png;base64,/);
    // The QR image really loaded under the page's CSP.
    expect(await page.$eval('[data-testid="totp-qr"]', (img) => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
    secret = (await page.textContent('[data-testid="totp-secret"]'))!.trim();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    await expectAccessible(page, 'enrolment with QR code');
    // A wrong code first: refused by code.
    const valid = new Set(await Promise.all([-1, 0, 1].map((s) => codeAt(secret, s))));
    const wrong = ['111111', '222222', '333333'].find((c) => !valid.has(c))!;
    await page.fill('[data-testid="totp-confirm-code"]', wrong);
    await page.click('[data-testid="totp-confirm"]');
    await page.waitForSelector('[data-testid="totp-confirm-error"][data-code="QIAO_TOTP_INVALID"]');
    firstCode = await codeAt(secret);
    await page.fill('[data-testid="totp-confirm-code"]', firstCode);
    await page.click('[data-testid="totp-confirm"]');
    await page.waitForSelector('[data-testid="recovery-codes"]');
    recoveryCodes = (await page.$$eval('[data-testid="recovery-code"]', (li) => li.map((x) => x.textContent!.trim())));
    expect(recoveryCodes).toHaveLength(10);
    for (const c of recoveryCodes) expect(c).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    await expectAccessible(page, 'recovery codes');
    // Enrolled: the notice is gone, the live connection opens with the new token, the views are offered.
    await page.waitForSelector('[data-testid="conn-state"][data-state="connected"]');
    expect(await page.$('[data-testid="totp-required-notice"]')).toBeNull();
    expect(await page.$('[data-testid="nav-approvals"], [data-testid="nav"] a:not([data-testid="nav-account-security"])')).not.toBeNull();
    await page.click('[data-testid="recovery-done"]');
    await page.waitForSelector('[data-testid="totp-status"][data-enrolled="true"]');
    expect(await page.textContent('[data-testid="totp-recovery-left"]')).toContain('10');
    // A required role cannot turn it off.
    expect(await page.$('[data-testid="totp-disable"]')).toBeNull();
    // Shown once: a reload shows the state, not the codes.
    await page.reload();
    await page.waitForSelector('[data-testid="totp-status"][data-enrolled="true"]');
    expect(await page.$('[data-testid="recovery-codes"]')).toBeNull();
  });

  it('logs in again with a code: the used one is QIAO_TOTP_REUSED, the next one works; a recovery code works once', async () => {
    await page.click('[data-testid="logout"]');
    await passwordStep();
    await page.waitForSelector('[data-testid="totp-form"]');
    await expectAccessible(page, 'login second step');
    await page.fill('[data-testid="totp-code-input"]', firstCode);
    await page.click('[data-testid="totp-submit"]');
    await page.waitForSelector('[data-testid="totp-error"][data-code="QIAO_TOTP_REUSED"]');
    // The next time step's code is accepted (±1 step window) without waiting for it.
    await page.fill('[data-testid="totp-code-input"]', await codeAt(secret, 1));
    await page.click('[data-testid="totp-submit"]');
    await page.waitForSelector('[data-testid="conn-state"][data-state="connected"]');
    expect(await page.$('[data-testid="totp-required-notice"]')).toBeNull();

    await page.click('[data-testid="logout"]');
    await passwordStep();
    await page.waitForSelector('[data-testid="totp-form"]');
    await page.click('[data-testid="totp-toggle-recovery"]');
    await page.fill('[data-testid="recovery-code-input"]', recoveryCodes[0]);
    await page.click('[data-testid="totp-submit"]');
    await page.waitForSelector('[data-testid="conn-state"][data-state="connected"]');

    await page.click('[data-testid="logout"]');
    await passwordStep();
    await page.waitForSelector('[data-testid="totp-form"]');
    await page.click('[data-testid="totp-toggle-recovery"]');
    await page.fill('[data-testid="recovery-code-input"]', recoveryCodes[0]);
    await page.click('[data-testid="totp-submit"]');
    await page.waitForSelector('[data-testid="totp-error"][data-code="QIAO_TOTP_RECOVERY_CODE_INVALID"]');
    await page.fill('[data-testid="recovery-code-input"]', recoveryCodes[1]);
    await page.click('[data-testid="totp-submit"]');
    await page.waitForSelector('[data-testid="conn-state"][data-state="connected"]');
  });

  it('changes the password: a weak one is refused by code with its reasons, a good one is accepted and the session goes on', async () => {
    await page.click('[data-testid="nav-account-security"]');
    await page.waitForSelector('[data-testid="totp-status"][data-enrolled="true"]');
    expect(await page.textContent('[data-testid="totp-recovery-left"]')).toContain('8');
    await page.fill('[data-testid="old-password"]', DEMO_PASSWORD);
    await page.fill('[data-testid="new-password"]', 'password');
    await page.click('[data-testid="password-submit"]');
    await page.waitForSelector('[data-testid="password-error"][data-code="QIAO_PASSWORD_WEAK"]');
    const reasons = await page.$$eval('[data-testid="password-reasons"] li', (li) => li.map((x) => x.getAttribute('data-reason')));
    expect(reasons).toEqual(expect.arrayContaining(['too_short', 'common']));
    await expectAccessible(page, 'password refused');
    await page.fill('[data-testid="new-password"]', 'Granite-Harbor-7731');
    await page.click('[data-testid="password-submit"]');
    await page.waitForSelector('[data-testid="info-banner"]');
    expect(await page.$('[data-testid="password-error"]')).toBeNull();
    // The session carries the new token: the live connection comes back and REST calls still work.
    await page.waitForSelector('[data-testid="conn-state"][data-state="connected"]');
    await page.reload();
    await page.waitForSelector('[data-testid="totp-status"][data-enrolled="true"]');
    expect(await page.$('[data-testid="login-form"]')).toBeNull();
    // And the new password is the one that logs in.
    await page.click('[data-testid="logout"]');
    await passwordStep('Granite-Harbor-7731');
    await page.waitForSelector('[data-testid="totp-form"]');
    expect(up.problems).toEqual([]);
  });
});
