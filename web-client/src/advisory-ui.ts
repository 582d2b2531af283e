/**
 * Shared pieces of the advisory views (recommendations, tasks, approvals): a text-only DOM helper, the
 * REST call that keeps error details (a suitability refusal carries the levels), and the zh-CN/en
 * strings of these views. Never innerHTML: every server string goes in through textContent.
 */
import { errorText, lang } from './i18n.ts';

export { h, type Props } from './dom.ts';

export class AdvError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AdvError';
  }
}

/** JSON request with the bearer token; errors become AdvError with the server's code and details. */
export async function call<T>(token: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  const h: Record<string, string> = { accept: 'application/json', ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new AdvError('QIAO_UNAVAILABLE', e instanceof Error ? e.message : 'Network error', 0);
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
    const code = typeof err?.code === 'string' ? err.code : res.status >= 500 ? 'QIAO_UNAVAILABLE' : 'QIAO_BAD_REQUEST';
    throw new AdvError(code, typeof err?.message === 'string' ? err.message : res.statusText, res.status, err?.details);
  }
  return { status: res.status, body: data as T };
}

const zh = {
  tabRecommend: '推荐',
  tabTasks: '任务',
  tabApprovals: '审批',
  recTitle: '投资建议推荐',
  recHint: '向名下客户推荐证券或产品；系统按适当性要求自动匹配客户风险等级，不匹配的将被拒绝并留痕。',
  recClients: '客户',
  recNoClients: '名下暂无可推荐的客户',
  recSecurity: '证券/产品代码',
  recSecurityHint: '如 600519.SH、510300.OF 或产品代码',
  recProduct: '产品名称（选填）',
  recRisk: '产品风险等级',
  recRationale: '推荐理由',
  recSubmit: '发送推荐',
  recSending: '发送中…',
  recPickClient: '请至少选择一位客户',
  recResults: '发送结果',
  recPending: '本批次推荐已提交合规审批，审批通过后送达。',
  professional: '专业投资者',
  noAssessment: '未测评',
  outcome_delivered: '已送达',
  outcome_refused: '已拒绝，未送达',
  outcome_pending_approval: '待合规审批',
  outcome_rejected: '合规驳回',
  outcome_failed: '发送失败，可重试',
  mismatch: '产品风险等级 {r} 高于客户风险等级 {c}',
  basis_professional: '专业投资者',
  basis_level: '风险等级匹配',
  taskTitle: '团队任务',
  taskNew: '新建任务',
  taskName: '任务标题',
  taskDetail: '任务说明',
  taskDue: '截止时间',
  taskTeams: '团队',
  taskBrokers: '经纪人',
  taskSubmit: '下发任务',
  taskPickRecipient: '请选择团队或经纪人',
  taskList: '已下发任务',
  taskMine: '我的任务',
  taskNone: '暂无任务',
  taskProgress: '任务进度',
  taskDueAt: '截止',
  taskFrom: '下发人',
  taskRead: '标为已读',
  taskAccept: '接受任务',
  taskDone: '完成',
  taskNote: '完成备注',
  taskNoteRequired: '请填写完成备注',
  taskOverdue: '已逾期',
  taskLive: '实时更新',
  state_delivered: '已送达',
  state_read: '已读',
  state_accepted: '已接受',
  state_done: '已完成',
  count_overdue: '逾期',
  colBroker: '经纪人',
  colState: '状态',
  colNote: '备注',
  colUpdated: '更新时间',
  approvalsTitle: '待审批事项',
  approvalsNone: '暂无待审批事项',
  approve: '批准',
  reject: '驳回',
  approvalNote: '审批意见（选填）',
  kind_recommendation: '批量推荐',
  kind_broadcast: '全公司公告',
  requestedBy: '申请人',
  clientsCount: '{n} 位客户',
  refresh: '刷新',
  QIAO_SUITABILITY_MISMATCH: '适当性不匹配：产品风险等级高于客户风险承受能力，已拒绝并记录',
  QIAO_RISK_ASSESSMENT_MISSING: '客户尚未完成风险测评，已拒绝并记录',
  QIAO_RISK_ASSESSMENT_EXPIRED: '客户风险测评已过期，已拒绝并记录',
  QIAO_SECURITY_INVALID: '证券或产品代码格式不正确',
  QIAO_RESEARCH_NOTE_INVALID: '引用的研报不存在或无权查看',
  QIAO_TASK_DUE_INVALID: '截止时间须晚于当前时间，且不超过一年',
  QIAO_TASK_RECIPIENT_INVALID: '任务接收人无效',
  QIAO_TASK_TRANSITION_INVALID: '请先接受任务，再标记完成',
  QIAO_APPROVAL_NOT_PENDING: '该事项已被处理',
  QIAO_DLP_BLOCKED: '内容含有违规用语，未发送',
  QIAO_FORBIDDEN: '无权执行该操作',
  QIAO_BAD_REQUEST: '输入有误，请检查后重试',
};

export type AdvKey = keyof typeof zh;

