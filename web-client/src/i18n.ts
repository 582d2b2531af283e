/**
 * UI strings, zh-CN first with English. The choice is kept in localStorage. Error messages are looked
 * up by their stable error code (src/errors/codes.ts); unknown codes fall back to the server's message.
 */
export type Lang = 'zh-CN' | 'en';

const STORAGE_KEY = 'qiao.lang';

const zh = {
  appName: '桥 · 实时资讯',
  appTagline: '研报、行情提醒与通知，实时送达',
  loginTitle: '登录',
  loginLabel: '用户名',
  passwordLabel: '密码',
  loginSubmit: '登录',
  loggingIn: '正在登录…',
  demoHint: '演示账号：client1、client2、inst1、broker1、research1 等，密码 qiao-demo-2026',
  logout: '退出登录',
  switchLang: 'English',
  channels: '频道',
  channelsHint: '打开开关即可订阅，新消息将实时推送',
  feed: '实时消息',
  feedEmpty: '暂无消息。订阅频道后，新的研报与提醒会显示在这里。',
  subscribe: '订阅',
  subscribed: '已订阅',
  notEntitled: '需更高客户等级',
  connecting: '连接中',
  connected: '已连接',
  reconnecting: '重连中',
  offline: '已断开',
  tickers: '相关证券',
  riskLevel: '风险等级',
  readMore: '阅读全文',
  timeZoneNote: '北京时间',
  newMessage: '新消息',
  gap: '部分消息无法恢复，请查看历史记录',
  family_research: '研究报告',
  family_alerts: '行情提醒',
  family_inbox: '个人通知',
  family_team: '团队',
  family_firm: '公司公告',
  family_conversation: '会话',
  kind_note: '研报',
  kind_alert: '提醒',
  kind_notice: '通知',
  kind_chat: '消息',
  kind_recommendation: '投资建议',
  kind_task: '任务',
  severity_info: '提示',
  severity_warning: '警告',
  severity_critical: '紧急',
  risk_R1: 'R1 低风险',
  risk_R2: 'R2 中低风险',
  risk_R3: 'R3 中风险',
  risk_R4: 'R4 中高风险',
  risk_R5: 'R5 高风险',
  role_client: '客户',
  role_broker: '经纪人',
  role_manager: '团队经理',
  role_research: '研究员',
  role_compliance: '合规',
  role_admin: '管理员',
  tier_general: '普通投资者',
  tier_hnw: '高净值客户',
  tier_institutional: '机构客户',
  dismiss: '关闭',
  // errors, by code
  QIAO_AUTH_BAD_CREDENTIALS: '用户名或密码错误',
  QIAO_AUTH_REQUIRED: '请先登录',
  QIAO_TOKEN_EXPIRED: '登录已过期，请重新登录',
  QIAO_TOKEN_MALFORMED: '登录状态无效，请重新登录',
  QIAO_TOKEN_INVALID_SIGNATURE: '登录状态无效，请重新登录',
  QIAO_ENTITLEMENT_REQUIRED: '您的客户等级暂无权限订阅该频道',
  QIAO_SUBSCRIBE_FORBIDDEN: '无权订阅该频道',
  QIAO_PUBLISH_FORBIDDEN: '无权在该频道发布',
  QIAO_FORBIDDEN: '无权执行该操作',
  QIAO_RATE_LIMITED: '操作过于频繁，请稍后再试',
  QIAO_TOO_MANY_SUBSCRIPTIONS: '订阅数量已达上限',
  QIAO_UNAVAILABLE: '服务暂时不可用，请稍后再试',
  QIAO_DRAINING: '服务器维护中，正在切换连接',
  QIAO_RECOVERY_GAP: '部分消息无法恢复，请查看历史记录',
  QIAO_INTERNAL: '系统内部错误，请稍后再试',
  QIAO_NOT_FOUND: '未找到',
  QIAO_DLP_BLOCKED: '消息含有禁用词，未发送（已记录供合规检查）',
  QIAO_EXPORT_TOO_LARGE: '符合条件的记录过多，请缩小检索范围后再导出',
  unknownError: '操作失败',
};

export type MsgKey = keyof typeof zh;

