/** Routing decisions, trading sessions and zoned time with fixed clocks (no I/O). */
import { describe, expect, it } from 'vitest';
import {
  FAMILY_DEFAULTS,
  classify,
  decide,
  earliestAllowed,
  nextDigestAt,
  resolvePrefs,
  type EffectivePrefs,
  type PrefsLayer,
  type RoutingMessage,
  type RoutingRecipient,
} from '../../src/domain/routing.ts';
import { isInSession, nextSessionOpen, parseHolidays } from '../../src/domain/trading-sessions.ts';
import { localParts, nextLocalTime, parseHm, zonedToInstant } from '../../src/domain/zoned-time.ts';

/** A Shanghai wall-clock time as an instant: sh('2026-11-27 15:30'). */
const sh = (s: string) => new Date(s.replace(' ', 'T') + ':00+08:00');
const iso = (d: Date) => d.toISOString();

const note: RoutingMessage = { family: 'research', critical: false, requireAck: false };
const marginCall: RoutingMessage = { family: 'inbox', critical: true, requireAck: true };

function prefs(family: string, category: PrefsLayer = {}, global: PrefsLayer = {}, subscription?: PrefsLayer): EffectivePrefs {
  return resolvePrefs(family, { category, global, subscription });
}

function recipient(p: EffectivePrefs, extra: Partial<RoutingRecipient> = {}): RoutingRecipient {
  return { prefs: p, online: false, hasEmail: true, hasPushSubscription: true, hasPhone: true, ...extra };
}

const allOn = { transports: { web: true, inbox: true, email: true, push: true } };

describe('zoned time', () => {
  it('reads Shanghai wall-clock parts and weekday', () => {
    expect(localParts(sh('2026-11-27 15:30'), 'Asia/Shanghai')).toEqual({ year: 2026, month: 11, day: 27, hour: 15, minute: 30, weekday: 5 });
    expect(localParts(new Date('2026-11-27T16:30:00Z'), 'Asia/Shanghai')).toMatchObject({ day: 28, hour: 0, minute: 30, weekday: 6 });
  });

  it('converts a local time to an instant, across a DST jump', () => {
    expect(iso(zonedToInstant(2026, 11, 27, 9, 30, 'Asia/Shanghai'))).toBe('2026-11-27T01:30:00.000Z');
    // New York: EST (UTC-5) before 2026-03-08 02:00, EDT (UTC-4) after.
    expect(iso(zonedToInstant(2026, 3, 7, 12, 0, 'America/New_York'))).toBe('2026-03-07T17:00:00.000Z');
    expect(iso(zonedToInstant(2026, 3, 9, 12, 0, 'America/New_York'))).toBe('2026-03-09T16:00:00.000Z');
    // 02:30 does not exist that night: resolves after the jump.
    expect(iso(zonedToInstant(2026, 3, 8, 2, 30, 'America/New_York'))).toBe('2026-03-08T07:30:00.000Z');
  });

  it('finds the next occurrence of a local time, strictly after now', () => {
    expect(iso(nextLocalTime(sh('2026-11-27 06:00'), 7 * 60, 'Asia/Shanghai'))).toBe(iso(sh('2026-11-27 07:00')));
    expect(iso(nextLocalTime(sh('2026-11-27 07:00'), 7 * 60, 'Asia/Shanghai'))).toBe(iso(sh('2026-11-28 07:00')));
    expect(iso(nextLocalTime(sh('2026-11-27 23:00'), 7 * 60, 'Asia/Shanghai'))).toBe(iso(sh('2026-11-28 07:00')));
  });

  it('parses HH:MM strictly', () => {
    expect(parseHm('07:05')).toBe(425);
    expect(parseHm('24:00')).toBeNull();
    expect(parseHm('7:05')).toBeNull();
    expect(parseHm(null)).toBeNull();
  });
});

