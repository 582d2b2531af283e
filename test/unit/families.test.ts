/**
 * Every channel family declares everything it decides (channels/family.ts): recipients, retention,
 * delivery defaults, push urgency. The first block compiles only if every family in the catalogue is a
 * complete ChannelFamily under its own name; the rest pins each family's declared values, so a
 * forgotten or changed entry fails here.
 */
import { describe, expect, it } from 'vitest';
import { FAMILIES, FAMILY_NAMES, familyNamed, resolveChannel, type FamilyName } from '../../channels/catalogue.ts';
import type { ChannelFamily, DeliveryDefaults, RecipientRule } from '../../channels/family.ts';
import { RETENTION_CLASSES, retentionForFamily, type RetentionClass } from '../../src/domain/retention.ts';
import { FAMILY_DEFAULTS, PREF_CATEGORIES, categoryOf, resolvePrefs } from '../../src/domain/routing.ts';
import { entitled } from '../../workers/fanout.worker.ts';
import { pushMessageFor } from '../../workers/push.worker.ts';
import common from '../../web-client/src/i18n/messages/common.ts';

// ---- Type-level checks (a missing member or family is a compile error in `tsc --noEmit`). ----
// Each family is a full ChannelFamily; the list is typed readonly ChannelFamily[].
const asList: readonly ChannelFamily[] = FAMILIES;
// Every required decision is present (not optional) on the interface itself.
type Required<T, K extends keyof T> = undefined extends T[K] ? never : T;
const requiredMembers: [
  Required<ChannelFamily, 'recipients'>,
  Required<ChannelFamily, 'retentionClass'>,
  Required<ChannelFamily, 'retentionDays'>,
  Required<ChannelFamily, 'delivery'>,
  Required<ChannelFamily, 'description'>,
  Required<DeliveryDefaults, 'defaultTransports'>,
  Required<DeliveryDefaults, 'pushUrgency'>,
  Required<DeliveryDefaults, 'preferenceCategory'>,
  Required<DeliveryDefaults, 'categoryByKind'>,
] | null = null;
// The web client has a `family_<name>` title for every family name.
const titles: { readonly [K in FamilyName as `family_${K}`]: string } = common.zh;
const titlesEn: { readonly [K in FamilyName as `family_${K}`]: string } = common.en;

const ALL_ON = { web: true, inbox: true, email: true, push: true, sms: false };

/** The declared values, family by family (behaviour before the move, unchanged). */
const EXPECTED: Record<FamilyName, { retentionClass: RetentionClass; retentionDays: number; recipients: RecipientRule; delivery: DeliveryDefaults }> = {
  research: {
    retentionClass: 'research',
    retentionDays: 20 * 365,
    recipients: { kind: 'subscribers', tierGated: true },
    delivery: { preferenceCategory: true, defaultTransports: { web: true, inbox: true, email: false, push: false, sms: false }, criticalSms: false, categoryByKind: {}, pushUrgency: 'low' },
  },
  alerts: {
    retentionClass: 'market-alerts',
    retentionDays: 5 * 365,
    recipients: { kind: 'subscribers', tierGated: false },
    delivery: { preferenceCategory: true, defaultTransports: { web: true, inbox: true, email: false, push: true, sms: false }, criticalSms: false, categoryByKind: {}, pushUrgency: 'normal' },
  },
  inbox: {
    retentionClass: 'client-communications',
    retentionDays: 20 * 365,
    recipients: { kind: 'owner' },
    delivery: { preferenceCategory: true, defaultTransports: ALL_ON, criticalSms: true, categoryByKind: { alert: 'alerts', 'research-forward': 'research' }, pushUrgency: 'normal' },
  },
  team: {
    retentionClass: 'staff-communications',
    retentionDays: 20 * 365,
    recipients: { kind: 'team', roles: ['broker', 'manager'] },
    delivery: { preferenceCategory: true, defaultTransports: { web: true, inbox: true, email: false, push: true, sms: false }, criticalSms: false, categoryByKind: {}, pushUrgency: 'normal' },
  },
  firm: {
    retentionClass: 'staff-communications',
    retentionDays: 20 * 365,
    recipients: { kind: 'sender-firm' },
    delivery: { preferenceCategory: true, defaultTransports: { web: true, inbox: true, email: false, push: false, sms: false }, criticalSms: false, categoryByKind: {}, pushUrgency: 'normal' },
  },
  conv: {
    retentionClass: 'client-communications',
    retentionDays: 20 * 365,
    recipients: { kind: 'conversation-members' },
    delivery: { preferenceCategory: true, defaultTransports: { web: true, inbox: false, email: false, push: true, sms: false }, criticalSms: false, categoryByKind: {}, pushUrgency: 'normal' },
  },
  tasks: {
    retentionClass: 'tasks',
    retentionDays: 5 * 365,
    recipients: { kind: 'none' },
    delivery: { preferenceCategory: false, defaultTransports: { web: true, inbox: true, email: false, push: false, sms: false }, criticalSms: false, categoryByKind: {}, pushUrgency: 'normal' },
  },
  account: {
    retentionClass: 'client-communications',
    retentionDays: 20 * 365,
    recipients: { kind: 'owner' },
    delivery: { preferenceCategory: true, defaultTransports: { web: true, inbox: true, email: false, push: true, sms: false }, criticalSms: true, categoryByKind: {}, pushUrgency: 'normal' },
  },
};

