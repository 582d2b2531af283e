/** Fanout planning (workers/fanout.worker.ts planPage): entitlement, sender, layers, rows — no I/O. */
import { describe, expect, it } from 'vitest';
import { resolveChannel } from '../../channels/catalogue.ts';
import { TRACKED_TRANSPORTS } from '../../src/domain/routing.ts';
import type { RecipientRow } from '../../src/store/recipients-repo.ts';
import { planPage, type PageInput } from '../../workers/fanout.worker.ts';

const sh = (s: string) => new Date(s.replace(' ', 'T') + ':00+08:00');
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function user(n: number, extra: Partial<RecipientRow> = {}): RecipientRow {
  return { id: id(n), role: 'client', tier: 'general', email: `u${n}@x.example`, phone: null, locale: 'zh-CN', timeZone: 'Asia/Shanghai', subscriptionPrefs: {}, ...extra };
}

function input(channel: string, recipients: RecipientRow[], extra: Partial<PageInput> = {}): PageInput {
  const r = resolveChannel(channel);
  return {
    messageId: id(999),
    channel: r.parsed,
    senderId: id(500),
    category: r.family.family,
    msg: { family: r.family.family, critical: false, requireAck: false },
    recipients,
    layers: new Map(),
    withPush: new Set(),
    now: sh('2026-11-27 10:00'),
    ...extra,
  };
}

describe('planPage', () => {
  it('writes a row per transport the recipient chose and an inbox item per recipient; none for transports not chosen', () => {
    const p = planPage(input('research.macro', [user(1), user(2)]));
    // Research defaults: inbox only. Email, push and SMS are not chosen: counted, no row.
    expect(p.rows.map((r) => `${r.userId}:${r.transport}:${r.status}`)).toEqual([`${id(1)}:inbox:delivered`, `${id(2)}:inbox:delivered`]);
    expect(p.notChosen).toBe(2 * (TRACKED_TRANSPORTS.length - 1));
    expect(p.inboxItems.map((i) => i.userId)).toEqual([id(1), id(2)]);
    // Chosen by a category layer: the email row appears (queued).
    const withEmail = planPage(input('research.macro', [user(1)], { layers: new Map([[id(1), { category: { transports: { email: true } } }]]) }));
    expect(withEmail.rows.find((r) => r.transport === 'email')).toMatchObject({ status: 'queued' });
    expect(withEmail.notChosen).toBe(TRACKED_TRANSPORTS.length - 2);
  });

  it('skips the sender and clients whose tier is below the channel; staff are always entitled', () => {
    const p = planPage(
      input('research.quant', [user(1, { tier: 'general' }), user(2, { tier: 'hnw' }), user(3, { role: 'broker', tier: null }), user(500, { role: 'research', tier: null })]),
    );
    expect(p.inboxItems.map((i) => i.userId)).toEqual([id(2), id(3)]);
    expect(p.skipped).toBe(2);
  });

  it("applies the '*' row, the category row and the subscription's own prefs", () => {
    const layers = new Map([[id(1), { global: { transports: { email: true } } }], [id(2), { category: { transports: { email: true }, quietStart: '09:00', quietEnd: '11:00' } }]]);
    const p = planPage(input('research.macro', [user(1), user(2), user(3, { subscriptionPrefs: { muted: true } })], { layers }));
    const email = (n: number) => p.rows.find((r) => r.userId === id(n) && r.transport === 'email');
    expect(email(1)).toMatchObject({ status: 'queued' });
    expect(email(2)).toMatchObject({ status: 'held', reason: 'quiet-hours', dueAt: sh('2026-11-27 11:00') });
    expect(email(3)).toMatchObject({ status: 'suppressed', reason: 'mute' });
    expect(p.inboxItems.map((i) => i.userId)).toEqual([id(1), id(2)]);
  });

  it('lists must-acknowledge recipients for escalation; push needs a subscription', () => {
    const p = planPage(
      input(`inbox.${id(7)}`, [user(7)], {
        category: 'inbox',
        msg: { family: 'inbox', critical: true, requireAck: true },
        withPush: new Set([id(7)]),
      }),
    );
    expect(p.ackUsers).toEqual([id(7)]);
    expect(p.rows.find((r) => r.transport === 'push')).toMatchObject({ status: 'queued' });
    const none = planPage(input(`inbox.${id(7)}`, [user(7)], { category: 'inbox' }));
    expect(none.rows.find((r) => r.transport === 'push')).toMatchObject({ status: 'suppressed', reason: 'no-subscription' });
  });

  it('suppresses email for recipients without an address and push for online ones', () => {
    const layers = new Map([[id(1), { category: { transports: { email: true, push: true } } }], [id(2), { category: { transports: { email: true, push: true } } }]]);
    const p = planPage(input('research.macro', [user(1, { email: null }), user(2)], { layers, withPush: new Set([id(1), id(2)]), presence: new Map([[id(2), 'online']]) }));
    expect(p.rows.find((r) => r.userId === id(1) && r.transport === 'email')).toMatchObject({ status: 'suppressed', reason: 'no-email' });
    expect(p.rows.find((r) => r.userId === id(1) && r.transport === 'push')).toMatchObject({ status: 'queued' });
    expect(p.rows.find((r) => r.userId === id(2) && r.transport === 'push')).toMatchObject({ status: 'suppressed', reason: 'online' });
  });
});
