/**
 * The compliance archive in real headless Chromium against an embedded app on port 0:
 * - client1 and broker1 chat in their conversation (a message with an HTML injection, an edit, a
 *   recall) over REST;
 * - compliance1 opens /compliance/archive, searches a keyword and sees the hit rendered as text with
 *   the sender's name; exports, downloads records.jsonl and checks its sha256 against the manifest;
 *   verifies the chain;
 * - opens the conversation from the hit: the read-only viewer lists its records oldest first with
 *   sender names, the edit and the recall as records of their own pointing at the original; back
 *   returns to the same search (the filter is in the URL);
 * - other roles are not offered the archive, and the server refuses them anyway.
 * Each view passes the axe check; no console errors.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { brokerClientConversation } from '../helpers/conversations.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the compliance archive browser tests');

const KEYWORD = '季度回访确认';
const TEXT = `${KEYWORD}：请于周五前完成风险测评 <img src=x onerror=alert(1)>`;

describe.skipIf(!hasChromium)('compliance archive in Chromium', () => {
  const suite = webSuite();
  let convId: string;
  const ids: Record<string, string> = {};

  const chat = async (login: string, kind: string, payload: object) => {
    const r = await suite.web.rest(login, 'POST', `/api/conversations/${convId}/messages`, { kind, payload });
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    return r.body as { id: string };
  };

  beforeAll(async () => {
    for (const l of ['client1', 'broker1']) ids[l] = (await suite.web.rest(l, 'GET', '/api/me')).body.id;
    convId = await brokerClientConversation(suite.web.app.qiao.db.db, ids.broker1, ids.client1);
    await chat('client1', 'chat', { text: '您好，我想了解一下风险测评的流程' });
    await chat('broker1', 'chat', { text: TEXT });
    const wrong = await chat('broker1', 'chat', { text: '测评链接：第一版' });
    await chat('broker1', 'chat.edit', { ref: wrong.id, text: '测评链接：第二版（已更正）' });
    const oops = await chat('broker1', 'chat', { text: '发错了的一条' });
    await chat('broker1', 'chat.recall', { ref: oops.id });
  });

  it('searches, exports with matching hashes, verifies, and opens the conversation read-only', async () => {
    const up = await suite.open('compliance1', '/compliance/archive');
    const { page } = up;
    await page.waitForSelector('[data-testid="archive-form"]');
    expect(await page.textContent('#page-title')).toBe('合规存档');
    await expectAccessible(page, 'archive form');

    await page.fill('[data-testid="archive-q"]', KEYWORD);
    await page.click('[data-testid="archive-search"]');
    await page.waitForURL(/\/compliance\/archive\?q=/);
    const row = page.locator('[data-testid="archive-row"]');
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    expect(await row.first().getAttribute('data-kind')).toBe('message');
    expect(await row.first().locator('[data-testid="archive-text"]').textContent()).toContain(TEXT);
    expect(await row.first().locator('[data-testid="archive-actor"]').textContent()).toBe('王经纪（broker1）');
    // Rendered as text: the injected tag is not an element, and no script ran.
    expect(await page.locator('main img').count()).toBe(0);
    await expectAccessible(page, 'archive results');

    // Export: the downloaded file hashes to what the manifest says.
    await page.click('[data-testid="archive-export-btn"]');
    await page.waitForSelector('[data-testid="archive-export"]');
    const manifest = JSON.parse((await page.locator('[data-testid="export-manifest"]').textContent()) ?? '{}');
    expect(manifest.recordCount).toBe(1);
    expect(manifest.filter).toEqual({ q: KEYWORD });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="export-download-records.jsonl"]')]);
    const file = readFileSync((await download.path())!, 'utf8');
    const listed = manifest.files.find((f: { name: string }) => f.name === 'records.jsonl');
    expect(createHash('sha256').update(file, 'utf8').digest('hex')).toBe(listed.sha256);
    expect(JSON.parse(file.trim()).text).toContain(KEYWORD);

    await page.click('[data-testid="archive-verify"]');
    const verified = page.locator('[data-testid="archive-verify-result"]');
    await verified.waitFor();
    expect(await verified.getAttribute('data-ok')).toBe('true');
    expect(await verified.textContent()).toContain('存档完整');
    await expectAccessible(page, 'archive export and verify');

    // The conversation, from the hit.
    await row.first().locator('[data-testid="open-conversation"]').click();
    await page.waitForURL(new RegExp(`/compliance/conversations/${convId}$`));
    const records = page.locator('[data-testid="conv-record"]');
    await page.locator('[data-testid="conv-record"][data-kind="chat.recall"]').waitFor();
    expect(await page.textContent('[data-testid="conv-id"]')).toBe(convId);
    const kinds = await records.evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
    // The demo seed may have opened the conversation with a few messages: ours are the last six.
    expect(kinds.slice(-6)).toEqual(['chat', 'chat', 'chat', 'chat.edit', 'chat', 'chat.recall']);
    const at = (i: number) => records.nth(kinds.length - 6 + i);
    // Oldest first.
    const seqs = await records.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    expect(await at(0).locator('[data-testid="conv-sender"]').textContent()).toBe('刘女士（client1）');
    expect(await at(1).locator('[data-testid="conv-sender"]').textContent()).toBe('王经纪（broker1）');
    expect(await at(1).locator('[data-testid="conv-text"]').textContent()).toBe(TEXT);
    expect(await at(3).locator('[data-testid="conv-kind"]').textContent()).toBe('编辑');
    expect(await at(3).locator('[data-testid="conv-ref"]').textContent()).toBe('编辑了消息「测评链接：第一版」');
    expect(await at(3).locator('[data-testid="conv-text"]').textContent()).toBe('测评链接：第二版（已更正）');
    expect(await at(5).locator('[data-testid="conv-kind"]').textContent()).toBe('撤回');
    expect(await at(5).locator('[data-testid="conv-ref"]').textContent()).toBe('撤回了消息「发错了的一条」');
    // Read only: nothing to write with.
    expect(await page.locator('[data-testid="conversation-view"] textarea, [data-testid="conversation-view"] input').count()).toBe(0);
    expect(await page.locator('main img').count()).toBe(0);
    await expectAccessible(page, 'conversation viewer');

    // Back: the same search.
    await page.goBack();
    await page.waitForURL(/\/compliance\/archive\?q=/);
    await page.locator('[data-testid="archive-row"]').first().waitFor();
    expect(await page.inputValue('[data-testid="archive-q"]')).toBe(KEYWORD);
    await page.screenshot({ path: '/tmp/qiao-compliance.png', fullPage: true });
    expect(up.problems).toEqual([]);
  }, 90_000);

  it('does not offer the archive to other roles, and the server refuses them anyway', async () => {
    const up = await suite.open('broker1', '/compliance/archive');
    const { page } = up;
    await page.waitForSelector('[data-testid="not-found"]');
    expect(await page.locator('[data-testid="nav-archive"]').count()).toBe(0);
    const status = await page.evaluate(async () => {
      const token = sessionStorage.getItem('qiao.token');
      const r = await fetch('/api/compliance/archive?q=x', { headers: { authorization: `Bearer ${token}` } });
      return { status: r.status, code: ((await r.json()) as { error: { code: string } }).error.code };
    });
    expect(status).toEqual({ status: 403, code: 'QIAO_FORBIDDEN' });
    expect(up.problems).toEqual([]);
  }, 60_000);
});
