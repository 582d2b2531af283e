/**
 * The catalogue rules behind recommendations and tasks: the task feed family, server-only ("internal")
 * kinds, trusted publishing by a service, and the firm family's approval requirement.
 */
import { describe, expect, it } from 'vitest';
import { authorizePublish, authorizeSubscribe, listChannels, resolveChannel, type AccessContext } from '../../channels/catalogue.ts';
import { SECURITY_RE } from '../../channels/family.ts';
import type { Principal } from '../../src/auth/principal.ts';
import { QiaoError } from '../../src/errors/codes.ts';

const M = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const C = '33333333-3333-4333-8333-333333333333';
const ctx: AccessContext = {
  async isBrokerOf(b, c) {
    return b === B && c === C;
  },
  async conversationAccess() {
    return 'none';
  },
  async findChatMessage() {
    return null;
  },
};
const who = (role: Principal['role'], id: string): Principal => ({ id, role, displayName: role });

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof QiaoError ? e.code : String(e);
  }
}

const progress = { taskId: M, brokerId: B, brokerName: '王经纪', state: 'done', note: '完成', at: '2026-11-25T02:00:00.000Z', dueAt: '2026-11-26T02:00:00.000Z' };
const recommendation = { recommendationId: M, title: '投资建议', security: '600519.SH', riskLevel: 'R3', body: '理由', basis: 'level', brokerName: '王经纪' };

describe('task feed family', () => {
  it('parses tasks.<uuid> only', async () => {
    expect(resolveChannel(`tasks.${M}`).parsed.parts).toEqual({ userId: M });
    expect(await code(Promise.resolve().then(() => resolveChannel('tasks.x')))).toBe('QIAO_CHANNEL_BAD_NAME');
    expect(await code(Promise.resolve().then(() => resolveChannel(`tasks.${M}.x`)))).toBe('QIAO_CHANNEL_BAD_NAME');
  });

  it('the owner, compliance and admin subscribe; nobody else', async () => {
    expect(await code(authorizeSubscribe(who('manager', M), `tasks.${M}`, ctx))).toBe('ok');
    expect(await code(authorizeSubscribe(who('broker', B), `tasks.${B}`, ctx))).toBe('ok');
    expect(await code(authorizeSubscribe(who('compliance', C), `tasks.${M}`, ctx))).toBe('ok');
    expect(await code(authorizeSubscribe(who('admin', C), `tasks.${M}`, ctx))).toBe('ok');
    expect(await code(authorizeSubscribe(who('broker', B), `tasks.${M}`, ctx))).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
    expect(await code(authorizeSubscribe(who('manager', C), `tasks.${M}`, ctx))).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
    expect(await code(authorizeSubscribe(who('client', C), `tasks.${M}`, ctx))).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
  });

  it('nobody publishes to it with a publish command, not even its owner or admin', async () => {
    for (const p of [who('manager', M), who('broker', B), who('admin', C)]) {
      expect(await code(authorizePublish(p, `tasks.${M}`, 'task.progress', progress, ctx))).toBe('QIAO_PUBLISH_FORBIDDEN');
    }
  });

  it('a trusted service publishes, and its payload is still checked', async () => {
    expect(await code(authorizePublish(who('broker', B), `tasks.${M}`, 'task.progress', progress, ctx, { trusted: true }))).toBe('ok');
    expect(await code(authorizePublish(who('broker', B), `tasks.${M}`, 'task.progress', { ...progress, state: 'lost' }, ctx, { trusted: true }))).toBe('QIAO_BAD_PUBLICATION');
    expect(await code(authorizePublish(who('broker', B), `tasks.${M}`, 'chat', progress, ctx, { trusted: true }))).toBe('QIAO_BAD_PUBLICATION');
  });

  it('is not in the channel list', async () => {
    const list = await listChannels(who('manager', M), ctx);
    expect(list.some((c) => c.family === 'tasks')).toBe(false);
  });
});

describe('server-only kinds on the inbox', () => {
  it('a broker may send its client a notice, but not a recommendation or a task', async () => {
    expect(await code(authorizePublish(who('broker', B), `inbox.${C}`, 'notice', { title: '请关注' }, ctx))).toBe('ok');
    expect(await code(authorizePublish(who('broker', B), `inbox.${C}`, 'recommendation', recommendation, ctx))).toBe('QIAO_PUBLISH_FORBIDDEN');
    expect(await code(authorizePublish(who('admin', M), `inbox.${C}`, 'recommendation', recommendation, ctx))).toBe('QIAO_PUBLISH_FORBIDDEN');
    expect(await code(authorizePublish(who('broker', B), `inbox.${C}`, 'recommendation', recommendation, ctx, { trusted: true }))).toBe('ok');
  });

  it('lists only the open kinds when the kind is unknown', async () => {
    try {
      await authorizePublish(who('broker', B), `inbox.${C}`, 'memo', {}, ctx);
      expect.unreachable();
    } catch (e) {
      expect((e as QiaoError).code).toBe('QIAO_BAD_PUBLICATION');
      expect((e as QiaoError).message).not.toContain('recommendation');
    }
  });
});

describe('firm broadcast', () => {
  it('requires approval; only admin may submit one', async () => {
    expect(resolveChannel('firm.broadcast').family.requiresApproval).toBe(true);
    expect(resolveChannel('research.macro').family.requiresApproval).toBeFalsy();
    expect(await code(authorizePublish(who('admin', M), 'firm.broadcast', 'notice', { title: '通知' }, ctx))).toBe('ok');
    expect(await code(authorizePublish(who('manager', M), 'firm.broadcast', 'notice', { title: '通知' }, ctx))).toBe('QIAO_PUBLISH_FORBIDDEN');
  });
});

describe('security grammar', () => {
  it.each(['600519.SH', '000001.SZ', '830799.BJ', '510300.OF', 'QZ-WM-2026-001', 'ABC'])('%s is accepted', (s) => expect(SECURITY_RE.test(s)).toBe(true));
  it.each(['', 'AB', '600519', '600519.HK', 'qz-wm', '-ABC', 'A'.repeat(33), '贵州茅台', '600519.SH\n'])('%j is refused', (s) => expect(SECURITY_RE.test(s)).toBe(false));
});
