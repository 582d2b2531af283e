/**
 * The channel catalogue: every family, name resolution, and the authorisation checks the server runs
 * on every subscribe and every publish.
 */
import type { Principal } from '../src/auth/principal.ts';
import { QiaoError } from '../src/errors/codes.ts';
import { account } from './account.ts';
import { alerts } from './alerts.ts';
import { conversation } from './conversation.ts';
import type { AccessContext, ChannelFamily, ParsedChannel, RecipientRule, Title } from './family.ts';
import { firm } from './firm.ts';
import { inbox } from './inbox.ts';
import { research } from './research.ts';
import { tasks } from './tasks.ts';
import { team } from './team.ts';

/**
 * Every family, keyed by its name, in catalogue order. Adding a family is one file and one line here;
 * the type below makes the compiler list whatever the new family is missing (every decision is a
 * required member of ChannelFamily) and refuse a key that is not the family's own name.
 */
const REGISTRY = { research, alerts, inbox, team, firm, conv: conversation, tasks, account } as const;

/** The name of every family in the catalogue (`research`, `alerts`, …, `conv`, `tasks`). */
export type FamilyName = keyof typeof REGISTRY;

/** Compile-time check: each entry is a complete ChannelFamily whose `family` is its key. */
const CHECKED: { readonly [K in FamilyName]: ChannelFamily<K> } = REGISTRY;

export const FAMILIES: readonly ChannelFamily<FamilyName>[] = Object.values(CHECKED);
export const FAMILY_NAMES: readonly FamilyName[] = FAMILIES.map((f) => f.family);
const BY_PREFIX = new Map<string, ChannelFamily>(FAMILIES.map((f) => [f.family, f]));

/** The family of a name (a ParsedChannel's `family`, a stored message's); throws QIAO_CHANNEL_UNKNOWN_FAMILY. */
export function familyNamed(name: string): ChannelFamily {
  const family = BY_PREFIX.get(name);
  if (!family) throw new QiaoError('QIAO_CHANNEL_UNKNOWN_FAMILY', `Unknown channel family "${name}"`);
  return family;
}

/** Longest channel name accepted anywhere. */
export const MAX_CHANNEL_NAME = 128;

export interface ResolvedChannel {
  family: ChannelFamily;
  parsed: ParsedChannel;
}

/** Resolves a name to its family, or throws QIAO_CHANNEL_UNKNOWN_FAMILY / QIAO_CHANNEL_BAD_NAME. */
export function resolveChannel(name: unknown): ResolvedChannel {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_CHANNEL_NAME) {
    throw new QiaoError('QIAO_CHANNEL_BAD_NAME', 'Channel name must be a non-empty string of at most 128 characters');
  }
  const prefix = name.split('.', 1)[0];
  const family = familyNamed(prefix);
  const parsed = family.parse(name);
  if (!parsed) throw new QiaoError('QIAO_CHANNEL_BAD_NAME', `"${name}" does not match the ${family.family} grammar`);
  return { family, parsed };
}

export async function authorizeSubscribe(p: Principal, name: unknown, ctx: AccessContext): Promise<ResolvedChannel> {
  const r = resolveChannel(name);
  const refusal = await r.family.canSubscribe(p, r.parsed, ctx);
  if (refusal) throw new QiaoError(refusal);
  return r;
}

/**
 * Checks the publisher and the payload against the family's kinds. `trusted`: a server service that
 * has already authorised the action itself (recommendations, tasks, approved broadcasts) publishes;
 * the family's publisher check is skipped and internal kinds are allowed, the payload is still checked.
 */
export async function authorizePublish(
  p: Principal,
  name: unknown,
  kind: unknown,
  payload: unknown,
  ctx: AccessContext,
  opts: { trusted?: boolean } = {},
): Promise<ResolvedChannel> {
  const r = resolveChannel(name);
  if (!opts.trusted) {
    const refusal = await r.family.canPublish(p, r.parsed, ctx);
    if (refusal) throw new QiaoError(refusal);
  }
  if (typeof kind !== 'string' || !Object.hasOwn(r.family.kinds, kind)) {
    const open = Object.keys(r.family.kinds).filter((k) => !r.family.kinds[k].internal);
    throw new QiaoError('QIAO_BAD_PUBLICATION', `Kind must be one of: ${open.join(', ')}`);
  }
  if (r.family.kinds[kind].internal && !opts.trusted) {
    throw new QiaoError('QIAO_PUBLISH_FORBIDDEN', `"${kind}" publications are made by the server only (recommendations: POST /api/recommendations; tasks: POST /api/tasks)`);
  }
  const problem = r.family.kinds[kind].validate(payload);
  if (problem) throw new QiaoError('QIAO_BAD_PUBLICATION', problem);
  const refused = await r.family.checkPublication?.(p, r.parsed, kind, payload, ctx);
  if (refused) throw new QiaoError(refused);
  return r;
}

/** Checks an ephemeral signal (e.g. typing): the family declares the kind and the sender may write there. */
export async function authorizeSignal(p: Principal, name: unknown, kind: string, ctx: AccessContext): Promise<ResolvedChannel> {
  const r = resolveChannel(name);
  if (!r.family.signals?.includes(kind)) throw new QiaoError('QIAO_BAD_REQUEST', `"${kind}" signals are not sent on ${r.family.family} channels`);
  const refusal = await r.family.canPublish(p, r.parsed, ctx);
  if (refusal) throw new QiaoError(refusal);
  return r;
}

export interface CatalogueEntry {
  name: string;
  family: string;
  title: Title;
  entitled: boolean;
  canPublish: boolean;
}

/** Static channels a principal can see, with whether it is entitled to subscribe and may publish. */
export async function listChannels(p: Principal, ctx: AccessContext): Promise<CatalogueEntry[]> {
  const out: CatalogueEntry[] = [];
  for (const f of FAMILIES) {
    for (const ch of f.listFor(p)) {
      const sub = await f.canSubscribe(p, ch, ctx);
      const pub = await f.canPublish(p, ch, ctx);
      out.push({ name: ch.name, family: f.family, title: f.title(ch), entitled: sub === null, canPublish: pub === null });
    }
  }
  return out;
}

export type { AccessContext, ChannelFamily, ParsedChannel, RecipientRule, Title };
