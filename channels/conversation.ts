/**
 * Conversation: `conv.<conversationId>`. Members subscribe and publish; compliance may read.
 * Client communications are kept 20 years (证券法 §137).
 */
import { DAY_MS, UUID_RE, type ChannelFamily } from './family.ts';
import { ChatPayload, kind } from './payloads.ts';

const RE = new RegExp(`^conv\\.(${UUID_RE})$`);

export const conversation: ChannelFamily = {
  family: 'conv',
  description: { zh: '会话', en: 'Conversation' },
  parse(name) {
    const m = RE.exec(name);
    return m ? { name, family: 'conv', parts: { conversationId: m[1] } } : null;
  },
  title() {
    return { zh: '会话', en: 'Conversation' };
  },
  async canSubscribe(p, ch, ctx) {
    if (p.role === 'compliance') return null;
    return p.role !== 'feed' && (await ctx.isConversationMember(ch.parts.conversationId, p.id)) ? null : 'QIAO_SUBSCRIBE_FORBIDDEN';
  },
  async canPublish(p, ch, ctx) {
    return p.role !== 'feed' && p.role !== 'compliance' && (await ctx.isConversationMember(ch.parts.conversationId, p.id))
      ? null
      : 'QIAO_PUBLISH_FORBIDDEN';
  },
  kinds: { chat: kind(ChatPayload) },
  historySize: 500,
  historyTtlMs: 30 * DAY_MS,
  retentionDays: 20 * 365,
  listFor() {
    return [];
  },
};
