/**
 * Payloads of the account family (channels/account.ts): what the trading and back-office systems
 * report about one client's account, as published after ingest (src/account/). Every payload carries
 * a Chinese `title` and `body` (inbox, email, push show them) and the structured fields the web
 * client renders in either language. `severity` and `topic` drive routing: margin calls (topic
 * 'margin') and forced-liquidation warnings (topic 'risk') are critical (src/domain/routing.ts classify).
 */
import { z } from 'zod';
import { SYMBOL_RE, UUID_RE } from './family.ts';

const text = (max: number) => z.string().min(1).max(max);
const isoTime = z.string().datetime({ offset: true });
const ymd = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD');
const symbol = z.string().regex(SYMBOL_RE, 'A-share code like 600519.SH');
const money = z.number().finite().nonnegative();
const common = {
  /** The source system and its event id (idempotency key at ingest). */
  source: z.string().max(32),
  eventId: z.string().max(64),
  /** When it happened at the source. */
  time: isoTime,
  title: text(200),
  body: z.string().max(4000).default(''),
  severity: z.enum(['info', 'warning', 'critical']),
};

export const ORDER_STATUSES = ['filled', 'partly-filled', 'rejected', 'cancelled'] as const;

export const OrderEventPayload = z
  .object({
    ...common,
    status: z.enum(ORDER_STATUSES),
    orderId: text(64),
    symbol,
    side: z.enum(['buy', 'sell']),
    /** Order quantity (委托数量), shares. */
    qty: z.number().int().positive(),
    /** This execution's quantity (本次成交数量), on fills. */
    filledQty: z.number().int().positive().optional(),
    /** Execution price on fills, order price otherwise. */
    price: z.number().finite().positive().optional(),
    reason: z.string().max(500).optional(),
  })
  .strict();

export const MarginCallPayload = z
  .object({ ...common, topic: z.literal('margin'), amount: money, currency: z.literal('CNY'), deadline: isoTime, requireAck: z.boolean().optional() })
  .strict();

export const LiquidationWarningPayload = z
  .object({ ...common, topic: z.literal('risk'), symbol: symbol.optional(), deadline: isoTime.optional(), maintenanceRatio: z.number().finite().optional(), requireAck: z.boolean().optional() })
  .strict();

export const FundsPayload = z
  .object({ ...common, direction: z.enum(['in', 'out']), amount: money, currency: z.literal('CNY'), balance: z.number().finite().optional() })
  .strict();

export const CORPORATE_ACTION_TYPES = ['rights-issue', 'ipo-subscription', 'ipo-listing', 'warrant-exercise', 'dividend', 'suspension', 'resumption'] as const;

export const CorporateActionPayload = z
  .object({
    actionId: z.string().regex(new RegExp(`^${UUID_RE}$`)),
    type: z.enum(CORPORATE_ACTION_TYPES),
    symbol,
    name: z.string().max(64).optional(),
    dates: z.record(z.string(), ymd),
    /** Why this user got it: they hold the symbol, or they watch it (alerts.<symbol>). */
    reason: z.enum(['holder', 'watcher']),
    title: text(200),
    body: z.string().max(4000).default(''),
    severity: z.enum(['info', 'warning', 'critical']),
  })
  .strict();

export const CorporateActionReminderPayload = z
  .object({
    actionId: z.string().regex(new RegExp(`^${UUID_RE}$`)),
    type: z.enum(CORPORATE_ACTION_TYPES),
    symbol,
    step: text(16),
    /** The deadline it is about (YYYY-MM-DD) and which date that is (e.g. subscriptionEnd). */
    deadline: ymd,
    deadlineName: text(32),
    title: text(200),
    body: z.string().max(4000).default(''),
    severity: z.enum(['info', 'warning', 'critical']),
  })
  .strict();
