/**
 * Tasks in real headless Chromium against an embedded app on port 0 (browsers in Europe/London):
 * manager1 sends a task to broker1 with a due time typed in Asia/Shanghai; broker1, in a second
 * browser context, sees it with that due time, accepts it and marks it done with a note; the manager's
 * progress table follows live (no reload) to done with the note. A title with HTML stays text.
 * Each view passes the axe check; no console errors.
 */
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, SHANGHAI, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the tasks browser tests');

const shanghaiDate = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' });

describe.skipIf(!hasChromium)('tasks in Chromium', () => {
  const suite = webSuite();

  it('manager sends, broker accepts and completes with a note, manager sees the progress live', async () => {
    const broker1 = (await suite.web.rest('broker1', 'GET', '/api/me')).body.id as string;
    const title = `复盘客户持仓 <img src=x onerror=alert(1)> ${Date.now()}`;
    const day = shanghaiDate.format(new Date(Date.now() + 2 * 86_400_000));
    const dueInput = `${day}T15:30`;
    const dueIso = new Date(`${dueInput}:00+08:00`).toISOString();

    const manager = await suite.open('manager1', '/tasks');
    const m = manager.page;
    await m.waitForSelector(`[data-testid="task-broker"][data-id="${broker1}"]`);
    await expectAccessible(m, 'tasks (manager)');
    await m.fill('[data-testid="task-title"]', title);
    await m.fill('[data-testid="task-detail"]', '请在周五前完成名下客户的持仓复盘');
    await m.fill('[data-testid="task-due"]', dueInput);
    await m.check(`[data-testid="task-broker"][data-id="${broker1}"]`);
    await m.click('[data-testid="task-submit"]');

    const taskRow = m.locator('[data-testid="task-row"]', { hasText: title });
    await taskRow.waitFor();
    const taskId = (await taskRow.getAttribute('data-task-id'))!;
    expect(await m.inputValue('[data-testid="task-title"]')).toBe('');
    // Stored as the Shanghai wall-clock time the manager typed.
    const progress = await suite.web.rest('manager1', 'GET', `/api/tasks/${taskId}/progress`);
    expect(new Date(progress.body.task.dueAt).toISOString()).toBe(dueIso);
    const row = m.locator(`[data-testid="progress-row"][data-broker-id="${broker1}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-state')).toBe('delivered');
    await m.waitForSelector('[data-testid="task-live"]');

    const broker = await suite.open('broker1', '/tasks');
    const b = broker.page;
    const mine = b.locator(`[data-testid="my-task"][data-task-id="${taskId}"]`);
    await mine.waitFor();
    expect(await mine.locator('[data-testid="my-task-title"]').textContent()).toBe(title);
    expect(await b.locator('img').count()).toBe(0);
    // The due time in Asia/Shanghai, though the browser is in London.
    expect(await mine.locator('[data-testid="my-task-due"]').textContent()).toBe(SHANGHAI.format(new Date(dueIso)));
    expect(await mine.locator('[data-testid="my-task-due"]').textContent()).toContain('15:30:00');
    await expectAccessible(b, 'tasks (broker)');

    await mine.locator('[data-testid="task-accept"]').click();
    await b.waitForSelector(`[data-testid="my-task"][data-task-id="${taskId}"][data-state="accepted"]`);
    expect(await mine.locator('[data-testid="my-task-state"]').textContent()).toBe('已接受');
    await m.waitForSelector(`[data-testid="progress-row"][data-broker-id="${broker1}"][data-state="accepted"]`);

    // done needs a note.
    await mine.locator('[data-testid="task-done"]').click();
    expect(await mine.locator('[data-testid="my-task-error"]').textContent()).toBe('请填写完成说明');
    await mine.locator('[data-testid="task-note"]').fill('已完成 12 位客户的复盘');
    await mine.locator('[data-testid="task-done"]').click();
    await b.waitForSelector(`[data-testid="my-task"][data-task-id="${taskId}"][data-state="done"]`);
    expect(await mine.locator('[data-testid="my-task-note"]').textContent()).toBe('已完成 12 位客户的复盘');
    await expectAccessible(b, 'tasks (broker, done)');

    // The manager's table follows live.
    await m.waitForSelector(`[data-testid="progress-row"][data-broker-id="${broker1}"][data-state="done"]`);
    expect(await row.locator('[data-testid="progress-note"]').textContent()).toBe('已完成 12 位客户的复盘');
    expect(await row.locator('[data-testid="progress-state"]').textContent()).toBe('已完成');
    await m.waitForSelector(`[data-testid="task-row"][data-task-id="${taskId}"] [data-testid="task-counts"][data-done="1"][data-total="1"]`);
    expect(await m.getAttribute('[data-testid="progress-count-done"]', 'data-n')).toBe('1');
    await expectAccessible(m, 'tasks (manager, progress)');
    await m.screenshot({ path: '/tmp/qiao-desk-tasks.png', fullPage: true });

    expect(manager.problems).toEqual([]);
    expect(broker.problems).toEqual([]);
  }, 120_000);
});
