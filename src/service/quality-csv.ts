/**
 * The service-quality report as CSV (GET /api/service/quality.csv): the same report object the JSON
 * answer is, one row per scope total, branch, team and broker, then one per bucket of the series. UTF-8
 * with a BOM, so Excel reads the Chinese; headers in Chinese and English.
 */
import { stringify } from 'csv-stringify/sync';
import { MARKET_TZ } from '../domain/trading-sessions.ts';
import { localParts, ymd } from '../domain/zoned-time.ts';
import type { CurrentFigures, PeriodFigures, QualityReport } from './quality.ts';

export const QUALITY_CSV_HEADER = [
  '级别 Level',
  '名称 Name',
  '团队 Team',
  '营业部 Branch',
  '期间 Period',
  '时段 Hours',
  '已回复 Answered',
  '首次响应中位数(秒) First response p50 (s)',
  '首次响应90分位(秒) First response p90 (s)',
  '建议已发送 Recommendations sent',
  '适当性拒绝 Refused by suitability',
  '待合规审批 Held for approval',
  '任务按时完成 Tasks on time',
  '任务逾期 Tasks overdue',
  '回访完成 Follow-ups done',
  '回访逾期 Follow-ups overdue',
  '投诉 Complaints',
  '满意度调查 Surveys answered',
  '平均评分 Average score',
  '等待中客户 Waiting clients',
  '最久等待客户 Oldest waiting client',
  '等待起始 Waiting since',
  '客户数 Book',
  '30天内已联系 Contacted in 30 days',
  '覆盖率% Coverage %',
] as const;

const LEVEL = { total: '合计 total', branch: '营业部 branch', team: '团队 team', broker: '经纪人 broker', bucket: '时段 bucket' } as const;

/** A Shanghai wall-clock time, `YYYY-MM-DD HH:MM` (what a spreadsheet reads as a date and time). */
function shanghai(isoTime: string): string {
  const p = localParts(new Date(isoTime), MARKET_TZ);
  return `${ymd(p.year, p.month, p.day)} ${String(p.hour).padStart(2, '0')}:${String(p.minute).padStart(2, '0')}`;
}

const blank = (v: number | null) => (v === null ? '' : v);

function periodCells(f: PeriodFigures): Array<string | number> {
  return [
    f.answered,
    blank(f.p50),
    blank(f.p90),
    f.recsSent,
    f.recsRefused,
    f.recsHeld,
    f.tasksOnTime,
    f.tasksOverdue,
    f.followupsDone,
    f.followupsOverdue,
    f.complaints,
    f.surveys,
    blank(f.surveyAvg),
  ];
}

function currentCells(c: CurrentFigures): Array<string | number> {
  return [
    c.waiting,
    c.oldestWaiting?.displayName ?? '',
    c.oldestWaiting ? shanghai(c.oldestWaiting.since) : '',
    c.book,
    c.contacted,
    blank(c.coverage),
  ];
}

export function qualityCsv(r: QualityReport): string {
  const period = `${r.period.from}~${r.period.to}`;
  const hours = r.period.hours === 'trading' ? '交易时段 trading' : '全天 all';
  const out: Array<Array<string | number>> = [];
  out.push([LEVEL.total, r.total.name ?? '', '', '', period, hours, ...periodCells(r.total), ...currentCells(r.total)]);
  for (const b of r.branches) out.push([LEVEL.branch, b.name ?? '', '', b.name ?? '', period, hours, ...periodCells(b), ...currentCells(b)]);
  for (const t of r.teams) out.push([LEVEL.team, t.name ?? '', t.name ?? '', '', period, hours, ...periodCells(t), ...currentCells(t)]);
  for (const b of r.brokers) out.push([LEVEL.broker, b.name, b.teamName ?? '', b.branchName ?? '', period, hours, ...periodCells(b), ...currentCells(b)]);
  for (const s of r.series) out.push([LEVEL.bucket, s.bucket, '', '', s.bucket, hours, ...periodCells(s), '', '', '', '', '', '']);
  return '\ufeff' + stringify([[...QUALITY_CSV_HEADER], ...out], { record_delimiter: '\r\n' });
}