describe('channel families declare everything they decide', () => {
  it('the catalogue lists every family once, under its own name, in catalogue order', () => {
    expect(asList.length).toBe(8);
    expect(requiredMembers).toBeNull();
    expect(FAMILY_NAMES).toEqual(['research', 'alerts', 'inbox', 'team', 'firm', 'conv', 'tasks', 'account']);
    expect(new Set(FAMILY_NAMES).size).toBe(FAMILY_NAMES.length);
    for (const n of FAMILY_NAMES) expect(familyNamed(n).family).toBe(n);
  });

  it.each(Object.entries(EXPECTED))('%s declares its recipients, retention and delivery', (name, want) => {
    const f = familyNamed(name);
    expect({ retentionClass: f.retentionClass, retentionDays: f.retentionDays, recipients: f.recipients, delivery: f.delivery }).toEqual(want);
    expect(Object.hasOwn(RETENTION_CLASSES, f.retentionClass)).toBe(true);
    expect(retentionForFamily(name)).toBe(want.retentionClass);
    expect(resolvePrefs(name, {}).transports).toEqual(want.delivery.defaultTransports);
    for (const target of Object.values(f.delivery.categoryByKind)) expect(FAMILY_NAMES).toContain(target);
    for (const k of Object.keys(f.delivery.categoryByKind)) expect(Object.hasOwn(f.kinds, k)).toBe(true);
  });

  it('preference categories and their defaults come from the families', () => {
    expect(FAMILY_DEFAULTS).toEqual({
      research: EXPECTED.research.delivery.defaultTransports,
      alerts: EXPECTED.alerts.delivery.defaultTransports,
      inbox: EXPECTED.inbox.delivery.defaultTransports,
      team: EXPECTED.team.delivery.defaultTransports,
      firm: EXPECTED.firm.delivery.defaultTransports,
      conv: EXPECTED.conv.delivery.defaultTransports,
      account: EXPECTED.account.delivery.defaultTransports,
    });
    expect(PREF_CATEGORIES).toEqual(['*', 'research', 'alerts', 'inbox', 'team', 'firm', 'conv', 'account']);
    expect(categoryOf('inbox', 'alert')).toBe('alerts');
    expect(categoryOf('inbox', 'research-forward')).toBe('research');
    expect(categoryOf('inbox', 'notice')).toBe('inbox');
    expect(categoryOf('research', 'note')).toBe('research');
  });

  it('tier re-check at fanout applies to tier-gated subscriber families only', () => {
    const general = { role: 'client', tier: 'general' as const };
    const research = FAMILIES.flatMap((f) => (f.family === 'research' ? f.listFor({ id: 'x', role: 'research' } as never) : []));
    const gated = research.find((ch) => !entitled(general, ch));
    expect(gated, 'some research channel needs a higher tier').toBeDefined();
    expect(entitled({ role: 'broker', tier: null }, gated!)).toBe(true);
    expect(entitled(general, resolveChannel('alerts.market').parsed)).toBe(true);
  });

  it('push urgency follows the category of the message', () => {
    const id = '00000000-0000-4000-8000-000000000001';
    expect(pushMessageFor({ messageId: id, channel: 'research.macro', kind: 'note', payload: { title: 't' } }).options.urgency).toBe('low');
    expect(pushMessageFor({ messageId: id, channel: `inbox.${id}`, kind: 'research-forward', payload: { title: 't' } }).options.urgency).toBe('low');
    expect(pushMessageFor({ messageId: id, channel: `inbox.${id}`, kind: 'notice', payload: { title: 't' } }).options.urgency).toBe('normal');
    expect(pushMessageFor({ messageId: id, channel: `team.${id}`, kind: 'notice', payload: { title: 't' } }).options.urgency).toBe('normal');
  });

  it('the web client has a title for every family', () => {
    for (const n of FAMILY_NAMES) {
      expect(titles[`family_${n}`]).toBeTruthy();
      expect(titlesEn[`family_${n}`]).toBeTruthy();
    }
  });

  it('an unknown family is an error with a stable code, never a default', () => {
    const code = expect.objectContaining({ code: 'QIAO_CHANNEL_UNKNOWN_FAMILY' });
    expect(() => familyNamed('nope')).toThrow(code);
    expect(() => retentionForFamily('nope')).toThrow(code);
    expect(() => resolvePrefs('nope', {})).toThrow(code);
    expect(() => categoryOf('nope', 'note')).toThrow(code);
    expect(() => entitled({ role: 'client', tier: 'general' }, { name: 'nope.x', family: 'nope', parts: {} })).toThrow(code);
  });
});
