/**
 * 会话 Conversations view: a client chats with its broker; a broker sees its workstation (every
 * assigned or shared client with unread count, last message, first-response wait, tier and risk
 * level) and chats; a manager reads its team's conversations (read-only) and chats with its brokers.
 *
 * main.ts mounts it with `conversationsPanel(ctx)`, calls `conversationsStart(client)` once the socket
 * client exists and `conversationsReset()` on logout; everything else is here. Unread badges come from
 * the server (the list on every (re)connect, then `unread` signals), so they equal the server's count.
 *
 * Safety: every server string goes into the page through textContent; never innerHTML.
 */
import type { MsgPush, QiaoClient, SignalPush } from '../../src/client/qiao-client.ts';
import type { PublicationFrame } from '../../src/gateway/protocol.ts';
import type { User } from './api.ts';
import { h } from './dom.ts';
import { errorText, formatTime, lang } from './i18n.ts';

export interface ConversationsContext {
  user: User;
  token: () => string | null;
  client: () => QiaoClient | null;
}

// ---------------------------------------------------------------------------------------------------
// Strings (zh-CN first) and the error codes of this view.

const zh = {
  title: '会话',
  workstation: '客户工作台',
  list: '全部会话',
  empty: '暂无会话',
  contactBroker: '联系我的经纪人',
  pick: '请选择一个会话',
  readOnly: '只读：您可以查看此会话，但不能发送消息',
  placeholder: '输入消息，回车发送（Shift+回车换行）',
  send: '发送',
  typing: '对方正在输入…',
  read: '已读',
  unreadMark: '未读',
  edited: '已编辑',
  recalled: '消息已撤回',
  recall: '撤回',
  edit: '编辑',
  editPrompt: '修改消息内容',
  me: '我',
  online: '在线',
  away: '离开',
  offline: '离线',
  waiting: '等待回复',
  noMessages: '还没有消息',
  unreadCount: '条未读',
  loadError: '会话加载失败',
  group: '群聊',
  withManager: '与经理',
  tier_general: '普通',
  tier_hnw: '高净值',
  tier_institutional: '机构',
  shared_read: '共享（只读）',
  shared_full: '共享',
  primary: '主办',
  minutes: '分钟',
  hours: '小时',
  QIAO_CONVERSATION_NOT_FOUND: '会话不存在',
  QIAO_CONVERSATION_INVALID: '无法与该用户建立会话',
  QIAO_MESSAGE_NOT_OWN: '只能编辑或撤回自己发送的消息',
  QIAO_MESSAGE_EDIT_EXPIRED: '已超过可编辑或撤回的时间',
  QIAO_MESSAGE_RECALLED: '该消息已撤回',
  QIAO_MESSAGE_REF_NOT_FOUND: '原消息不存在',
  QIAO_SUBSCRIBE_FORBIDDEN: '您已无权访问此会话',
  QIAO_PUBLISH_FORBIDDEN: '您无权在此会话中发送消息',
  QIAO_FORBIDDEN: '无权访问',
};
type Key = keyof typeof zh;
const en: Record<Key, string> = {
  title: 'Conversations',
  workstation: 'Client workstation',
  list: 'All conversations',
  empty: 'No conversations yet',
  contactBroker: 'Contact my broker',
  pick: 'Pick a conversation',
  readOnly: 'Read-only: you can read this conversation but not write in it',
  placeholder: 'Type a message, Enter to send (Shift+Enter for a new line)',
  send: 'Send',
  typing: 'typing…',
  read: 'Read',
  unreadMark: 'Unread',
  edited: 'edited',
  recalled: 'Message recalled',
  recall: 'Recall',
  edit: 'Edit',
  editPrompt: 'Edit the message',
  me: 'Me',
  online: 'online',
  away: 'away',
  offline: 'offline',
  waiting: 'waiting',
  noMessages: 'No messages yet',
  unreadCount: 'unread',
  loadError: 'Could not load the conversation',
  group: 'Group',
  withManager: 'Manager',
  tier_general: 'General',
  tier_hnw: 'HNW',
  tier_institutional: 'Institutional',
  shared_read: 'shared (read)',
  shared_full: 'shared',
  primary: 'primary',
  minutes: 'min',
  hours: 'h',
  QIAO_CONVERSATION_NOT_FOUND: 'Conversation not found',
  QIAO_CONVERSATION_INVALID: 'A conversation with this user is not possible',
  QIAO_MESSAGE_NOT_OWN: 'You can only edit or recall your own messages',
  QIAO_MESSAGE_EDIT_EXPIRED: 'The time to edit or recall this message has passed',
  QIAO_MESSAGE_RECALLED: 'This message was recalled',
  QIAO_MESSAGE_REF_NOT_FOUND: 'The original message does not exist',
  QIAO_SUBSCRIBE_FORBIDDEN: 'You no longer have access to this conversation',
  QIAO_PUBLISH_FORBIDDEN: 'You may not write in this conversation',
  QIAO_FORBIDDEN: 'Not allowed',
};
const s = (k: Key): string => (lang() === 'en' ? en : zh)[k];
const sOr = (k: string, fallback: string): string => (Object.hasOwn(zh, k) ? s(k as Key) : fallback);
const errText = (e: unknown): string => {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && Object.hasOwn(zh, code) ? s(code as Key) : errorText(typeof code === 'string' ? code : undefined, (e as Error)?.message);
};

