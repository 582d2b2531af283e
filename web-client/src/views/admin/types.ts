/**
 * The answers the admin console reads, named once from the generated API types (never re-declared),
 * and the fixed value lists its forms offer.
 */
import { ALL_ROLES } from '../../app/route-def.ts';
import type { Answer, Role } from '../../api/api.ts';

export type Org = Answer<'/api/admin/org', 'get'>;
export type Branch = Org['branches'][number];
export type Team = Branch['teams'][number];
export type AdminUser = Answer<'/api/admin/users/{userId}', 'get'>;
export type UserPage = Answer<'/api/admin/users', 'get'>;
export type ClientItem = Answer<'/api/clients', 'get'>['clients'][number];
export type ClientProfile = Answer<'/api/admin/clients/{clientId}/profile', 'get'>;
export type ClientBrokers = Answer<'/api/clients/{clientId}/brokers', 'get'>;

export const ROLES: readonly Role[] = ALL_ROLES;
/** A staff user's role may change among these; client ↔ staff is refused by the server. */
export const STAFF_ROLES: readonly Role[] = ALL_ROLES.filter((r) => r !== 'client');
/** Roles whose users belong to a team (and so to its branch). */
export const TEAM_ROLES: readonly Role[] = ['broker', 'manager'];
export const TIERS = ['general', 'hnw', 'institutional'] as const;
export type Tier = (typeof TIERS)[number];
export const CLIENT_RISKS = ['C1', 'C2', 'C3', 'C4', 'C5'] as const;
export type ClientRisk = (typeof CLIENT_RISKS)[number];

/** The reasons of a QIAO_PASSWORD_WEAK refusal (`details.reasons`), or none. */
export function weakReasons(e: unknown): string[] {
  const x = e as { code?: string; details?: { reasons?: unknown } } | null;
  if (x?.code !== 'QIAO_PASSWORD_WEAK' || !Array.isArray(x.details?.reasons)) return [];
  return x.details.reasons.filter((r): r is string => typeof r === 'string');
}
