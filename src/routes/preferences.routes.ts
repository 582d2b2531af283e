/**
 * Notification preferences per category: a channel family (research, alerts, inbox, team, firm, conv)
 * or '*' for the default of every category. Each stored category row is complete: PUT replaces the
 * rows it names (unset fields take their defaults) and `null` deletes a row (back to inheriting).
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { FAMILY_DEFAULTS, PREF_CATEGORIES, TRANSPORTS, resolvePrefs, type DigestMode, type EffectivePrefs, type Transport } from '../domain/routing.ts';
import { HM_PATTERN, isValidTimeZone } from '../domain/zoned-time.ts';
import { QiaoError } from '../errors/codes.ts';
import { toLayer, type CategoryPrefs } from '../store/prefs-repo.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const hm = { type: ['string', 'null'], pattern: HM_PATTERN } as const;

const CategoryBody = {
  type: ['object', 'null'],
  properties: {
    transports: {
      type: 'object',
      properties: Object.fromEntries(TRANSPORTS.map((t) => [t, { type: 'boolean' }])) as Record<Transport, { type: 'boolean' }>,
      additionalProperties: false,
    },
    quietStart: { ...hm, description: 'HH:MM in timeZone; with quietEnd. A window may cross midnight (22:00–07:00).' },
    quietEnd: hm,
    timeZone: { type: 'string', minLength: 1, maxLength: 64, description: "IANA zone; default: the user's (Asia/Shanghai)" },
    digest: { type: 'string', enum: ['immediate', 'hourly', 'daily'] },
    digestAt: { ...hm, description: 'daily digest time, HH:MM (default 08:30)' },
    muted: { type: 'boolean' },
    tradingHoursOnly: { type: 'boolean', description: 'email/push only during A-share sessions (09:30–11:30, 13:00–15:00 Shanghai, weekdays); held items go out at the next open' },
  },
  additionalProperties: false,
} as const;

const TransportsSet = {
  type: 'object',
  properties: Object.fromEntries(TRANSPORTS.map((t) => [t, { type: 'boolean' }])) as Record<Transport, { type: 'boolean' }>,
  required: [...TRANSPORTS],
} as const;

/** A stored category row (src/store/prefs-repo.ts CategoryPrefs): complete, with the transports it sets. */
const StoredCategory = {
  type: 'object',
  properties: {
    category: { type: 'string', enum: [...PREF_CATEGORIES] },
    transports: { type: 'object', properties: CategoryBody.properties.transports.properties, description: 'only the transports this row sets' },
    quietStart: { type: ['string', 'null'] },
    quietEnd: { type: ['string', 'null'] },
    timeZone: { type: 'string' },
    digest: { type: 'string', enum: ['immediate', 'hourly', 'daily'] },
    digestAt: { type: ['string', 'null'] },
    muted: { type: 'boolean' },
    tradingHoursOnly: { type: 'boolean' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
  required: ['category', 'transports', 'quietStart', 'quietEnd', 'timeZone', 'digest', 'digestAt', 'muted', 'tradingHoursOnly', 'updatedAt'],
} as const;

/** What the layers add up to for one category (effectiveView). */
const Effective = {
  type: 'object',
  properties: {
    transports: TransportsSet,
    muted: { type: 'boolean' },
    quietStart: { type: ['string', 'null'] },
    quietEnd: { type: ['string', 'null'] },
    timeZone: { type: 'string' },
    digest: { type: 'string', enum: ['immediate', 'hourly', 'daily'] },
    digestAt: { type: 'string' },
    tradingHoursOnly: { type: 'boolean' },
  },
  required: ['transports', 'muted', 'quietStart', 'quietEnd', 'timeZone', 'digest', 'digestAt', 'tradingHoursOnly'],
} as const;

const FAMILIES = Object.keys(FAMILY_DEFAULTS);
const byFamily = <S extends object>(schema: S) => ({ type: 'object', properties: Object.fromEntries(FAMILIES.map((f) => [f, schema])), required: FAMILIES }) as const;

/** GET and PUT answer: the stored rows, the effective preferences per category, and the family defaults. */
const PreferencesView = {
  type: 'object',
  properties: {
    timeZone: { type: 'string', description: "the user's time zone" },
    categories: { type: 'array', items: StoredCategory },
    effective: { ...byFamily(Effective), description: 'per category (channel family): defaults ← "*" row ← category row' },
    defaults: { ...byFamily(TransportsSet), description: 'transports on by default per category' },
  },
  required: ['timeZone', 'categories', 'effective', 'defaults'],
} as const;

type CategoryInput = Partial<Omit<CategoryPrefs, 'category' | 'updatedAt'>> | null;

function hmOf(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

function effectiveView(p: EffectivePrefs) {
  return {
    transports: p.transports,
    muted: p.muted,
    quietStart: p.quiet ? hmOf(p.quiet.start) : null,
    quietEnd: p.quiet ? hmOf(p.quiet.end) : null,
    timeZone: p.timeZone,
    digest: p.digest,
    digestAt: hmOf(p.digestAt),
    tradingHoursOnly: p.tradingHoursOnly,
  };
}

export default async function preferencesRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  const prefs = d.delivery.prefs;

  const view = async (userId: string) => {
    const [rows, user] = await Promise.all([prefs.list(userId), d.users.findById(userId)]);
    const tz = user?.timeZone ?? 'Asia/Shanghai';
    const byCat = new Map(rows.map((r) => [r.category, r]));
    const global = byCat.get('*');
    const effective: Record<string, ReturnType<typeof effectiveView>> = {};
    for (const c of Object.keys(FAMILY_DEFAULTS)) {
      const cat = byCat.get(c);
      effective[c] = effectiveView(resolvePrefs(c, { global: global && toLayer(global), category: cat && toLayer(cat) }, tz));
    }
    return { timeZone: tz, categories: rows, effective, defaults: FAMILY_DEFAULTS };
  };

  app.get(
    '/api/preferences',
    {
      schema: {
        tags: ['preferences'],
        summary: 'My notification preferences: stored rows per category, and what they add up to per category',
        security: bearerSecurity,
        response: { 200: PreferencesView, ...errors(401) },
      },
    },
    async (req) => view(req.principal.id),
  );

  app.put(
    '/api/preferences',
    {
      schema: {
        tags: ['preferences'],
        summary: "Set preferences for some categories ('*' = default for all); null resets a category",
        security: bearerSecurity,
        body: {
          type: 'object',
          properties: {
            categories: {
              type: 'object',
              propertyNames: { enum: [...PREF_CATEGORIES] },
              additionalProperties: CategoryBody,
              minProperties: 1,
            },
          },
          required: ['categories'],
          additionalProperties: false,
        },
        response: { 200: PreferencesView, ...errors(400, 401) },
      },
    },
    async (req) => {
      const body = req.body;
      const user = await d.users.findById(req.principal.id);
      if (!user) throw new QiaoError('QIAO_NOT_FOUND', 'User not found');
      // Validate everything before writing anything.
      for (const [category, p] of Object.entries(body.categories)) {
        if (!p) continue;
        if (Boolean(p.quietStart) !== Boolean(p.quietEnd)) throw new QiaoError('QIAO_BAD_REQUEST', `${category}: set both quietStart and quietEnd, or neither`);
        if (p.quietStart && p.quietStart === p.quietEnd) throw new QiaoError('QIAO_BAD_REQUEST', `${category}: quiet hours must not start and end at the same time`);
        if (p.timeZone && !isValidTimeZone(p.timeZone)) throw new QiaoError('QIAO_BAD_REQUEST', `${category}: unknown time zone "${p.timeZone}"`);
      }
      for (const [category, p] of Object.entries(body.categories)) {
        if (!p) {
          await prefs.remove(user.id, category);
          continue;
        }
        await prefs.put(user.id, {
          category,
          transports: (p.transports ?? {}) as Partial<Record<Transport, boolean>>,
          quietStart: p.quietStart ?? null,
          quietEnd: p.quietEnd ?? null,
          timeZone: p.timeZone ?? user.timeZone,
          digest: (p.digest ?? 'immediate') as DigestMode,
          digestAt: p.digestAt ?? null,
          muted: p.muted ?? false,
          tradingHoursOnly: p.tradingHoursOnly ?? false,
        });
      }
      await d.audit.append({ actorId: user.id, action: 'preferences.update', target: Object.keys(body.categories).join(','), outcome: 'ok' });
      return view(user.id);
    },
  );
}
