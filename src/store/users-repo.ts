/** Users, assignment and membership lookups (also the AccessContext channel families use). */
import { and, eq } from 'drizzle-orm';
import type { AccessContext } from '../../channels/family.ts';
import type { Principal } from '../auth/principal.ts';
import type { Db } from './db.ts';
import { ConversationsRepo } from './conversations-repo.ts';
import { brokerClients, users } from './schema/index.ts';

export type UserRow = typeof users.$inferSelect;

/** The public view of a user (never includes the password hash). */
export interface PublicUser {
  id: string;
  login: string;
  role: UserRow['role'];
  displayName: string;
  tier: UserRow['tier'];
  riskLevel: UserRow['riskLevel'];
  riskAssessedOn: string | null;
  professionalInvestor: boolean;
  branchId: string | null;
  teamId: string | null;
  locale: string;
  timeZone: string;
}

export function toPublicUser(u: UserRow): PublicUser {
  return {
    id: u.id,
    login: u.login,
    role: u.role,
    displayName: u.displayName,
    tier: u.tier,
    riskLevel: u.riskLevel,
    riskAssessedOn: u.riskAssessedOn,
    professionalInvestor: u.professionalInvestor,
    branchId: u.branchId,
    teamId: u.teamId,
    locale: u.locale,
    timeZone: u.timeZone,
  };
}

export function toPrincipal(u: UserRow): Principal {
  return {
    id: u.id,
    role: u.role,
    displayName: u.displayName,
    firmId: u.firmId,
    branchId: u.branchId,
    teamId: u.teamId,
    tier: u.tier,
    sv: u.sessionVersion,
  };
}

export class UsersRepo implements AccessContext {
  /** Conversation access is decided in one place (src/domain/conversation-access.ts) from its facts. */
  private readonly conversations: ConversationsRepo;

  constructor(private readonly db: Db) {
    this.conversations = new ConversationsRepo(db);
  }

  async findByLogin(login: string): Promise<UserRow | undefined> {
    const [u] = await this.db.select().from(users).where(eq(users.login, login)).limit(1);
    return u;
  }

  async findById(id: string): Promise<UserRow | undefined> {
    const [u] = await this.db.select().from(users).where(eq(users.id, id)).limit(1);
    return u;
  }

  async isBrokerOf(brokerId: string, clientId: string): Promise<boolean> {
    const rows = await this.db
      .select({ b: brokerClients.brokerId })
      .from(brokerClients)
      .where(and(eq(brokerClients.brokerId, brokerId), eq(brokerClients.clientId, clientId)))
      .limit(1);
    return rows.length > 0;
  }

  async conversationAccess(conversationId: string, p: Principal): Promise<'none' | 'read' | 'write'> {
    return this.conversations.access(conversationId, p);
  }

  async findChatMessage(channel: string, id: string) {
    return this.conversations.findChat(channel, id);
  }
}