// ---------------------------------------------------------------------------------------------------
// DOM helper: text only.


// ---------------------------------------------------------------------------------------------------
// Server shapes (src/routes/conversations.routes.ts).

type Presence = 'online' | 'away' | 'offline';
interface Person {
  id: string;
  displayName: string;
}
interface LastMessage {
  id: string;
  offset: number;
  sender: string;
  text: string | null;
  time: string;
  edited: boolean;
  recalled: boolean;
}
interface Conv {
  id: string;
  type: 'broker_client' | 'broker_manager' | 'group';
  title: string | null;
  channel: string;
  access: 'read' | 'write';
  participant: boolean;
  broker: Person | null;
  client: (Person & { tier: string | null; riskLevel: string | null }) | null;
  manager: Person | null;
  members: Person[];
  peer: (Person & { role: string; presence: Presence }) | null;
  topOffset: number;
  readOffset: number;
  unread: number;
  lastMessage: LastMessage | null;
}
interface WorkRow {
  client: Person & { tier: string | null; riskLevel: string | null };
  relation: 'primary' | 'shared_read' | 'shared_full';
  conversationId: string | null;
  presence: Presence;
  unread: number;
  lastMessage: LastMessage | null;
  waitingSince: string | null;
}
interface ReadState {
  userId: string;
  readOffset: number;
  deliveredOffset: number;
}

class ViewError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = ctx?.token();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ViewError('QIAO_UNAVAILABLE', e instanceof Error ? e.message : 'Network error');
  }
  const text = await res.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw new ViewError(data?.error?.code ?? 'QIAO_INTERNAL', data?.error?.message ?? res.statusText);
  return data as T;
}

// ---------------------------------------------------------------------------------------------------
// State

let ctx: ConversationsContext | null = null;
let root: HTMLElement | null = null;
let wired: QiaoClient | null = null;
const st = {
  convs: [] as Conv[],
  work: null as WorkRow[] | null,
  tab: 'list' as 'list' | 'workstation',
  /** Newest (topOffset, readOffset) per conversation whose unread count was applied: older pushes are ignored. */
  seen: new Map<string, { top: number; read: number }>(),
  open: null as null | { conv: Conv; msgs: PublicationFrame[]; ids: Set<string>; reads: Map<string, ReadState>; typingUntil: number; error?: string },
  lastTyping: 0,
};
let typingTimer: ReturnType<typeof setTimeout> | undefined;

const TYPING_SHOW_MS = 3000;
const RECALL_MS = 2 * 60_000;
const EDIT_MS = 15 * 60_000;

function rolesWithView(role: string): boolean {
  return role === 'client' || role === 'broker' || role === 'manager';
}

