/** Payload validators shared by channel families (zod schemas, one per message kind). */
import { z } from 'zod';
import type { KindSpec } from './family.ts';
import { SYMBOL_RE } from './family.ts';

const text = (max: number) => z.string().min(1).max(max);

export const ResearchNotePayload = z
  .object({
    title: text(200),
    summary: z.string().max(2000).default(''),
    body: z.string().max(200_000).default(''),
    tickers: z.array(z.string().regex(SYMBOL_RE, 'A-share code like 600519.SH')).max(50).default([]),
    riskLevel: z.enum(['R1', 'R2', 'R3', 'R4', 'R5']),
    category: z.string().max(64).optional(),
  })
  .strict();

export const AlertPayload = z
  .object({
    symbol: z.string().regex(SYMBOL_RE).optional(),
    title: text(200),
    body: z.string().max(4000).default(''),
    severity: z.enum(['info', 'warning', 'critical']).default('info'),
    event: z.enum(['price', 'ipo', 'rights-issue', 'dividend', 'suspension', 'resumption', 'market', 'other']).default('other'),
    price: z.number().finite().optional(),
  })
  .strict();

export const ChatPayload = z.object({ text: text(8000) }).strict();

export const NoticePayload = z
  .object({
    title: text(200),
    body: z.string().max(20_000).default(''),
    severity: z.enum(['info', 'warning', 'critical']).default('info'),
    url: z.string().max(2000).optional(),
    /** security, margin, risk and compliance notices are critical: they bypass quiet hours, digests and mute. */
    topic: z.enum(['general', 'security', 'margin', 'risk', 'compliance']).optional(),
    /** Escalate (push, then email) while unread; defaults to true for critical topics. */
    requireAck: z.boolean().optional(),
  })
  .strict();

/** Makes a KindSpec from a zod schema; the first issue becomes the error message. */
export function kind(schema: z.ZodType): KindSpec {
  return {
    validate(payload) {
      const r = schema.safeParse(payload);
      if (r.success) return null;
      const i = r.error.issues[0];
      return `${i.path.join('.') || 'payload'}: ${i.message}`;
    },
  };
}
