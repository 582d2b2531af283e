/**
 * Conversation: `conv.<conversationId>`. Who reads and who writes is decided by
 * src/domain/conversation-access.ts (through the AccessContext): the client and its assigned or
 * shared brokers (shared_read only reads), the team manager (reads), the broker and manager of a
 * broker_manager conversation, group members; compliance reads. `chat.edit` and `chat.recall` are new
 * messages referencing the original (only its sender, within a time limit); the original is kept.
 * Typing is a signal (relayed, never stored). Client communications are kept 20 years (证券法 §137).
 */
import { checkChatAmendment } from '../src/domain/conversation-access.ts';
import { DAY_MS, UUID_RE, type ChannelFamily } from './family.ts';
import { ChatEditPayload, ChatPayload, ChatRecallPayload, kind } from './payloads.ts';

const RE = new RegExp(`^conv\\.(${UUID_RE})$`);

export const conversation: ChannelFamily<'conv'> = {
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
    return (await ctx.conversationAccess(ch.parts.conversationId, p)) === 'none' ? 'QIAO_SUBSCRIBE_FORBIDDEN' : null;
  },
  async canPublish(p, ch, ctx) {
    return (await ctx.conversationAccess(ch.parts.conversationId, p)) === 'write' ? null : 'QIAO_PUBLISH_FORBIDDEN';
  },
  async checkPublication(p, ch, kind, payload, ctx) {
    if (kind !== 'chat.edit' && kind !== 'chat.recall') return null;
    const original = await ctx.findChatMessage(ch.name, (payload as { ref: string }).ref);
    return checkChatAmendment(p, kind, original, Date.now());
  },
  signals: ['typing'],
  kinds: { chat: kind(ChatPayload), 'chat.edit': kind(ChatEditPayload), 'chat.recall': kind(ChatRecallPayload) },
  historySize: 500,
  historyTtlMs: 30 * DAY_MS,
  retentionDays: 20 * 365,
  retentionClass: 'client-communications',
  recipients: { kind: 'conversation-members' },
  delivery: {
    preferenceCategory: true,
    // Chat has its own unread counts (conversation_reads); the inbox would only duplicate them.
    defaultTransports: { web: true, inbox: false, email: false, push: true, sms: false },
    criticalSms: false,
    categoryByKind: {},
    pushUrgency: 'normal',
  },
  listFor() {
    return [];
  },
};