/** The panel for this user, or null when its role has no conversations view. */
export function conversationsPanel(c: ConversationsContext): HTMLElement | null {
  if (!rolesWithView(c.user.role)) return null;
  if (ctx?.user.id !== c.user.id) {
    conversationsReset();
    st.tab = c.user.role === 'broker' ? 'workstation' : 'list';
  }
  ctx = c;
  root = h('section', { class: 'panel conv', testid: 'conversations', attrs: { 'aria-label': s('title') } });
  draw();
  void refresh();
  return root;
}

/** Wires the socket client: unread and presence pushes, typing and receipts, a fresh list on every (re)connect. */
export function conversationsStart(client: QiaoClient): void {
  if (!ctx || wired === client) return;
  wired = client;
  client.on('signal', (sig) => {
    if (wired === client) onSignal(sig);
  });
  client.on('connected', () => {
    if (wired !== client) return;
    void refresh();
    if (st.open) void loadOpen(st.open.conv.id, false);
    void client.setPresence(document.visibilityState === 'hidden' ? 'away' : 'online').catch(() => {});
  });
  client.on('unsubscribed', (u) => {
    if (wired !== client || !u.channel.startsWith('conv.')) return;
    if (st.open?.conv.channel === u.channel) {
      st.open = null;
      void refresh();
    }
  });
}

export function conversationsReset(): void {
  ctx = null;
  root = null;
  wired = null;
  st.convs = [];
  st.work = null;
  st.seen.clear();
  st.open = null;
  if (typingTimer) clearTimeout(typingTimer);
}

if (typeof document !== 'undefined') {
  document.addEventListener('visibilitychange', () => {
    const c = ctx?.client();
    if (!c || c.state !== 'connected') return;
    void c.setPresence(document.visibilityState === 'hidden' ? 'away' : 'online').catch(() => {});
    // Coming back to an open conversation reads what arrived meanwhile.
    if (document.visibilityState === 'visible' && st.open) void markRead();
  });
}

async function refresh(): Promise<void> {
  if (!ctx) return;
  try {
    const [list, work] = await Promise.all([
      call<{ conversations: Conv[] }>('GET', '/api/conversations'),
      ctx.user.role === 'broker' ? call<{ clients: WorkRow[] }>('GET', '/api/workstation/clients') : Promise.resolve(null),
    ]);
    st.convs = list.conversations;
    st.work = work?.clients ?? null;
    for (const c of st.convs) st.seen.set(c.id, { top: c.topOffset, read: c.readOffset });
    draw();
  } catch (e) {
    if (root) root.dataset.error = errText(e);
  }
}

// ---------------------------------------------------------------------------------------------------
// Signals

function onSignal(sig: SignalPush): void {
  const data = (sig.data ?? {}) as Record<string, unknown>;
  if (sig.kind === 'unread') {
    const id = String(data.conversationId ?? '');
    const top = Number(data.topOffset ?? 0);
    const read = Number(data.readOffset ?? 0);
    const prev = st.seen.get(id);
    if (prev && (top < prev.top || (top === prev.top && read < prev.read))) return;
    st.seen.set(id, { top, read });
    const c = st.convs.find((x) => x.id === id);
    if (!c) return void refresh(); // a conversation new to this view
    c.unread = Number(data.unread ?? 0);
    c.topOffset = top;
    const w = st.work?.find((x) => x.conversationId === id);
    if (w) w.unread = c.unread;
    if (top > (c.lastMessage?.offset ?? 0)) void refresh(); // fresh last message and first-response wait
    drawList();
  } else if (sig.kind === 'presence') {
    const state = data.state === 'online' || data.state === 'away' ? data.state : 'offline';
    for (const c of st.convs) if (c.peer?.id === sig.from) c.peer.presence = state;
    for (const w of st.work ?? []) if (w.client.id === sig.from) w.presence = state;
    drawList();
    drawHead();
  } else if (sig.kind === 'typing' && st.open?.conv.channel === sig.channel) {
    st.open.typingUntil = Date.now() + TYPING_SHOW_MS;
    drawHead();
    if (typingTimer) clearTimeout(typingTimer);
    typingTimer = setTimeout(drawHead, TYPING_SHOW_MS + 50);
  } else if (sig.kind === 'receipt' && st.open?.conv.channel === sig.channel) {
    const prev = st.open.reads.get(sig.from) ?? { userId: sig.from, readOffset: 0, deliveredOffset: 0 };
    st.open.reads.set(sig.from, {
      userId: sig.from,
      readOffset: Math.max(prev.readOffset, Number(data.read ?? 0)),
      deliveredOffset: Math.max(prev.deliveredOffset, Number(data.delivered ?? 0)),
    });
    drawMsgs();
  }
}

