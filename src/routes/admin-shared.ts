/**
 * What the firm-administration routes share: their JSON schemas, and the guards every operation runs —
 * admin only (or admin and compliance for reads), and refusals audited too (who tried what).
 */
import type { FastifyRequest } from 'fastify';
import { UUID_RE } from '../../channels/family.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { PublicUserDef } from './schemas.ts';

export const Uuid = { type: 'string', pattern: `^${UUID_RE}$` } as const;
export const Code = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$', description: '2–32 letters, digits, "_" or "-"' } as const;
export const Name = { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' } as const;
export const NullableDate = { type: ['string', 'null'], pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD' } as const;
export const Tier = { type: 'string', enum: ['general', 'hnw', 'institutional'] } as const;
export const Risk = { type: ['string', 'null'], enum: ['C1', 'C2', 'C3', 'C4', 'C5', null] } as const;
/** Checked by the handler (src/domain/phone.ts), so a wrong number gets QIAO_PHONE_INVALID, not a schema error. */
export const Phone = { type: ['string', 'null'], maxLength: 40, description: 'mainland China mobile number (13812345678 or +8613812345678); stored as +86…' } as const;
export const Email = { type: ['string', 'null'], maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' } as const;

export const BranchSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    code: { type: 'string' },
    name: { type: 'string' },
    headId: { type: ['string', 'null'], description: 'The branch head (营业部负责人): a manager of the branch' },
    closedAt: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
  required: ['id', 'code', 'name', 'headId', 'closedAt', 'createdAt'],
} as const;
export const TeamSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    branchId: { type: 'string' },
    code: { type: 'string' },
    name: { type: 'string' },
    managerId: { type: ['string', 'null'] },
    closedAt: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
  required: ['id', 'branchId', 'code', 'name', 'managerId', 'closedAt', 'createdAt'],
} as const;
export const AdminUserSchema = {
  type: 'object',
  properties: {
    ...PublicUserDef.properties,
    email: { type: ['string', 'null'] },
    phone: { type: ['string', 'null'] },
    active: { type: 'boolean' },
    disabledAt: { type: ['string', 'null'] },
    riskExpiresOn: { type: ['string', 'null'] },
    passwordChangedAt: { type: ['string', 'null'] },
    serviceDesk: { type: 'boolean' },
    createdAt: { type: 'string' },
  },
  required: [...PublicUserDef.required, 'email', 'phone', 'active', 'disabledAt', 'riskExpiresOn', 'passwordChangedAt', 'serviceDesk', 'createdAt'],
} as const;
export const ProfileSchema = {
  type: 'object',
  properties: {
    clientId: { type: 'string' },
    tier: Tier,
    riskLevel: { type: ['string', 'null'] },
    riskAssessedOn: { type: ['string', 'null'] },
    riskExpiresOn: { type: ['string', 'null'], description: 'null: two years after riskAssessedOn' },
    professionalInvestor: { type: 'boolean' },
  },
  required: ['clientId', 'tier', 'riskLevel', 'riskAssessedOn', 'riskExpiresOn', 'professionalInvestor'],
} as const;

export const idParam = (name: string) => ({ type: 'object', properties: { [name]: Uuid }, required: [name], additionalProperties: false }) as const;

export interface AdminGuards {
  requireAdmin(req: FastifyRequest): void;
  requireAdminOrCompliance(req: FastifyRequest): void;
  /** Runs an admin action; a refusal (4xx) is audited with its code, then thrown. */
  guarded<T>(req: FastifyRequest, action: string, target: string | undefined, fn: () => Promise<T>): Promise<T>;
}

export function adminGuards(d: Pick<AppDeps, 'audit'>): AdminGuards {

  const requireAdmin = (req: FastifyRequest): void => {
    if (req.principal.role !== 'admin') throw new QiaoError('QIAO_FORBIDDEN', 'Firm administration is for administrators');
  };
  const requireAdminOrCompliance = (req: FastifyRequest): void => {
    if (req.principal.role !== 'admin' && req.principal.role !== 'compliance') throw new QiaoError('QIAO_FORBIDDEN', 'Only administrators and compliance may read this');
  };
  /** Refusals of admin actions are audited too (who tried what). */
  const refused = async (req: FastifyRequest, action: string, target: string | undefined, e: unknown) => {
    if (e instanceof QiaoError && e.status < 500)
      await d.audit.append({ actorId: req.principal.id, action, target, outcome: 'refused', detail: { code: e.code }, ip: req.ip }).catch(() => {});
    throw e;
  };
  const guarded = <T>(req: FastifyRequest, action: string, target: string | undefined, fn: () => Promise<T>): Promise<T> => fn().catch((e) => refused(req, action, target, e));

  return { requireAdmin, requireAdminOrCompliance, guarded };
}
