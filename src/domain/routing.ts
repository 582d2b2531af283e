/**
 * Delivery routing: for one message and one recipient, which transports to use now, which to hold
 * (until quiet hours end, the next trading session opens, or the digest is due) and which to
 * suppress, and why. Pure — no I/O and no clock of its own (`now` is an argument), so every rule is
 * unit-tested with fixed clocks (test/unit/routing.test.ts).
 *
 * Rules, in order, per transport:
 * - web (live socket): sent by the hub to subscribed sockets whatever this says; reported for
 *   completeness and not tracked as a delivery row.
 * - inbox: silent, so never held. Critical and must-acknowledge messages always land in the inbox;
 *   otherwise mute and the inbox preference apply.
 * - email, push and SMS interrupt, so they also honour digests, quiet hours and "trading hours only".
 *   Critical messages (security, margin/risk, compliance notices, severity 'critical') bypass mute,
 *   quiet hours, trading-hours holds and digests; the per-transport on/off preference still applies
 *   (turning a transport off is an explicit choice, and the inbox copy is always there).
 *   Push and SMS are suppressed while the user is online (the live socket already showed it) unless
 *   critical, and in digest mode (the digest email covers it). SMS is off by default; critical
 *   messages of a family declaring `delivery.criticalSms` go by SMS unless the user turned it off.
 */
import { FAMILIES, familyNamed } from '../../channels/catalogue.ts';
import { isInSession, nextSessionOpen, type Holidays } from './trading-sessions.ts';
import { localParts, nextLocalTime, parseHm } from './zoned-time.ts';

export const TRANSPORTS = ['web', 'inbox', 'email', 'push', 'sms'] as const;
export type Transport = (typeof TRANSPORTS)[number];
/** Transports with a deliveries row (web is live-only and not tracked). */
export const TRACKED_TRANSPORTS = ['inbox', 'email', 'push', 'sms'] as const;
export type TrackedTransport = (typeof TRACKED_TRANSPORTS)[number];
/** Tracked transports a delivery worker sends (the inbox copy is written at fanout). */
export type SentTransport = Exclude<TrackedTransport, 'inbox'>;
export const SENT_TRANSPORTS: readonly SentTransport[] = TRACKED_TRANSPORTS.filter((t): t is SentTransport => t !== 'inbox');

export type DigestMode = 'immediate' | 'hourly' | 'daily';
export type HoldReason = 'quiet-hours' | 'trading-hours' | 'digest';
export type SuppressReason = 'preference' | 'mute' | 'digest' | 'no-subscription' | 'no-email' | 'no-phone' | 'online' | 'offline';

export type Decision =
  | { action: 'send' }
  | { action: 'hold'; until: Date; reason: HoldReason }
  | { action: 'suppress'; reason: SuppressReason };
export type RoutingDecision = Record<Transport, Decision>;

/** One stored layer of preferences: the '*' row, a category row, or a subscription's own prefs. */
export interface PrefsLayer {
  transports?: Partial<Record<Transport, boolean>> | null;
  muted?: boolean | null;
  quietStart?: string | null;
  quietEnd?: string | null;
  timeZone?: string | null;
  digest?: DigestMode | null;
  digestAt?: string | null;
  tradingHoursOnly?: boolean | null;
}

export interface EffectivePrefs {
  transports: Record<Transport, boolean>;
  muted: boolean;
  /** Quiet hours as minutes after local midnight; start > end crosses midnight. */
  quiet: { start: number; end: number } | null;
  timeZone: string;
  digest: DigestMode;
  /** Daily digest time, minutes after local midnight. */
  digestAt: number;
  tradingHoursOnly: boolean;
  /**
   * Critical messages go by SMS although `transports.sms` is off: the family says so
   * (`delivery.criticalSms`) and no layer turned SMS off explicitly. Absent: false.
   */
  criticalSms?: boolean;
}

export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';
export const DEFAULT_DIGEST_AT = '08:30';

/**
 * What each preference category (a family declaring `delivery.preferenceCategory`) sends when the user
 * has set nothing: the families' own `delivery.defaultTransports`, in catalogue order.
 */
export const FAMILY_DEFAULTS: Readonly<Record<string, Readonly<Record<Transport, boolean>>>> = Object.fromEntries(
  FAMILIES.filter((f) => f.delivery.preferenceCategory).map((f) => [f.family, f.delivery.defaultTransports]),
);

