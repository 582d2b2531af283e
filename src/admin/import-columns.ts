/**
 * The columns of the client import CSV (src/admin/client-import.ts), in template order. No imports: the
 * web client uses this module too, to build the template file in the page.
 */
export type Field =
  | 'login'
  | 'displayName'
  | 'tier'
  | 'riskLevel'
  | 'riskAssessedOn'
  | 'riskExpiresOn'
  | 'professionalInvestor'
  | 'brokerLogin'
  | 'email'
  | 'phone'
  | 'password';

/** Template order: the Chinese name first (the template's header), then the names also accepted. */
export const COLUMNS: ReadonlyArray<{ field: Field; zh: string; required: boolean; aliases: readonly string[] }> = [
  { field: 'login', zh: '登录名', required: true, aliases: ['客户登录名', '账号', '用户名'] },
  { field: 'displayName', zh: '姓名', required: true, aliases: ['客户姓名', '名称', '客户名称', 'name'] },
  { field: 'tier', zh: '客户等级', required: true, aliases: ['等级', '客户类型'] },
  { field: 'riskLevel', zh: '风险等级', required: false, aliases: ['风险承受能力', 'risk'] },
  { field: 'riskAssessedOn', zh: '测评日期', required: false, aliases: ['风险测评日期'] },
  { field: 'riskExpiresOn', zh: '测评到期', required: false, aliases: ['测评到期日', '测评有效期至'] },
  { field: 'professionalInvestor', zh: '专业投资者', required: false, aliases: ['professional'] },
  { field: 'brokerLogin', zh: '经纪人', required: true, aliases: ['经纪人登录名', '客户经理', 'broker'] },
  { field: 'email', zh: '邮箱', required: false, aliases: ['电子邮箱', 'e-mail'] },
  { field: 'phone', zh: '手机', required: false, aliases: ['手机号', '手机号码', 'mobile'] },
  { field: 'password', zh: '初始密码', required: false, aliases: ['密码'] },
];

/** The template: a header row of the Chinese names and one example row. */
export function templateCsv(): string {
  const example = ['zhang.wei01', '张伟', '高净值', 'C4', '2025-03-01', '2027-02-28', '否', 'broker1', 'zhang.wei@example.com', '13812345678', ''];
  return `${COLUMNS.map((c) => c.zh).join(',')}\r\n${example.join(',')}\r\n`;
}