// ---------------------------------------------------------------------------------------------------
// Opening a conversation: history first, then live from its last offset.

async function openConv(id: string): Promise<void> {
  const client = ctx?.client();
  const prev = st.open?.conv.channel;
  if (prev && client && prev !== `conv.${id}`) void client.unsubscribe(prev).catch(() => {});
  await loadOpen(id, true);
}

async function loadOpen(id: string, subscribe: boolean): Promise<void> {
  try {
    const [detail, page] = await Promise.all([
      call<{ conversation: Conv; reads: ReadState[] }>('GET', `/api/conversations/${id}`),
      call<{ publications: PublicationFrame[] }>('GET', `/api/conversations/${id}/messages?limit=100`),
    ]);
    const keep = st.open?.conv.id === id ? st.open : null;
    st.open = {
      conv: detail.conversation,
      msgs: keep ? keep.msgs : [],
      ids: keep ? keep.ids : new Set(),
      reads: new Map(detail.reads.map((r) => [r.userId, r])),
      typingUntil: 0,
    };
    for (const m of page.publications) addMsg(m);
    draw();
    const client = ctx?.client();
    if (subscribe && client && !client.channelNames.includes(detail.conversation.channel)) {
      const last = st.open.msgs.at(-1)?.offset ?? 0;
      void client.subscribe(detail.conversation.channel, onMsg, { since: last }).catch((e) => showChatError(e));
    }
    await markRead();
  } catch (e) {
    showChatError(e);
  }
}

function addMsg(m: PublicationFrame): void {
  const o = st.open;
  if (!o || o.ids.has(m.id)) return;
  o.ids.add(m.id);
  o.msgs.push(m);
  o.msgs.sort((a, b) => a.offset - b.offset);
}

function onMsg(m: MsgPush): void {
  if (!st.open || st.open.conv.channel !== m.channel) return;
  addMsg(m);
  drawMsgs();
  const client = ctx?.client();
  if (!client) return;
  if (document.visibilityState === 'visible') void markRead();
  else void client.receipt(m.channel, 'delivered', m.offset).catch(() => {});
}

async function markRead(): Promise<void> {
  const o = st.open;
  const client = ctx?.client();
  const top = o?.msgs.at(-1)?.offset ?? 0;
  if (!o || top === 0) return;
  try {
    const r = client?.state === 'connected'
      ? await client.receipt(o.conv.channel, 'read', top)
      : await call<{ unread: number }>('POST', `/api/conversations/${o.conv.id}/read`, { offset: top });
    const c = st.convs.find((x) => x.id === o.conv.id);
    if (c) c.unread = r.unread;
    drawList();
  } catch {
    // Not essential: the next read or reconnect catches up.
  }
}

