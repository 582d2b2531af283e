/**
 * The yearly complaint report (年度投诉情况报告) a firm files with its local securities regulator each
 * April: complaints filed in the calendar year (Asia/Shanghai) counted by category, by branch and by
 * outcome, acknowledgement and handling times (average and median hours), overdue counts and the cases
 * still open at year end. One query in Postgres (GROUPING SETS over the year's rows) computes every
 * figure, so the JSON, the CSV and the xlsx cannot disagree.
 *
 * Spreadsheets are written with exceljs: a well-kept library that writes (and reads back, for the
 * tests) both xlsx and CSV, so one dependency serves both formats with the same cell values.
 */
import ExcelJS from 'exceljs';
import { asc, eq, sql } from 'drizzle-orm';
import { QiaoError } from '../errors/codes.ts';
import { rows as rawRows, type Db } from '../store/db.ts';
import { branches } from '../store/schema/index.ts';
import { localParts } from '../domain/zoned-time.ts';
import { CATEGORY_ZH } from './complaints.ts';
import { COMPLAINT_CATEGORIES, type ComplaintCategory } from './complaint-views.ts';

export interface ReportRow {
  filed: number;
  resolved: number;
  rejected: number;
  /** Not closed when the report is made. */
  stillOpen: number;
  /** Not closed at the end of the year (closed later, or still open). */
  openAtYearEnd: number;
  ackAvgH: number | null;
  ackMedianH: number | null;
  handleAvgH: number | null;
  handleMedianH: number | null;
  /** Acknowledged after the deadline, or not yet acknowledged and past it. */
  ackOverdue: number;
  /** Closed after the deadline, or not yet closed and past it. */
  resolveOverdue: number;
}

export interface ComplaintReport {
  year: number;
  /** When the report was computed (overdue and still-open counts are as of this time). */
  asOf: string;
  totals: ReportRow;
  byCategory: Array<ReportRow & { category: ComplaintCategory; categoryName: string }>;
  byBranch: Array<ReportRow & { branchId: string | null; branchCode: string; branchName: string }>;
  byOutcome: Array<{ outcome: 'resolved' | 'rejected' | 'open'; outcomeName: string; count: number }>;
}

const ZERO: ReportRow = { filed: 0, resolved: 0, rejected: 0, stillOpen: 0, openAtYearEnd: 0, ackAvgH: null, ackMedianH: null, handleAvgH: null, handleMedianH: null, ackOverdue: 0, resolveOverdue: 0 };

export function assertReportYear(raw: unknown, now: Date): number {
  const s = String(raw ?? '');
  const year = /^\d{4}$/.test(s) ? Number(s) : NaN;
  const current = localParts(now, 'Asia/Shanghai').year;
  if (!Number.isInteger(year) || year < 2000 || year > current) throw new QiaoError('QIAO_COMPLAINT_REPORT_YEAR_INVALID');
  return year;
}

