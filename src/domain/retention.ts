/**
 * Retention classes of archive records. Client communications and suitability records are kept
 * 20 years (证券法 §137 requires at least 20 years for client and business records).
 */
import { familyNamed } from '../../channels/catalogue.ts';

export const RETENTION_CLASSES = {
  'client-communications': { years: 20, zh: '客户沟通记录' },
  suitability: { years: 20, zh: '适当性管理记录' },
  research: { years: 20, zh: '研究报告发布记录' },
  'staff-communications': { years: 20, zh: '员工沟通记录' },
  tasks: { years: 5, zh: '团队任务记录' },
  'market-alerts': { years: 5, zh: '行情提醒' },
  'compliance-activity': { years: 20, zh: '合规操作记录' },
  // The regulator's floor for follow-up and complaint files is 3 years; they are client business
  // records, so they are kept as long as the others (证券法 §137).
  'client-followups': { years: 20, zh: '客户回访记录' },
  complaints: { years: 20, zh: '投诉处理记录' },
  'service-reminders': { years: 5, zh: '工作提醒' },
} as const;

export type RetentionClass = keyof typeof RETENTION_CLASSES;

export function retainUntil(cls: RetentionClass, recordedAt: Date): Date {
  const d = new Date(recordedAt);
  d.setUTCFullYear(d.getUTCFullYear() + RETENTION_CLASSES[cls].years);
  return d;
}

/**
 * Retention class of a channel message: its family's declared `retentionClass` (channels/*.ts).
 * An unknown family throws QIAO_CHANNEL_UNKNOWN_FAMILY; there is no default class.
 */
export function retentionForFamily(family: string): RetentionClass {
  return familyNamed(family).retentionClass;
}