describe('A-share trading sessions (Shanghai time)', () => {
  it('is in session 09:30–11:30 and 13:00–15:00 on weekdays only', () => {
    expect(isInSession(sh('2026-11-27 09:29'))).toBe(false);
    expect(isInSession(sh('2026-11-27 09:30'))).toBe(true);
    expect(isInSession(sh('2026-11-27 11:29'))).toBe(true);
    expect(isInSession(sh('2026-11-27 11:30'))).toBe(false);
    expect(isInSession(sh('2026-11-27 12:59'))).toBe(false);
    expect(isInSession(sh('2026-11-27 13:00'))).toBe(true);
    expect(isInSession(sh('2026-11-27 14:59'))).toBe(true);
    expect(isInSession(sh('2026-11-27 15:00'))).toBe(false);
    expect(isInSession(sh('2026-11-28 10:00'))).toBe(false); // Saturday
    expect(isInSession(sh('2026-11-29 10:00'))).toBe(false); // Sunday
  });

  it('holds Friday 15:30 until Monday 09:30', () => {
    expect(iso(nextSessionOpen(sh('2026-11-27 15:30')))).toBe(iso(sh('2026-11-30 09:30')));
  });

  it('opens the afternoon session after the lunch break, and the morning one before it', () => {
    expect(iso(nextSessionOpen(sh('2026-11-27 12:00')))).toBe(iso(sh('2026-11-27 13:00')));
    expect(iso(nextSessionOpen(sh('2026-11-27 07:00')))).toBe(iso(sh('2026-11-27 09:30')));
    expect(iso(nextSessionOpen(sh('2026-11-27 10:00')))).toBe(iso(sh('2026-11-27 10:00')));
  });

  it('skips configured exchange holidays (国庆: 1–7 October 2026)', () => {
    const holidays = parseHolidays('2026-10-01,2026-10-02,2026-10-05,2026-10-06,2026-10-07');
    expect(isInSession(sh('2026-10-02 10:00'), holidays)).toBe(false);
    expect(iso(nextSessionOpen(sh('2026-09-30 15:10'), holidays))).toBe(iso(sh('2026-10-08 09:30')));
    expect(() => parseHolidays('2026-1-1')).toThrow(/YYYY-MM-DD/);
  });

  it('measures sessions in Shanghai time whatever the caller is', () => {
    // 01:30 UTC on a Friday is 09:30 in Shanghai.
    expect(isInSession(new Date('2026-11-27T01:30:00Z'))).toBe(true);
  });
});

describe('preferences', () => {
  it('falls back to family defaults', () => {
    expect(prefs('research').transports).toEqual(FAMILY_DEFAULTS.research);
    expect(prefs('research')).toMatchObject({ muted: false, quiet: null, timeZone: 'Asia/Shanghai', digest: 'immediate', tradingHoursOnly: false });
    // No silent default: an unknown family is an error with its stable code.
    expect(() => prefs('unknown-family')).toThrow(expect.objectContaining({ code: 'QIAO_CHANNEL_UNKNOWN_FAMILY' }));
  });

  it('layers * ← category ← subscription', () => {
    const p = prefs(
      'research',
      { transports: { email: true }, digest: 'daily', digestAt: '18:00' },
      { transports: { push: true, email: false }, quietStart: '22:00', quietEnd: '07:00', muted: true },
      { transports: { inbox: false } },
    );
    expect(p.transports).toEqual({ web: true, inbox: false, email: true, push: true, sms: false });
    expect(p.digest).toBe('daily');
    expect(p.digestAt).toBe(18 * 60);
    expect(p.quiet).toEqual({ start: 22 * 60, end: 7 * 60 });
    expect(p.muted).toBe(true);
    // A category row decides mute itself.
    expect(prefs('research', { muted: false }, { muted: true }).muted).toBe(false);
    expect(prefs('research', {}, {}, { muted: true }).muted).toBe(true);
  });

  it("uses the user's time zone unless a preference sets one", () => {
    expect(resolvePrefs('research', {}, 'Europe/London').timeZone).toBe('Europe/London');
    expect(resolvePrefs('research', { global: { timeZone: 'Asia/Hong_Kong' } }, 'Europe/London').timeZone).toBe('Asia/Hong_Kong');
  });

  it('classifies critical and must-acknowledge payloads', () => {
    expect(classify({ title: 'x' })).toEqual({ critical: false, requireAck: false });
    expect(classify({ severity: 'critical' })).toEqual({ critical: true, requireAck: false });
    expect(classify({ topic: 'margin' })).toEqual({ critical: true, requireAck: true });
    expect(classify({ topic: 'compliance', requireAck: false })).toEqual({ critical: true, requireAck: false });
    expect(classify({ topic: 'general', requireAck: true })).toEqual({ critical: false, requireAck: true });
    expect(classify(null)).toEqual({ critical: false, requireAck: false });
  });
});