interface RawRow {
  g_cat: number;
  g_branch: number;
  category: string | null;
  branch_id: string | null;
  filed: number;
  resolved: number;
  rejected: number;
  still_open: number;
  open_at_year_end: number;
  ack_avg_h: number | null;
  ack_median_h: number | null;
  handle_avg_h: number | null;
  handle_median_h: number | null;
  ack_overdue: number;
  resolve_overdue: number;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toRow(r: RawRow): ReportRow {
  return {
    filed: Number(r.filed),
    resolved: Number(r.resolved),
    rejected: Number(r.rejected),
    stillOpen: Number(r.still_open),
    openAtYearEnd: Number(r.open_at_year_end),
    ackAvgH: num(r.ack_avg_h),
    ackMedianH: num(r.ack_median_h),
    handleAvgH: num(r.handle_avg_h),
    handleMedianH: num(r.handle_median_h),
    ackOverdue: Number(r.ack_overdue),
    resolveOverdue: Number(r.resolve_overdue),
  };
}

export async function complaintReport(db: Db, firmId: string, year: number, now = new Date()): Promise<ComplaintReport> {
  const asOf = now.toISOString();
  // Hours rounded to one decimal in Postgres, so every format shows the same number.
  const hours = (expr: ReturnType<typeof sql>) => sql`round((${expr})::numeric, 1)::float8`;
  const ackH = sql`extract(epoch from (acknowledged_at - created_at)) / 3600`;
  const handleH = sql`extract(epoch from (closed_at - created_at)) / 3600`;
  const raw = await rawRows<RawRow>(
    db,
    sql`with bounds as (
          select make_timestamptz(${year}, 1, 1, 0, 0, 0, 'Asia/Shanghai') as y0, make_timestamptz(${year + 1}, 1, 1, 0, 0, 0, 'Asia/Shanghai') as y1
        ), c as (
          select k.* from complaints k, bounds b
          where k.firm_id = ${firmId}::uuid and k.created_at >= b.y0 and k.created_at < b.y1
        )
        select grouping(category)::int as g_cat, grouping(branch_id)::int as g_branch, category, branch_id::text as branch_id,
          count(*)::int as filed,
          (count(*) filter (where status = 'resolved'))::int as resolved,
          (count(*) filter (where status = 'rejected'))::int as rejected,
          (count(*) filter (where status in ('open', 'acknowledged')))::int as still_open,
          (count(*) filter (where closed_at is null or closed_at >= (select y1 from bounds)))::int as open_at_year_end,
          ${hours(sql`avg(${ackH})`)} as ack_avg_h,
          ${hours(sql`percentile_cont(0.5) within group (order by ${ackH})`)} as ack_median_h,
          ${hours(sql`avg(${handleH})`)} as handle_avg_h,
          ${hours(sql`percentile_cont(0.5) within group (order by ${handleH})`)} as handle_median_h,
          (count(*) filter (where coalesce(acknowledged_at, ${asOf}::timestamptz) > ack_due_at))::int as ack_overdue,
          (count(*) filter (where coalesce(closed_at, ${asOf}::timestamptz) > resolve_due_at))::int as resolve_overdue
        from c
        group by grouping sets ((), (category), (branch_id))`,
  );
  const totalRaw = raw.find((r) => Number(r.g_cat) === 1 && Number(r.g_branch) === 1);
  const totals = totalRaw ? toRow(totalRaw) : { ...ZERO };
  const byCat = new Map(raw.filter((r) => Number(r.g_cat) === 0).map((r) => [r.category, toRow(r)]));
  const byBranchRaw = new Map(raw.filter((r) => Number(r.g_branch) === 0).map((r) => [r.branch_id, toRow(r)]));
  const allBranches = await db.select().from(branches).where(eq(branches.firmId, firmId)).orderBy(asc(branches.code));
  const byBranch: ComplaintReport['byBranch'] = allBranches.map((b) => ({ branchId: b.id, branchCode: b.code, branchName: b.name, ...(byBranchRaw.get(b.id) ?? ZERO) }));
  if (byBranchRaw.has(null)) byBranch.push({ branchId: null, branchCode: '-', branchName: '未归属营业部', ...byBranchRaw.get(null)! });
  return {
    year,
    asOf,
    totals,
    byCategory: COMPLAINT_CATEGORIES.map((category) => ({ category, categoryName: CATEGORY_ZH[category], ...(byCat.get(category) ?? ZERO) })),
    byBranch,
    byOutcome: [
      { outcome: 'resolved', outcomeName: '已解决', count: totals.resolved },
      { outcome: 'rejected', outcomeName: '已驳回', count: totals.rejected },
      { outcome: 'open', outcomeName: '未结', count: totals.stillOpen },
    ],
  };
}

// -------------------------------------------------------------------------------------------------
// Spreadsheets: one table per sheet (xlsx) or per section (CSV), Chinese headers.

const ROW_HEADERS: Array<[keyof ReportRow, string]> = [
  ['filed', '投诉数'],
  ['resolved', '已解决'],
  ['rejected', '已驳回'],
  ['stillOpen', '未结（截至统计时）'],
  ['openAtYearEnd', '年末未结'],
  ['ackAvgH', '平均受理时长（小时）'],
  ['ackMedianH', '受理时长中位数（小时）'],
  ['handleAvgH', '平均办结时长（小时）'],
  ['handleMedianH', '办结时长中位数（小时）'],
  ['ackOverdue', '受理逾期数'],
  ['resolveOverdue', '办结逾期数'],
];

type Cell = string | number | null;
interface Table {
  sheet: string;
  header: string[];
  rows: Cell[][];
}

export function reportTables(r: ComplaintReport): Table[] {
  const values = (x: ReportRow): Cell[] => ROW_HEADERS.map(([k]) => x[k]);
  return [
    {
      sheet: '汇总',
      header: ['项目', '数值'],
      rows: [['年度', r.year], ['统计截至', r.asOf], ...ROW_HEADERS.map(([k, h]): Cell[] => [h, r.totals[k]])],
    },
    {
      sheet: '按类别',
      header: ['类别代码', '类别', ...ROW_HEADERS.map(([, h]) => h)],
      rows: r.byCategory.map((x) => [x.category, x.categoryName, ...values(x)]),
    },
    {
      sheet: '按营业部',
      header: ['营业部代码', '营业部', ...ROW_HEADERS.map(([, h]) => h)],
      rows: r.byBranch.map((x) => [x.branchCode, x.branchName, ...values(x)]),
    },
    {
      sheet: '按结果',
      header: ['结果代码', '结果', '投诉数'],
      rows: r.byOutcome.map((x) => [x.outcome, x.outcomeName, x.count]),
    },
  ];
}

export async function reportXlsx(r: ComplaintReport): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'Qiao';
  wb.created = new Date(r.asOf);
  for (const t of reportTables(r)) {
    const ws = wb.addWorksheet(t.sheet);
    ws.addRow(t.header).font = { bold: true };
    for (const row of t.rows) ws.addRow(row);
    ws.columns.forEach((c, i) => (c.width = Math.max(10, ...[t.header[i], ...t.rows.map((row) => row[i])].map((v) => String(v ?? '').length * 2))));
  }
  return Buffer.from(await wb.xlsx.writeBuffer());
}

/** One CSV with a titled section per table (a blank line between), UTF-8 with a BOM so Excel reads the Chinese. */
export async function reportCsv(r: ComplaintReport): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('report');
  let first = true;
  for (const t of reportTables(r)) {
    if (!first) ws.addRow([]);
    first = false;
    ws.addRow([`【${t.sheet}】`]);
    ws.addRow(t.header);
    for (const row of t.rows) ws.addRow(row.map((v) => v ?? ''));
  }
  const out = await wb.csv.writeBuffer({ sheetName: 'report', includeEmptyRows: true, formatterOptions: { writeBOM: true } });
  return Buffer.from(out);
}
