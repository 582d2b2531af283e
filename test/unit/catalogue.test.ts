import { describe, expect, it } from 'vitest';
import { authorizePublish, authorizeSubscribe, listChannels, resolveChannel, type AccessContext } from '../../channels/catalogue.ts';
import type { Principal } from '../../src/auth/principal.ts';
import { conversationAccess } from '../../src/domain/conversation-access.ts';
import { QiaoError } from '../../src/errors/codes.ts';

const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';
const B1 = '33333333-3333-4333-8333-333333333333';
const T1 = '44444444-4444-4444-8444-444444444444';
const CONV = '55555555-5555-4555-8555-555555555555';

const client = (tier: 'general' | 'hnw' | 'institutional', id = U1): Principal => ({ id, role: 'client', displayName: 'c', tier });
const staff = (role: Principal['role'], id = B1, teamId: string | null = T1): Principal => ({ id, role, displayName: role, teamId });
const ctx: AccessContext = {
  async isBrokerOf(b, c) {
    return b === B1 && c === U1;
  },
  // CONV: broker B1 (primary) with client U1, decided by the real rule.
  async conversationAccess(conv, p) {
    const facts =
      conv === CONV
        ? { type: 'broker_client' as const, brokerId: B1, clientId: U1, managerId: null, teamId: null, viewerRelation: p.id === B1 ? ('primary' as const) : null, viewerLeadsPrimaryTeam: false, viewerIsMember: false }
        : null;
    return conversationAccess(p, facts);
  },
  async findChatMessage() {
    return null;
  },
};

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof QiaoError ? e.code : String(e);
  }
}

const note = { title: '贵州茅台点评', summary: '', body: '', tickers: ['600519.SH'], riskLevel: 'R3' };

describe('channel grammar', () => {
  it.each([
    ['research.macro', 'research'],
    ['research.sector.consumer', 'research'],
    ['alerts.market', 'alerts'],
    ['alerts.600519.SH', 'alerts'],
    ['alerts.000001.SZ', 'alerts'],
    ['alerts.830799.BJ', 'alerts'],
    [`inbox.${U1}`, 'inbox'],
    [`team.${T1}`, 'team'],
    ['firm.broadcast', 'firm'],
    [`conv.${CONV}`, 'conv'],
  ])('%s is a %s channel', (name, family) => {
    expect(resolveChannel(name).family.family).toBe(family);
  });

  it.each([
    ['foo.bar', 'QIAO_CHANNEL_UNKNOWN_FAMILY'],
    ['', 'QIAO_CHANNEL_BAD_NAME'],
    ['research.nope', 'QIAO_CHANNEL_BAD_NAME'],
    ['research.sector.nope', 'QIAO_CHANNEL_BAD_NAME'],
    ['alerts.60051.SH', 'QIAO_CHANNEL_BAD_NAME'],
    ['alerts.600519.HK', 'QIAO_CHANNEL_BAD_NAME'],
    ['inbox.not-a-uuid', 'QIAO_CHANNEL_BAD_NAME'],
    ['firm.other', 'QIAO_CHANNEL_BAD_NAME'],
    ['research.macro\n', 'QIAO_CHANNEL_BAD_NAME'],
    ['x'.repeat(200), 'QIAO_CHANNEL_BAD_NAME'],
  ])('%j is refused with %s', async (name, expected) => {
    expect(await code(Promise.resolve().then(() => resolveChannel(name)))).toBe(expected);
  });

  it('refuses non-strings', async () => {
    expect(await code(Promise.resolve().then(() => resolveChannel(42)))).toBe('QIAO_CHANNEL_BAD_NAME');
  });
});