/**
 * The preference category of a message: its channel family, except for kinds the family maps to
 * another category (`delivery.categoryByKind`: an inbox price alert → 'alerts', a forwarded note →
 * 'research'). An unknown family throws QIAO_CHANNEL_UNKNOWN_FAMILY.
 */
export function categoryOf(family: string, kind: string): string {
  const byKind = familyNamed(family).delivery.categoryByKind;
  return Object.hasOwn(byKind, kind) ? byKind[kind] : family;
}

/** Categories a preference row may name: a channel family, or '*' for all of them. */
export const PREF_CATEGORIES = ['*', ...Object.keys(FAMILY_DEFAULTS)] as const;

function pickTransports(into: Record<Transport, boolean>, layer: PrefsLayer | undefined): void {
  if (!layer?.transports) return;
  for (const t of TRANSPORTS) {
    const v = layer.transports[t];
    if (typeof v === 'boolean') into[t] = v;
  }
}

/**
 * Layers, weakest first: family defaults ← '*' row ← category row ← the subscription's own prefs.
 * A category row, when present, decides its scalar settings itself (rows are complete); quiet hours
 * fall back to the '*' row when the category row sets none.
 */
export function resolvePrefs(
  family: string,
  layers: { global?: PrefsLayer; category?: PrefsLayer; subscription?: PrefsLayer },
  userTimeZone: string = DEFAULT_TIME_ZONE,
): EffectivePrefs {
  const { global: g, category: c, subscription: s } = layers;
  // The family's declared defaults; an unknown family throws QIAO_CHANNEL_UNKNOWN_FAMILY.
  const declared = familyNamed(family).delivery;
  const transports = { ...declared.defaultTransports };
  pickTransports(transports, g);
  pickTransports(transports, c);
  pickTransports(transports, s);
  const first = <T>(...vals: Array<T | null | undefined>): T | undefined => vals.find((v) => v !== undefined && v !== null) as T | undefined;
  const quietOf = (l?: PrefsLayer) => {
    const start = parseHm(l?.quietStart);
    const end = parseHm(l?.quietEnd);
    return start !== null && end !== null && start !== end ? { start, end } : null;
  };
  const smsOffExplicitly = [g, c, s].some((l) => l?.transports?.sms === false);
  return {
    transports,
    criticalSms: declared.criticalSms && !smsOffExplicitly,
    muted: first(s?.muted, c?.muted, g?.muted) ?? false,
    quiet: c && (c.quietStart || c.quietEnd) ? quietOf(c) : quietOf(g),
    timeZone: first(c?.timeZone, g?.timeZone) ?? userTimeZone,
    digest: first(s?.digest, c?.digest, g?.digest) ?? 'immediate',
    digestAt: parseHm(first(c?.digestAt, g?.digestAt)) ?? parseHm(DEFAULT_DIGEST_AT)!,
    tradingHoursOnly: first(c?.tradingHoursOnly, g?.tradingHoursOnly) ?? false,
  };
}

export interface RoutingMessage {
  family: string;
  /** Bypasses mute, quiet hours, trading-hours holds and digests. */
  critical: boolean;
  /** Must be acknowledged (read): always goes to the inbox; escalation follows if unread. */
  requireAck: boolean;
}

export interface RoutingRecipient {
  prefs: EffectivePrefs;
  /** Has a live, active connection (presence 'online'). */
  online: boolean;
  hasEmail: boolean;
  hasPushSubscription: boolean;
  /** Has a (validated) mobile number. */
  hasPhone: boolean;
}

export interface RoutingOptions {
  holidays?: Holidays;
}

/** Topics of notices that are critical by nature (securities regulation and account safety). */
export const CRITICAL_TOPICS = new Set(['security', 'margin', 'risk', 'compliance']);

/** Critical and must-acknowledge flags from a stored payload (notices and alerts carry them). */
export function classify(payload: unknown): { critical: boolean; requireAck: boolean } {
  const p = (payload ?? {}) as { severity?: unknown; topic?: unknown; requireAck?: unknown };
  const criticalTopic = typeof p.topic === 'string' && CRITICAL_TOPICS.has(p.topic);
  return {
    critical: p.severity === 'critical' || criticalTopic,
    // Margin calls, risk and compliance notices must be acknowledged; anything may ask for it.
    requireAck: p.requireAck === true || (criticalTopic && p.requireAck !== false),
  };
}

