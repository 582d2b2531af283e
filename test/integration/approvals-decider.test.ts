/**
 * Approvals name their decider: `decidedByName` (the display name of `decidedBy`) on the list, the
 * single approval and the decision's answer; null while pending. The approvals history of the web
 * client shows who decided from it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedApp, type TestApp } from '../helpers/app.ts';

describe('approvals: decidedByName (embedded)', () => {
  let t: TestApp;
  const tok: Record<string, string> = {};

  beforeAll(async () => {
    t = await startEmbeddedApp();
    for (const l of ['admin', 'compliance1']) tok[l] = (await t.login(l)).token;
  });
  afterAll(async () => t?.close());

  it('is null while pending and the decider’s name once decided, everywhere an approval is shown', async () => {
    const pub = await t.request('POST', '/api/channels/firm.broadcast/publications', { token: tok.admin, json: { kind: 'notice', payload: { title: '决定人测试' } } });
    expect(pub.status, pub.text).toBe(202);
    const id = pub.body.approvalId as string;

    const pending = await t.request('GET', `/api/approvals/${id}`, { token: tok.admin });
    expect(pending.body).toMatchObject({ status: 'pending', decidedBy: null, decidedByName: null });

    const decided = await t.request('POST', `/api/approvals/${id}/reject`, { token: tok.compliance1, json: { note: '不予发布' } });
    expect(decided.status, decided.text).toBe(200);
    expect(decided.body.approval).toMatchObject({ status: 'rejected', decidedByName: '赵合规', note: '不予发布' });

    const list = await t.request('GET', '/api/approvals?status=rejected', { token: tok.admin });
    expect(list.body.approvals.find((a: { id: string }) => a.id === id)).toMatchObject({ decidedByName: '赵合规', requestedBy: { displayName: '系统管理员' } });
    expect((await t.request('GET', `/api/approvals/${id}`, { token: tok.compliance1 })).body.decidedByName).toBe('赵合规');
  });
});