function showChatError(e: unknown): void {
  if (st.open) st.open.error = errText(e);
  const el = root?.querySelector<HTMLElement>('[data-testid="conv-error"]');
  if (el) {
    el.textContent = errText(e);
    el.hidden = false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Sending, editing, recalling, typing

async function post(kind: 'chat' | 'chat.edit' | 'chat.recall', payload: Record<string, string>): Promise<void> {
  const o = st.open;
  if (!o) return;
  const client = ctx?.client();
  try {
    if (client?.state === 'connected') await client.publish(o.conv.channel, kind, payload);
    else await call('POST', `/api/conversations/${o.conv.id}/messages`, { kind, payload });
    if (!client || client.state !== 'connected') await loadOpen(o.conv.id, false);
  } catch (e) {
    showChatError(e);
  }
}

function onTyping(): void {
  const o = st.open;
  const client = ctx?.client();
  if (!o || !client || client.state !== 'connected' || Date.now() - st.lastTyping < 1500) return;
  st.lastTyping = Date.now();
  void client.typing(o.conv.channel).catch(() => {});
}

// ---------------------------------------------------------------------------------------------------
// Drawing

function draw(): void {
  if (!root || !ctx) return;
  const tabs: Array<'workstation' | 'list'> = ctx.user.role === 'broker' ? ['workstation', 'list'] : ['list'];
  const totalUnread = st.convs.reduce((n, c) => n + (c.participant ? c.unread : 0), 0);
  root.replaceChildren(
    h(
      'div',
      { class: 'panel__head panel__head--row conv__head' },
      h('h2', { class: 'panel__title', testid: 'conv-title', text: s('title') }),
      totalUnread ? h('span', { class: 'conv__badge', testid: 'conv-total-unread', text: String(totalUnread) }) : null,
      ...(tabs.length > 1
        ? tabs.map((x) =>
            h('button', {
              class: `adv-tab${x === st.tab ? ' adv-tab--on' : ''}`,
              testid: `conv-tab-${x}`,
              text: s(x),
              attrs: { type: 'button', role: 'tab', 'aria-selected': String(x === st.tab) },
              on: {
                click: () => {
                  st.tab = x;
                  draw();
                },
              },
            }),
          )
        : []),
    ),
    h('div', { class: 'conv__body' }, h('div', { class: 'conv__list', testid: 'conv-list' }), h('div', { class: 'conv__chat', testid: 'conv-chat' })),
  );
  drawList();
  drawChat();
}

function presenceDot(p: Presence | undefined): HTMLElement {
  const v = p ?? 'offline';
  return h('span', { class: `conv__dot conv__dot--${v}`, testid: 'conv-presence', attrs: { 'data-state': v, title: s(v), 'aria-label': s(v) } });
}

function convName(c: Conv): string {
  if (c.type === 'group') return `${s('group')} · ${c.title ?? ''}`;
  if (c.peer) return c.type === 'broker_manager' && ctx?.user.role === 'broker' ? `${s('withManager')} · ${c.peer.displayName}` : c.peer.displayName;
  return [c.broker?.displayName, c.client?.displayName ?? c.manager?.displayName].filter(Boolean).join(' ↔ ');
}

function preview(m: LastMessage | null): string {
  if (!m) return s('noMessages');
  return m.recalled ? s('recalled') : (m.text ?? '');
}

function waited(since: string | null): string | null {
  if (!since) return null;
  const min = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 60_000));
  return min >= 60 ? `${Math.floor(min / 60)} ${s('hours')} ${min % 60} ${s('minutes')}` : `${min} ${s('minutes')}`;
}