const en: Record<MsgKey, string> = {
  appName: 'Qiao · Live',
  appTagline: 'Research, market alerts and notices, in real time',
  loginTitle: 'Sign in',
  loginLabel: 'Login',
  passwordLabel: 'Password',
  loginSubmit: 'Sign in',
  loggingIn: 'Signing in…',
  demoHint: 'Demo logins: client1, client2, inst1, broker1, research1 …, password qiao-demo-2026',
  logout: 'Log out',
  switchLang: '中文',
  channels: 'Channels',
  channelsHint: 'Turn a switch on to subscribe; new messages arrive live',
  feed: 'Live feed',
  feedEmpty: 'No messages yet. Research notes and alerts from your channels will appear here.',
  subscribe: 'Subscribe',
  subscribed: 'Subscribed',
  notEntitled: 'Higher client tier required',
  connecting: 'Connecting',
  connected: 'Connected',
  reconnecting: 'Reconnecting',
  offline: 'Offline',
  tickers: 'Securities',
  riskLevel: 'Risk level',
  readMore: 'Read full note',
  timeZoneNote: 'Beijing time',
  newMessage: 'New',
  gap: 'Some messages could not be recovered; see the channel history',
  family_research: 'Research',
  family_alerts: 'Market alerts',
  family_inbox: 'Inbox',
  family_team: 'Team',
  family_firm: 'Firm notices',
  family_conversation: 'Conversations',
  kind_note: 'Research note',
  kind_alert: 'Alert',
  kind_notice: 'Notice',
  kind_chat: 'Message',
  kind_recommendation: 'Recommendation',
  kind_task: 'Task',
  severity_info: 'Info',
  severity_warning: 'Warning',
  severity_critical: 'Critical',
  risk_R1: 'R1 Low',
  risk_R2: 'R2 Low-medium',
  risk_R3: 'R3 Medium',
  risk_R4: 'R4 Medium-high',
  risk_R5: 'R5 High',
  role_client: 'Client',
  role_broker: 'Broker',
  role_manager: 'Team manager',
  role_research: 'Research',
  role_compliance: 'Compliance',
  role_admin: 'Administrator',
  tier_general: 'General investor',
  tier_hnw: 'High net worth',
  tier_institutional: 'Institutional',
  dismiss: 'Dismiss',
  QIAO_AUTH_BAD_CREDENTIALS: 'Wrong login or password',
  QIAO_AUTH_REQUIRED: 'Please sign in',
  QIAO_TOKEN_EXPIRED: 'Your session has expired; please sign in again',
  QIAO_TOKEN_MALFORMED: 'Your session is not valid; please sign in again',
  QIAO_TOKEN_INVALID_SIGNATURE: 'Your session is not valid; please sign in again',
  QIAO_ENTITLEMENT_REQUIRED: 'Your client tier is not entitled to this channel',
  QIAO_SUBSCRIBE_FORBIDDEN: 'You may not subscribe to this channel',
  QIAO_PUBLISH_FORBIDDEN: 'You may not publish to this channel',
  QIAO_FORBIDDEN: 'Not allowed',
  QIAO_RATE_LIMITED: 'Too many requests; please try again shortly',
  QIAO_TOO_MANY_SUBSCRIPTIONS: 'Subscription limit reached',
  QIAO_UNAVAILABLE: 'Service temporarily unavailable; please try again',
  QIAO_DRAINING: 'Server maintenance; switching connection',
  QIAO_RECOVERY_GAP: 'Some messages could not be recovered; see the channel history',
  QIAO_INTERNAL: 'Internal error; please try again later',
  QIAO_NOT_FOUND: 'Not found',
  QIAO_DLP_BLOCKED: 'Message not sent: it contains a prohibited term (recorded for compliance)',
  QIAO_EXPORT_TOO_LARGE: 'Too many records match; narrow the search before exporting',
  unknownError: 'Something went wrong',
};

const DICTS: Record<Lang, Record<MsgKey, string>> = { 'zh-CN': zh, en };

let current: Lang = 'zh-CN';

export function loadLang(): Lang {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    current = v === 'en' ? 'en' : 'zh-CN';
  } catch {
    current = 'zh-CN';
  }
  return current;
}

export function setLang(lang: Lang): void {
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Storage disabled: the choice lasts for this page only.
  }
}

export function lang(): Lang {
  return current;
}

export function t(key: MsgKey): string {
  return DICTS[current][key];
}

/** A translation for a dynamic key (e.g. `kind_${kind}`), or the fallback when there is none. */
export function tOr(key: string, fallback: string): string {
  const d = DICTS[current] as Record<string, string>;
  return Object.hasOwn(d, key) ? d[key] : fallback;
}

/** A user-facing message for an error code; unknown codes fall back to the server's message. */
export function errorText(code: string | undefined, message?: string): string {
  if (code) {
    const d = DICTS[current] as Record<string, string>;
    if (Object.hasOwn(d, code)) return d[code];
  }
  return message || t('unknownError');
}

/** A channel title in the current language. */
export function titleOf(title: { zh: string; en: string } | undefined, fallback: string): string {
  if (!title) return fallback;
  return current === 'en' ? title.en || title.zh : title.zh || title.en;
}

const timeFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

/** A time in Asia/Shanghai, e.g. 2026/03/02 14:05:09 (the same digits in both languages). */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : timeFmt.format(d);
}