describe('subscribe authorisation', () => {
  it('entitles research categories by client tier', async () => {
    expect(await code(authorizeSubscribe(client('general'), 'research.macro', ctx))).toBe('ok');
    expect(await code(authorizeSubscribe(client('general'), 'research.quant', ctx))).toBe('QIAO_ENTITLEMENT_REQUIRED');
    expect(await code(authorizeSubscribe(client('hnw'), 'research.quant', ctx))).toBe('ok');
    expect(await code(authorizeSubscribe(client('hnw'), 'research.institutional', ctx))).toBe('QIAO_ENTITLEMENT_REQUIRED');
    expect(await code(authorizeSubscribe(client('institutional'), 'research.institutional', ctx))).toBe('ok');
    expect(await code(authorizeSubscribe(staff('broker'), 'research.institutional', ctx))).toBe('ok');
  });

  it('keeps inboxes private', async () => {
    expect(await code(authorizeSubscribe(client('general', U1), `inbox.${U1}`, ctx))).toBe('ok');
    expect(await code(authorizeSubscribe(client('general', U2), `inbox.${U1}`, ctx))).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
    expect(await code(authorizeSubscribe(staff('admin'), `inbox.${U1}`, ctx))).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
  });

  it('limits team channels to the team, compliance and admin', async () => {
    expect(await code(authorizeSubscribe(staff('broker', B1, T1), `team.${T1}`, ctx))).toBe('ok');
    expect(await code(authorizeSubscribe(staff('broker', B1, null), `team.${T1}`, ctx))).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
    expect(await code(authorizeSubscribe(client('institutional'), `team.${T1}`, ctx))).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
    expect(await code(authorizeSubscribe(staff('compliance', U2, null), `team.${T1}`, ctx))).toBe('ok');
  });

  it('limits conversations to members (and compliance)', async () => {
    expect(await code(authorizeSubscribe(client('general', U1), `conv.${CONV}`, ctx))).toBe('ok');
    expect(await code(authorizeSubscribe(client('general', U2), `conv.${CONV}`, ctx))).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
    expect(await code(authorizeSubscribe(staff('compliance', U2), `conv.${CONV}`, ctx))).toBe('ok');
  });
});

describe('publish authorisation', () => {
  it('only the research desk and admin publish research', async () => {
    expect(await code(authorizePublish(staff('research'), 'research.macro', 'note', note, ctx))).toBe('ok');
    expect(await code(authorizePublish(client('institutional'), 'research.macro', 'note', note, ctx))).toBe('QIAO_PUBLISH_FORBIDDEN');
    expect(await code(authorizePublish(staff('broker'), 'research.macro', 'note', note, ctx))).toBe('QIAO_PUBLISH_FORBIDDEN');
  });

  it('validates the payload against the kind', async () => {
    const r = staff('research');
    expect(await code(authorizePublish(r, 'research.macro', 'chat', note, ctx))).toBe('QIAO_BAD_PUBLICATION');
    expect(await code(authorizePublish(r, 'research.macro', 'note', { ...note, riskLevel: 'R9' }, ctx))).toBe('QIAO_BAD_PUBLICATION');
    expect(await code(authorizePublish(r, 'research.macro', 'note', { ...note, tickers: ['AAPL'] }, ctx))).toBe('QIAO_BAD_PUBLICATION');
    expect(await code(authorizePublish(r, 'research.macro', 'note', { ...note, extra: 1 }, ctx))).toBe('QIAO_BAD_PUBLICATION');
    expect(await code(authorizePublish(r, 'research.macro', 'note', 'text', ctx))).toBe('QIAO_BAD_PUBLICATION');
    expect(await code(authorizePublish(r, 'research.macro', 'toString', note, ctx))).toBe('QIAO_BAD_PUBLICATION');
  });

  it('lets a broker write only to its own clients\' inboxes', async () => {
    const notice = { title: '请关注', body: '' };
    expect(await code(authorizePublish(staff('broker', B1), `inbox.${U1}`, 'notice', notice, ctx))).toBe('ok');
    expect(await code(authorizePublish(staff('broker', B1), `inbox.${U2}`, 'notice', notice, ctx))).toBe('QIAO_PUBLISH_FORBIDDEN');
  });

  it('alerts come from the feed or admin only', async () => {
    const alert = { symbol: '600519.SH', title: '涨停', severity: 'warning' };
    expect(await code(authorizePublish({ id: 'feed', role: 'feed', displayName: 'feed' }, 'alerts.600519.SH', 'alert', alert, ctx))).toBe('ok');
    expect(await code(authorizePublish(staff('research'), 'alerts.600519.SH', 'alert', alert, ctx))).toBe('QIAO_PUBLISH_FORBIDDEN');
  });
});

describe('catalogue listing', () => {
  it('shows entitlement per tier and own inbox only', async () => {
    const general = await listChannels(client('general'), ctx);
    expect(general.find((c) => c.name === 'research.quant')?.entitled).toBe(false);
    expect(general.find((c) => c.name === 'research.macro')?.entitled).toBe(true);
    expect(general.some((c) => c.name === `inbox.${U1}`)).toBe(true);
    expect(general.some((c) => c.family === 'team')).toBe(false);
    expect(general.every((c) => c.title.zh && c.title.en)).toBe(true);
  });
});