describe('decide', () => {
  const now = sh('2026-11-27 10:00'); // Friday, in session

  it('sends on the transports the user enabled, suppresses the rest with reason "preference"', () => {
    const d = decide(note, recipient(prefs('research')), now);
    expect(d.inbox).toEqual({ action: 'send' });
    expect(d.email).toEqual({ action: 'suppress', reason: 'preference' });
    expect(d.push).toEqual({ action: 'suppress', reason: 'preference' });
    expect(d.web).toEqual({ action: 'suppress', reason: 'offline' });
    expect(decide(note, recipient(prefs('research'), { online: true }), now).web).toEqual({ action: 'send' });
  });

  it('mutes everything but live web', () => {
    const d = decide(note, recipient(prefs('research', { ...allOn, muted: true })), now);
    expect(d.inbox).toEqual({ action: 'suppress', reason: 'mute' });
    expect(d.email).toEqual({ action: 'suppress', reason: 'mute' });
    expect(d.push).toEqual({ action: 'suppress', reason: 'mute' });
  });

  it('suppresses push without a subscription, email without an address, push while online', () => {
    const p = prefs('research', allOn);
    expect(decide(note, recipient(p, { hasPushSubscription: false }), now).push).toEqual({ action: 'suppress', reason: 'no-subscription' });
    expect(decide(note, recipient(p, { hasEmail: false }), now).email).toEqual({ action: 'suppress', reason: 'no-email' });
    const online = decide(note, recipient(p, { online: true }), now);
    expect(online.push).toEqual({ action: 'suppress', reason: 'online' });
    expect(online.email).toEqual({ action: 'send' });
  });

  it('holds email and push during quiet hours that cross midnight, until they end; inbox is not held', () => {
    const p = prefs('research', { ...allOn, quietStart: '22:00', quietEnd: '07:00' });
    for (const at of ['2026-11-27 22:00', '2026-11-27 23:59', '2026-11-28 00:30', '2026-11-28 06:59']) {
      const d = decide(note, recipient(p), sh(at));
      expect(d.email, at).toEqual({ action: 'hold', until: sh('2026-11-28 07:00'), reason: 'quiet-hours' });
      expect(d.push, at).toEqual({ action: 'hold', until: sh('2026-11-28 07:00'), reason: 'quiet-hours' });
      expect(d.inbox, at).toEqual({ action: 'send' });
    }
    expect(decide(note, recipient(p), sh('2026-11-27 21:59')).email).toEqual({ action: 'send' });
    expect(decide(note, recipient(p), sh('2026-11-28 07:00')).email).toEqual({ action: 'send' });
  });

  it('handles quiet hours inside one day', () => {
    const p = prefs('research', { ...allOn, quietStart: '12:00', quietEnd: '14:00' });
    expect(decide(note, recipient(p), sh('2026-11-27 13:00')).email).toEqual({ action: 'hold', until: sh('2026-11-27 14:00'), reason: 'quiet-hours' });
    expect(decide(note, recipient(p), sh('2026-11-27 14:00')).email).toEqual({ action: 'send' });
  });

  it("computes quiet hours in the user's time zone", () => {
    // 22:00–07:00 in London; 06:00 London (GMT) = 14:00 Shanghai.
    const p = resolvePrefs('research', { category: { ...allOn, quietStart: '22:00', quietEnd: '07:00' } }, 'Europe/London');
    const d = decide(note, recipient(p), new Date('2026-11-27T06:00:00Z'));
    expect(d.email).toEqual({ action: 'hold', until: new Date('2026-11-27T07:00:00Z'), reason: 'quiet-hours' });
  });

  it('research only during trading hours: Friday 15:30 → Monday 09:30', () => {
    const p = prefs('research', { ...allOn, tradingHoursOnly: true });
    const d = decide(note, recipient(p), sh('2026-11-27 15:30'));
    expect(d.email).toEqual({ action: 'hold', until: sh('2026-11-30 09:30'), reason: 'trading-hours' });
    expect(d.push).toEqual({ action: 'hold', until: sh('2026-11-30 09:30'), reason: 'trading-hours' });
    expect(d.inbox).toEqual({ action: 'send' });
    expect(decide(note, recipient(p), sh('2026-11-27 11:45')).email).toEqual({ action: 'hold', until: sh('2026-11-27 13:00'), reason: 'trading-hours' });
    expect(decide(note, recipient(p), sh('2026-11-27 13:00')).email).toEqual({ action: 'send' });
  });

  it('combines trading hours with quiet hours (session open inside quiet hours moves on)', () => {
    const p = prefs('research', { ...allOn, tradingHoursOnly: true, quietStart: '09:00', quietEnd: '10:00' });
    const r = earliestAllowed(sh('2026-11-27 15:30'), p);
    expect(r).toEqual({ at: sh('2026-11-30 10:00'), reason: 'trading-hours' });
  });

  it('holds email for the digest (hourly, daily at a chosen time); push is covered by the digest', () => {
    const hourly = prefs('research', { ...allOn, digest: 'hourly' });
    expect(decide(note, recipient(hourly), sh('2026-11-27 10:20')).email).toEqual({ action: 'hold', until: sh('2026-11-27 11:00'), reason: 'digest' });
    expect(decide(note, recipient(hourly), sh('2026-11-27 23:20')).email).toEqual({ action: 'hold', until: sh('2026-11-28 00:00'), reason: 'digest' });
    expect(decide(note, recipient(hourly), sh('2026-11-27 10:20')).push).toEqual({ action: 'suppress', reason: 'digest' });
    const daily = prefs('research', { ...allOn, digest: 'daily', digestAt: '18:00' });
    expect(decide(note, recipient(daily), sh('2026-11-27 10:20')).email).toEqual({ action: 'hold', until: sh('2026-11-27 18:00'), reason: 'digest' });
    expect(decide(note, recipient(daily), sh('2026-11-27 18:20')).email).toEqual({ action: 'hold', until: sh('2026-11-28 18:00'), reason: 'digest' });
    // Default daily time 08:30.
    expect(nextDigestAt(sh('2026-11-27 10:20'), prefs('research', { digest: 'daily' }))).toEqual(sh('2026-11-28 08:30'));
  });

  it('moves an hourly digest that falls in quiet hours to their end', () => {
    const p = prefs('research', { ...allOn, digest: 'hourly', quietStart: '22:00', quietEnd: '07:00' });
    expect(decide(note, recipient(p), sh('2026-11-27 21:20')).email).toEqual({ action: 'hold', until: sh('2026-11-28 07:00'), reason: 'digest' });
  });

  it('critical messages bypass quiet hours, trading hours, digests and mute — but not a transport turned off', () => {
    const p = prefs('inbox', { quietStart: '22:00', quietEnd: '07:00', tradingHoursOnly: true, digest: 'daily', muted: true });
    const d = decide(marginCall, recipient(p, { online: true }), sh('2026-11-28 23:30'));
    expect(d.inbox).toEqual({ action: 'send' });
    expect(d.email).toEqual({ action: 'send' });
    expect(d.push).toEqual({ action: 'send' });
    const off = prefs('inbox', { transports: { email: false, inbox: false }, muted: true });
    const d2 = decide(marginCall, recipient(off), sh('2026-11-28 23:30'));
    expect(d2.email).toEqual({ action: 'suppress', reason: 'preference' });
    expect(d2.inbox).toEqual({ action: 'send' });
  });

  it('must-acknowledge messages always reach the inbox', () => {
    const p = prefs('firm', { transports: { inbox: false }, muted: true });
    const d = decide({ family: 'firm', critical: false, requireAck: true }, recipient(p), now);
    expect(d.inbox).toEqual({ action: 'send' });
    expect(d.email).toEqual({ action: 'suppress', reason: 'mute' });
  });

  it('decides quickly enough for large fanouts (sanity, not a benchmark)', () => {
    const p = prefs('research', { ...allOn, quietStart: '22:00', quietEnd: '07:00', tradingHoursOnly: true });
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) decide(note, recipient(p), new Date(now.getTime() + i * 60_000));
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
