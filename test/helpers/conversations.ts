/** Conversation fixtures made directly in the store, for suites that are not about conversations. */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../src/store/db.ts';
import { conversationMembers, conversations } from '../../src/store/schema/index.ts';

/** The broker–client conversation of a pair: the existing one (e.g. from the demo seed), or a new one. */
export async function brokerClientConversation(db: Db, brokerId: string, clientId: string): Promise<string> {
  const [found] = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(and(eq(conversations.type, 'broker_client'), eq(conversations.brokerId, brokerId), eq(conversations.clientId, clientId)))
    .limit(1);
  if (found) return found.id;
  const [c] = await db.insert(conversations).values({ type: 'broker_client', brokerId, clientId, createdBy: brokerId }).returning();
  await db.insert(conversationMembers).values([
    { conversationId: c.id, userId: brokerId },
    { conversationId: c.id, userId: clientId },
  ]);
  return c.id;
}