const en: Record<AdvKey, string> = {
  tabRecommend: 'Recommend',
  tabTasks: 'Tasks',
  tabApprovals: 'Approvals',
  recTitle: 'Recommendations',
  recHint: 'Recommend a security or product to your clients; suitability is checked against each client’s risk level, and refusals are recorded.',
  recClients: 'Clients',
  recNoClients: 'No clients to recommend to',
  recSecurity: 'Security / product code',
  recSecurityHint: 'e.g. 600519.SH, 510300.OF or a product code',
  recProduct: 'Product name (optional)',
  recRisk: 'Product risk level',
  recRationale: 'Rationale',
  recSubmit: 'Send recommendation',
  recSending: 'Sending…',
  recPickClient: 'Pick at least one client',
  recResults: 'Outcome',
  recPending: 'This batch waits for compliance approval; it is delivered once approved.',
  professional: 'Professional investor',
  noAssessment: 'Not assessed',
  outcome_delivered: 'Delivered',
  outcome_refused: 'Refused, not delivered',
  outcome_pending_approval: 'Waiting for compliance approval',
  outcome_rejected: 'Rejected by compliance',
  outcome_failed: 'Not sent, retry',
  mismatch: 'Product risk {r} exceeds the client’s risk level {c}',
  basis_professional: 'Professional investor',
  basis_level: 'Risk levels match',
  taskTitle: 'Team tasks',
  taskNew: 'New task',
  taskName: 'Title',
  taskDetail: 'Detail',
  taskDue: 'Due',
  taskTeams: 'Teams',
  taskBrokers: 'Brokers',
  taskSubmit: 'Send task',
  taskPickRecipient: 'Pick a team or a broker',
  taskList: 'Tasks sent',
  taskMine: 'My tasks',
  taskNone: 'No tasks',
  taskProgress: 'Progress',
  taskDueAt: 'Due',
  taskFrom: 'From',
  taskRead: 'Mark read',
  taskAccept: 'Accept',
  taskDone: 'Done',
  taskNote: 'Completion note',
  taskNoteRequired: 'Please add a completion note',
  taskOverdue: 'Overdue',
  taskLive: 'Live',
  state_delivered: 'Delivered',
  state_read: 'Read',
  state_accepted: 'Accepted',
  state_done: 'Done',
  count_overdue: 'Overdue',
  colBroker: 'Broker',
  colState: 'State',
  colNote: 'Note',
  colUpdated: 'Updated',
  approvalsTitle: 'Waiting for approval',
  approvalsNone: 'Nothing to approve',
  approve: 'Approve',
  reject: 'Reject',
  approvalNote: 'Note (optional)',
  kind_recommendation: 'Recommendation batch',
  kind_broadcast: 'Firm-wide broadcast',
  requestedBy: 'Requested by',
  clientsCount: '{n} clients',
  refresh: 'Refresh',
  QIAO_SUITABILITY_MISMATCH: 'Not suitable: the product risk exceeds the client’s risk tolerance; refused and recorded',
  QIAO_RISK_ASSESSMENT_MISSING: 'The client has no risk assessment; refused and recorded',
  QIAO_RISK_ASSESSMENT_EXPIRED: 'The client’s risk assessment has expired; refused and recorded',
  QIAO_SECURITY_INVALID: 'The security or product code is not valid',
  QIAO_RESEARCH_NOTE_INVALID: 'The cited research note does not exist or you may not read it',
  QIAO_TASK_DUE_INVALID: 'The due time must be in the future, within a year',
  QIAO_TASK_RECIPIENT_INVALID: 'The task recipients are not valid',
  QIAO_TASK_TRANSITION_INVALID: 'Accept the task before marking it done',
  QIAO_APPROVAL_NOT_PENDING: 'This has already been decided',
  QIAO_DLP_BLOCKED: 'The text contains prohibited wording; nothing was sent',
  QIAO_FORBIDDEN: 'Not allowed',
  QIAO_BAD_REQUEST: 'Please check the input and try again',
};

export function at(key: AdvKey, vars: Record<string, string | number> = {}): string {
  let s = (lang() === 'en' ? en : zh)[key];
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, String(v));
  return s;
}

/** A message for an error code: these views' own first, then the app's catalogue, then the server's text. */
export function advErrorText(code: string | undefined, message?: string): string {
  const d = (lang() === 'en' ? en : zh) as Record<string, string>;
  if (code && Object.hasOwn(d, code)) return d[code];
  return errorText(code, message);
}

/** A human label for a key like `state_done` that may not exist (falls back to the raw value). */
export function atOr(key: string, fallback: string): string {
  const d = (lang() === 'en' ? en : zh) as Record<string, string>;
  return Object.hasOwn(d, key) ? d[key] : fallback;
}

/** Shows an error inline in `el` (role=alert), with the code kept in data-code for tests and support. */
export function showInline(el: HTMLElement, e: unknown): void {
  const code = (e as { code?: unknown })?.code;
  el.textContent = advErrorText(typeof code === 'string' ? code : undefined, e instanceof Error ? e.message : String(e));
  if (typeof code === 'string') el.dataset.code = code;
  else delete el.dataset.code;
  el.hidden = false;
}

export function randomKey(): string {
  return typeof crypto !== 'undefined' && 'randomUUID' in crypto ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}