function inQuiet(t: Date, quiet: { start: number; end: number }, timeZone: string): boolean {
  const p = localParts(t, timeZone);
  const m = p.hour * 60 + p.minute;
  return quiet.start < quiet.end ? m >= quiet.start && m < quiet.end : m >= quiet.start || m < quiet.end;
}

/**
 * The first instant at or after `t` outside quiet hours and (if asked) inside a trading session.
 * Returns the reason of the first move, or null when `t` itself is fine.
 */
export function earliestAllowed(t: Date, prefs: EffectivePrefs, opts: RoutingOptions = {}): { at: Date; reason: HoldReason | null } {
  let at = t;
  let reason: HoldReason | null = null;
  // Each pass moves forward; two constraints settle in a few passes (bounded in case they never agree).
  for (let i = 0; i < 8; i++) {
    let moved = false;
    if (prefs.tradingHoursOnly && !isInSession(at, opts.holidays)) {
      at = nextSessionOpen(at, opts.holidays);
      reason ??= 'trading-hours';
      moved = true;
    }
    if (prefs.quiet && inQuiet(at, prefs.quiet, prefs.timeZone)) {
      at = nextLocalTime(at, prefs.quiet.end, prefs.timeZone);
      reason ??= 'quiet-hours';
      moved = true;
    }
    if (!moved) break;
  }
  return { at, reason };
}

/** When the next digest containing a message routed at `now` goes out. */
export function nextDigestAt(now: Date, prefs: EffectivePrefs, opts: RoutingOptions = {}): Date {
  let due: Date;
  if (prefs.digest === 'hourly') {
    const p = localParts(now, prefs.timeZone);
    due = nextLocalTime(now, ((p.hour + 1) % 24) * 60, prefs.timeZone);
  } else {
    due = nextLocalTime(now, prefs.digestAt, prefs.timeZone);
  }
  return earliestAllowed(due, prefs, opts).at;
}

/** What each interruptive transport needs of the recipient, and the reason when it is missing. */
const CONTACT: Record<'email' | 'push' | 'sms', { has: (r: RoutingRecipient) => boolean; missing: SuppressReason }> = {
  email: { has: (r) => r.hasEmail, missing: 'no-email' },
  push: { has: (r) => r.hasPushSubscription, missing: 'no-subscription' },
  sms: { has: (r) => r.hasPhone, missing: 'no-phone' },
};

function interruptive(t: 'email' | 'push' | 'sms', msg: RoutingMessage, r: RoutingRecipient, now: Date, opts: RoutingOptions): Decision {
  const p = r.prefs;
  if (!msg.critical && p.muted) return { action: 'suppress', reason: 'mute' };
  const on = p.transports[t] || (t === 'sms' && msg.critical && p.criticalSms === true);
  if (!on) return { action: 'suppress', reason: 'preference' };
  if (!CONTACT[t].has(r)) return { action: 'suppress', reason: CONTACT[t].missing };
  if (msg.critical) return { action: 'send' };
  // Push and SMS are for someone away from the web client; the live socket already showed it.
  if (t !== 'email' && r.online) return { action: 'suppress', reason: 'online' };
  if (p.digest !== 'immediate') {
    return t === 'email' ? { action: 'hold', until: nextDigestAt(now, p, opts), reason: 'digest' } : { action: 'suppress', reason: 'digest' };
  }
  const { at, reason } = earliestAllowed(now, p, opts);
  return reason ? { action: 'hold', until: at, reason } : { action: 'send' };
}

export function decide(msg: RoutingMessage, r: RoutingRecipient, now: Date, opts: RoutingOptions = {}): RoutingDecision {
  const p = r.prefs;
  const web: Decision = !p.transports.web ? { action: 'suppress', reason: 'preference' } : r.online ? { action: 'send' } : { action: 'suppress', reason: 'offline' };
  let inbox: Decision;
  if (msg.critical || msg.requireAck) inbox = { action: 'send' };
  else if (p.muted) inbox = { action: 'suppress', reason: 'mute' };
  else if (!p.transports.inbox) inbox = { action: 'suppress', reason: 'preference' };
  else inbox = { action: 'send' };
  return {
    web,
    inbox,
    email: interruptive('email', msg, r, now, opts),
    push: interruptive('push', msg, r, now, opts),
    sms: interruptive('sms', msg, r, now, opts),
  };
}