function drawList(): void {
  const el = root?.querySelector<HTMLElement>('[data-testid="conv-list"]');
  if (!el || !ctx) return;
  const items: HTMLElement[] = [];
  if (st.tab === 'workstation' && st.work) {
    for (const w of st.work) {
      const open = async () => {
        let id = w.conversationId;
        if (!id) {
          try {
            id = (await call<{ conversation: Conv }>('POST', '/api/conversations', { type: 'broker_client', clientId: w.client.id })).conversation.id;
            await refresh();
          } catch (e) {
            return showChatError(e);
          }
        }
        await openConv(id);
      };
      const wait = waited(w.waitingSince);
      items.push(
        h(
          'button',
          {
            class: `conv__item${st.open?.conv.id === w.conversationId && w.conversationId ? ' conv__item--on' : ''}`,
            testid: 'conv-ws-row',
            attrs: { type: 'button', 'data-client': w.client.id, 'data-unread': String(w.unread) },
            on: { click: () => void open() },
          },
          h(
            'span',
            { class: 'conv__line' },
            presenceDot(w.presence),
            h('span', { class: 'conv__name', testid: 'conv-name', text: w.client.displayName }),
            h('span', { class: 'badge adv-level', text: sOr(`tier_${w.client.tier}`, w.client.tier ?? '') }),
            w.client.riskLevel ? h('span', { class: 'badge adv-level', text: w.client.riskLevel }) : null,
            w.relation !== 'primary' ? h('span', { class: 'conv__rel', text: s(w.relation) }) : null,
            w.unread ? h('span', { class: 'conv__badge', testid: 'conv-unread', text: String(w.unread) }) : null,
          ),
          h('span', { class: 'conv__preview', text: preview(w.lastMessage) }),
          wait ? h('span', { class: 'conv__wait', testid: 'conv-wait', text: `${s('waiting')} ${wait}` }) : null,
        ),
      );
    }
  } else {
    for (const c of st.convs) {
      items.push(
        h(
          'button',
          {
            class: `conv__item${st.open?.conv.id === c.id ? ' conv__item--on' : ''}`,
            testid: 'conv-item',
            attrs: { type: 'button', 'data-id': c.id, 'data-unread': String(c.unread) },
            on: { click: () => void openConv(c.id) },
          },
          h(
            'span',
            { class: 'conv__line' },
            c.peer ? presenceDot(c.peer.presence) : null,
            h('span', { class: 'conv__name', testid: 'conv-name', text: convName(c) }),
            c.access === 'read' ? h('span', { class: 'conv__rel', text: s('readOnly').split(/[:：]/)[0] }) : null,
            c.unread && c.participant ? h('span', { class: 'conv__badge', testid: 'conv-unread', text: String(c.unread) }) : null,
          ),
          h('span', { class: 'conv__preview', text: preview(c.lastMessage) }),
        ),
      );
    }
    if (!st.convs.length) {
      items.push(h('p', { class: 'adv-muted', text: s('empty') }));
      if (ctx.user.role === 'client') {
        items.push(
          h('button', {
            class: 'btn btn--primary',
            testid: 'conv-contact-broker',
            text: s('contactBroker'),
            attrs: { type: 'button' },
            on: {
              click: () =>
                void call<{ conversation: Conv }>('POST', '/api/conversations', { type: 'broker_client' })
                  .then(async (r) => {
                    await refresh();
                    await openConv(r.conversation.id);
                  })
                  .catch(showChatError),
            },
          }),
        );
      }
    }
  }
  el.replaceChildren(...items);
}

function drawChat(): void {
  const el = root?.querySelector<HTMLElement>('[data-testid="conv-chat"]');
  if (!el) return;
  const o = st.open;
  if (!o) {
    el.replaceChildren(h('p', { class: 'adv-muted conv__pick', text: s('pick') }), h('p', { class: 'form__error', testid: 'conv-error', attrs: { role: 'alert', hidden: '' } }));
    return;
  }
  const input = h('textarea', { class: 'conv__input', testid: 'conv-input', attrs: { rows: '2', maxlength: '8000', placeholder: s('placeholder'), 'aria-label': s('placeholder') } });
  const submit = () => {
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    void post('chat', { text });
  };
  input.addEventListener('input', onTyping);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
  });
  el.replaceChildren(
    h('div', { class: 'conv__chathead', testid: 'conv-chathead' }),
    h('p', { class: 'form__error', testid: 'conv-error', text: o.error ?? '', attrs: { role: 'alert', ...(o.error ? {} : { hidden: '' }) } }),
    h('div', { class: 'conv__msgs', testid: 'conv-msgs', attrs: { 'aria-live': 'polite' } }),
    o.conv.access === 'write'
      ? h(
          'form',
          { class: 'conv__composer', on: { submit: (ev) => (ev.preventDefault(), submit()) } },
          input,
          h('button', { class: 'btn btn--primary', testid: 'conv-send', text: s('send'), attrs: { type: 'submit' } }),
        )
      : h('p', { class: 'conv__readonly', testid: 'conv-readonly', text: s('readOnly') }),
  );
  drawHead();
  drawMsgs();
}

