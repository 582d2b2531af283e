/**
 * Compliance search and export over the archive: by person (login or user id: records whose subjects
 * include them), conversation, time range and keyword. Keyword search is a case-insensitive substring
 * match on the record's `text` (ILIKE with % and _ escaped); pg_trgm would need an extension on both
 * PGlite and the server, so it is not used. Person and time use the GIN index on subjects and the
 * index on recorded_at.
 *
 * `person` matches records whose subjects include the person and records of conversations the person
 * is a party to.
 *
 * An export is three files, returned inline (nothing is written to a node's disk, so any node can
 * serve it): records.jsonl (the records exactly as stored, with seq, prev_hash and hash, so each can be
 * re-hashed), records.txt (readable, in Chinese, times in Asia/Shanghai) and manifest.json (sha256
 * of the two others, the filter, who exported and when, the count and the first/last seq and hash).
 */
import { createHash, randomUUID } from 'node:crypto';
import { and, arrayContains, asc, desc, eq, gte, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import { RETENTION_CLASSES } from '../domain/retention.ts';
import { QiaoError } from '../errors/codes.ts';
import { chainedFieldsJson } from '../store/archive-repo.ts';
import type { Db } from '../store/db.ts';
import { archiveRecords, users } from '../store/schema/index.ts';

export type ArchiveRow = typeof archiveRecords.$inferSelect;

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const UUID_RE = new RegExp(UUID_PATTERN);
/** A date (a whole day in Asia/Shanghai) or a date-time with an offset. */
export const WHEN_PATTERN = '^\\d{4}-\\d{2}-\\d{2}(T([01]\\d|2[0-3]):[0-5]\\d(:[0-5]\\d(\\.\\d{1,6})?)?(Z|[+-]\\d{2}:\\d{2}))?$';
const SHANGHAI = '+08:00';

/** The filter as the API receives it. */
export interface ArchiveFilter {
  person?: string;
  conversationId?: string;
  from?: string;
  to?: string;
  q?: string;
}

export interface PersonRef {
  id: string;
  login: string;
  displayName: string;
  role: string;
}

export interface ResolvedFilter {
  person?: PersonRef | { id: string };
  conversationId?: string;
  from?: Date;
  /** Exclusive. */
  to?: Date;
  q?: string;
}

function parseWhen(field: 'from' | 'to', v: string): Date {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(v);
  const d = new Date(dateOnly ? `${v}T00:00:00${SHANGHAI}` : v);
  // Date accepts 2026-02-30 by rolling over; refuse it instead of searching a day nobody asked for.
  const day = new Date(`${v.slice(0, 10)}T12:00:00Z`);
  if (Number.isNaN(d.getTime()) || Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== v.slice(0, 10)) {
    throw new QiaoError('QIAO_BAD_REQUEST', `${field} is not a valid date or date-time`);
  }
  // `to` as a date means the whole of that day.
  if (dateOnly && field === 'to') d.setUTCDate(d.getUTCDate() + 1);
  return d;
}

export async function findPerson(db: Db, person: string): Promise<PersonRef | undefined> {
  const where = UUID_RE.test(person) ? eq(users.id, person.toLowerCase()) : eq(users.login, person);
  const [u] = await db.select({ id: users.id, login: users.login, displayName: users.displayName, role: users.role }).from(users).where(where).limit(1);
  return u;
}

/** Checks and resolves a filter: a login becomes a user id; dates become instants. */
export async function resolveFilter(db: Db, f: ArchiveFilter): Promise<ResolvedFilter> {
  const out: ResolvedFilter = {};
  if (f.person !== undefined) {
    const p = await findPerson(db, f.person);
    // A user id that is no longer a user may still appear in old records: search it as given.
    if (!p && !UUID_RE.test(f.person)) throw new QiaoError('QIAO_NOT_FOUND', `No user with login "${f.person}"`);
    out.person = p ?? { id: f.person.toLowerCase() };
  }
  if (f.conversationId !== undefined) out.conversationId = f.conversationId.toLowerCase();
  if (f.from !== undefined) out.from = parseWhen('from', f.from);
  if (f.to !== undefined) out.to = parseWhen('to', f.to);
  if (out.from && out.to && out.from >= out.to) throw new QiaoError('QIAO_BAD_REQUEST', 'from must be before to');
  if (f.q !== undefined && f.q.trim()) out.q = f.q.trim();
  return out;
}

/** The filter as recorded in audit and archive records and in the manifest. */
export function describeFilter(f: ResolvedFilter): Record<string, unknown> {
  return {
    ...(f.person ? { person: f.person } : {}),
    ...(f.conversationId ? { conversationId: f.conversationId } : {}),
    ...(f.from ? { from: f.from.toISOString() } : {}),
    ...(f.to ? { to: f.to.toISOString() } : {}),
    ...(f.q ? { q: f.q } : {}),
  };
}

export function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function conditions(f: ResolvedFilter): SQL[] {
  const c: SQL[] = [];
  if (f.person) {
    // Records about the person, and everything in conversations they are a party to (a client's
    // conversation holds the broker's messages too, whose subjects may name only the sender).
    c.push(
      or(
        arrayContains(archiveRecords.subjects, [f.person.id]),
        sql`${archiveRecords.conversationId} IN (
          SELECT m.conversation_id FROM conversation_members m WHERE m.user_id = ${f.person.id}::uuid
          UNION SELECT v.id FROM conversations v WHERE ${f.person.id}::uuid IN (v.broker_id, v.client_id, v.manager_id))`,
      )!,
    );
  }
  if (f.conversationId) c.push(eq(archiveRecords.conversationId, f.conversationId));
  if (f.from) c.push(gte(archiveRecords.recordedAt, f.from));
  if (f.to) c.push(lt(archiveRecords.recordedAt, f.to));
  if (f.q) c.push(sql`${archiveRecords.text} ILIKE ${likePattern(f.q)} ESCAPE '\\'`);
  return c;
}

/** Newest first; `cursor` is an exclusive upper bound on seq (the `nextCursor` of the previous page). */
export async function searchArchive(db: Db, f: ResolvedFilter, page: { limit: number; cursor?: number }): Promise<{ records: ArchiveRow[]; nextCursor: number | null }> {
  const c = conditions(f);
  if (page.cursor !== undefined) c.push(lt(archiveRecords.seq, page.cursor));
  const rows = await db
    .select()
    .from(archiveRecords)
    .where(c.length ? and(...c) : undefined)
    .orderBy(desc(archiveRecords.seq))
    .limit(page.limit + 1);
  const more = rows.length > page.limit;
  const records = more ? rows.slice(0, page.limit) : rows;
  return { records, nextCursor: more ? records[records.length - 1].seq : null };
}

/** Names of the people records mention (actors and subjects that are users). */
export async function peopleOf(db: Db, rows: ArchiveRow[]): Promise<Record<string, PersonRef>> {
  const ids = new Set<string>();
  for (const r of rows) {
    if (UUID_RE.test(r.actorId)) ids.add(r.actorId);
    for (const s of r.subjects) if (UUID_RE.test(s)) ids.add(s);
  }
  if (ids.size === 0) return {};
  const found = await db
    .select({ id: users.id, login: users.login, displayName: users.displayName, role: users.role })
    .from(users)
    .where(inArray(users.id, [...ids]));
  return Object.fromEntries(found.map((u) => [u.id, u]));
}

/** A record as exported and returned by the API (timestamps as ISO strings). */
export function recordJson(r: ArchiveRow) {
  return { ...chainedFieldsJson(r), prevHash: r.prevHash, hash: r.hash };
}

// ---- export ----------------------------------------------------------------------------------

export interface ExportFile {
  name: string;
  contentType: string;
  sha256: string;
  bytes: number;
  content: string;
}

export interface ExportManifest {
  format: 'qiao-archive-export/1';
  exportId: string;
  exportedAt: string;
  exportedBy: PersonRef | { id: string };
  filter: Record<string, unknown>;
  recordCount: number;
  firstSeq: number | null;
  lastSeq: number | null;
  firstHash: string | null;
  lastHash: string | null;
  timeZone: 'Asia/Shanghai';
  hashRule: string;
  files: Array<{ name: string; sha256: string; bytes: number }>;
}

export interface ExportBundle {
  exportId: string;
  manifest: ExportManifest;
  files: ExportFile[];
}

export const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

function file(name: string, contentType: string, content: string): ExportFile {
  return { name, contentType, content, sha256: sha256(content), bytes: Buffer.byteLength(content, 'utf8') };
}

const shanghaiFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** 2026-05-01 10:00:00, Beijing time. */
export function shanghaiTime(d: Date): string {
  const p = Object.fromEntries(shanghaiFmt.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

const KIND_ZH: Record<string, string> = {
  message: '消息',
  'dlp.blocked': 'DLP 拦截（未发送）',
  'dlp.term.set': 'DLP 词条设置',
  'dlp.term.removed': 'DLP 词条删除',
  'compliance.search': '合规检索',
  'compliance.export': '合规导出',
  'compliance.verify': '存档校验',
  'archive.purge': '存档清理',
  'legal-hold.placed': '设置法律保全',
  'legal-hold.released': '解除法律保全',
};

const ROLE_ZH: Record<string, string> = { client: '客户', broker: '经纪人', manager: '团队经理', research: '研究员', compliance: '合规', admin: '管理员' };

function who(id: string, people: Record<string, PersonRef>): string {
  const p = people[id];
  return p ? `${p.displayName}（${p.login}）` : id;
}

function readable(rows: ArchiveRow[], people: Record<string, PersonRef>, m: Omit<ExportManifest, 'files'>): string {
  const by = m.exportedBy as Partial<PersonRef>;
  const f = m.filter as { person?: Partial<PersonRef> & { id: string }; conversationId?: string; from?: string; to?: string; q?: string };
  const cond = [
    f.person ? `人员 ${f.person.displayName ? `${f.person.displayName}（${f.person.login}）` : f.person.id}` : null,
    f.conversationId ? `会话 ${f.conversationId}` : null,
    f.from ? `起始 ${shanghaiTime(new Date(f.from))}` : null,
    f.to ? `截止（不含） ${shanghaiTime(new Date(f.to))}` : null,
    f.q ? `关键词 “${f.q}”` : null,
  ].filter(Boolean);
  const lines = [
    '桥证券 · 合规存档导出',
    `导出编号：${m.exportId}`,
    `导出人：${by.displayName ? `${by.displayName}（${by.login}，${ROLE_ZH[by.role ?? ''] ?? by.role}）` : by.id}`,
    `导出时间：${shanghaiTime(new Date(m.exportedAt))}（北京时间）`,
    `筛选条件：${cond.length ? cond.join('；') : '无（全部记录）'}`,
    `记录数：${m.recordCount}${m.recordCount ? `（序号 ${m.firstSeq} 至 ${m.lastSeq}）` : ''}`,
    '校验：每条记录的哈希 = sha256(前序哈希 ‖ 换行 ‖ 记录的规范 JSON)；各文件的 sha256 见 manifest.json。',
    '',
  ];
  for (const r of rows) {
    const cls = RETENTION_CLASSES[r.retentionClass as keyof typeof RETENTION_CLASSES];
    lines.push('────────────────────────────────────────');
    lines.push(`[#${r.seq}] ${shanghaiTime(r.recordedAt)}  ${KIND_ZH[r.kind] ?? r.kind}`);
    lines.push(`  操作人：${who(r.actorId, people)}`);
    if (r.subjects.length) lines.push(`  相关人员：${r.subjects.map((s) => who(s, people)).join('、')}`);
    if (r.channel) lines.push(`  频道：${r.channel}`);
    if (r.conversationId) lines.push(`  会话：${r.conversationId}`);
    const dlp = (r.body as { dlp?: { block?: string[]; warn?: string[]; log?: string[] } } | null)?.dlp;
    if (dlp) {
      const parts = [
        dlp.block?.length ? `拦截 ${dlp.block.join('、')}` : null,
        dlp.warn?.length ? `警示 ${dlp.warn.join('、')}` : null,
        dlp.log?.length ? `记录 ${dlp.log.join('、')}` : null,
      ].filter(Boolean);
      if (parts.length) lines.push(`  DLP：${parts.join('；')}`);
    }
    const content = r.text || JSON.stringify(r.body);
    lines.push('  内容：');
    for (const l of content.split('\n')) lines.push(`    ${l}`);
    lines.push(`  保存类别：${cls ? cls.zh : r.retentionClass}（保存至 ${shanghaiTime(r.retainUntil).slice(0, 10)}）`);
    lines.push(`  哈希：${r.hash}`);
    lines.push(`  前序哈希：${r.prevHash}`);
  }
  lines.push('');
  return lines.join('\n');
}

/** Builds the export bundle; refuses (QIAO_EXPORT_TOO_LARGE) rather than truncating silently. */
export async function buildExport(db: Db, f: ResolvedFilter, exporter: PersonRef | { id: string }, opts: { maxRecords: number; now?: Date }): Promise<ExportBundle> {
  const c = conditions(f);
  const rows = await db
    .select()
    .from(archiveRecords)
    .where(c.length ? and(...c) : undefined)
    .orderBy(asc(archiveRecords.seq))
    .limit(opts.maxRecords + 1);
  if (rows.length > opts.maxRecords) {
    throw new QiaoError('QIAO_EXPORT_TOO_LARGE', `More than ${opts.maxRecords} archive records match; narrow the filter (person, conversation or dates)`, { maxRecords: opts.maxRecords });
  }
  const people = await peopleOf(db, rows);
  const first = rows[0];
  const last = rows[rows.length - 1];
  const head: Omit<ExportManifest, 'files'> = {
    format: 'qiao-archive-export/1',
    exportId: randomUUID(),
    exportedAt: (opts.now ?? new Date()).toISOString(),
    exportedBy: exporter,
    filter: describeFilter(f),
    recordCount: rows.length,
    firstSeq: first?.seq ?? null,
    lastSeq: last?.seq ?? null,
    firstHash: first?.hash ?? null,
    lastHash: last?.hash ?? null,
    timeZone: 'Asia/Shanghai',
    hashRule: 'hash = sha256(prevHash + "\\n" + canonical JSON of {seq, recordedAt, kind, actorId, subjects, conversationId, channel, retentionClass, retainUntil, body, text} with keys sorted)',
  };
  const jsonl = file('records.jsonl', 'application/x-ndjson; charset=utf-8', rows.map((r) => JSON.stringify(recordJson(r)) + '\n').join(''));
  const txt = file('records.txt', 'text/plain; charset=utf-8', readable(rows, people, head));
  const manifest: ExportManifest = { ...head, files: [jsonl, txt].map((x) => ({ name: x.name, sha256: x.sha256, bytes: x.bytes })) };
  const mf = file('manifest.json', 'application/json; charset=utf-8', JSON.stringify(manifest, null, 2) + '\n');
  return { exportId: head.exportId, manifest, files: [jsonl, txt, mf] };
}