function drawHead(): void {
  const el = root?.querySelector<HTMLElement>('[data-testid="conv-chathead"]');
  const o = st.open;
  if (!el || !o) return;
  const peer = st.convs.find((c) => c.id === o.conv.id)?.peer ?? o.conv.peer;
  const typing = o.typingUntil > Date.now();
  const parts = [
    peer ? presenceDot(peer.presence) : null,
    h('strong', { class: 'conv__name', text: convName(o.conv) }),
    peer ? h('span', { class: 'conv__state', text: s(peer.presence) }) : null,
    typing ? h('span', { class: 'conv__typing', testid: 'conv-typing', text: s('typing') }) : null,
  ];
  el.replaceChildren(...parts.filter((x): x is HTMLElement => x !== null));
}

function drawMsgs(): void {
  const el = root?.querySelector<HTMLElement>('[data-testid="conv-msgs"]');
  const o = st.open;
  if (!el || !o || !ctx) return;
  const me = ctx.user.id;
  // Edits and recalls are messages referencing the original: fold them into it.
  const edits = new Map<string, string>();
  const recalled = new Set<string>();
  for (const m of o.msgs) {
    const p = (m.payload ?? {}) as Record<string, unknown>;
    if (m.kind === 'chat.edit' && typeof p.ref === 'string' && typeof p.text === 'string') edits.set(p.ref, p.text);
    if (m.kind === 'chat.recall' && typeof p.ref === 'string') recalled.add(p.ref);
  }
  const names = new Map<string, string>();
  for (const x of [o.conv.broker, o.conv.client, o.conv.manager, ...o.conv.members]) if (x) names.set(x.id, x.displayName);
  const peerId = o.conv.peer?.id;
  const peerRead = peerId ? (o.reads.get(peerId)?.readOffset ?? 0) : 0;
  const bubbles = o.msgs
    .filter((m) => m.kind === 'chat')
    .map((m) => {
      const mine = m.sender === me;
      const isRecalled = recalled.has(m.id);
      const text = isRecalled ? s('recalled') : (edits.get(m.id) ?? String((m.payload as { text?: unknown })?.text ?? ''));
      const age = Date.now() - Date.parse(m.time);
      const actions: HTMLElement[] = [];
      if (mine && !isRecalled && o.conv.access === 'write') {
        if (age < EDIT_MS)
          actions.push(
            h('button', {
              class: 'conv__act',
              testid: 'conv-edit',
              text: s('edit'),
              attrs: { type: 'button' },
              on: {
                click: () => {
                  const next = window.prompt(s('editPrompt'), text);
                  if (next && next.trim() && next.trim() !== text) void post('chat.edit', { ref: m.id, text: next.trim() });
                },
              },
            }),
          );
        if (age < RECALL_MS) actions.push(h('button', { class: 'conv__act', testid: 'conv-recall', text: s('recall'), attrs: { type: 'button' }, on: { click: () => void post('chat.recall', { ref: m.id }) } }));
      }
      return h(
        'div',
        { class: `conv__msg${mine ? ' conv__msg--mine' : ''}${isRecalled ? ' conv__msg--recalled' : ''}`, testid: 'conv-msg', attrs: { 'data-id': m.id, 'data-offset': String(m.offset) } },
        h('span', { class: 'conv__who', text: mine ? s('me') : (names.get(m.sender) ?? m.sender.slice(0, 8)) }),
        h('span', { class: 'conv__text', testid: 'conv-msg-text', text }),
        h(
          'span',
          { class: 'conv__meta' },
          h('time', { attrs: { datetime: m.time }, text: formatTime(m.time) }),
          edits.has(m.id) && !isRecalled ? h('span', { class: 'conv__tag', text: s('edited') }) : null,
          mine && peerId && !isRecalled ? h('span', { class: 'conv__tag', testid: 'conv-read-mark', text: peerRead >= m.offset ? s('read') : s('unreadMark') }) : null,
          ...actions,
        ),
      );
    });
  el.replaceChildren(...(bubbles.length ? bubbles : [h('p', { class: 'adv-muted', text: s('noMessages') })]));
  el.scrollTop = el.scrollHeight;
}
