/**
 * Reading a client CSV file, with no database: bytes → text (UTF-8, or GB18030 as Excel saves it on a
 * Chinese Windows; anything else is QIAO_CSV_ENCODING), text → records (csv-parse), header → columns
 * (Chinese or English names), and the checks of each row on its own. client-import.ts adds the checks
 * against the other rows and the database, and writes.
 */
import { parseCnMobile } from '../domain/phone.ts';
import { parse } from 'csv-parse/sync';
import iconv from 'iconv-lite';
import { passwordWeaknesses } from '../auth/password-policy.ts';
import { ERRORS, QiaoError, type ErrorCode } from '../errors/codes.ts';
import { COLUMNS, type Field } from './import-columns.ts';

/** Largest file accepted (bytes). */
export const IMPORT_MAX_BYTES = 5 * 1024 * 1024;
/** Most client rows in one file (each needs a password hash; larger migrations go in several files). */
export const IMPORT_MAX_ROWS = 2000;

// -------------------------------------------------------------------------------------------------
// Columns (src/admin/import-columns.ts, shared with the web client's template)

const norm = (h: string) => h.replace(/^\uFEFF/, '').trim().replace(/\s+/g, '').toLowerCase();
const HEADER_NAMES = new Map<string, Field>();
for (const c of COLUMNS) for (const n of [c.zh, c.field, ...c.aliases]) HEADER_NAMES.set(norm(n), c.field);

// -------------------------------------------------------------------------------------------------
// Report

export interface RowError {
  field: Field | '*';
  code: ErrorCode;
  message: string;
}
export interface ReportRow {
  /** Row number as a spreadsheet shows it: the header is row 1, the first client row is row 2. */
  row: number;
  login: string;
  /** The primary broker's login as written in the file. */
  brokerLogin: string;
  errors: RowError[];
  /** The new client's id (an import that was written), else null. */
  clientId: string | null;
  /** No initial password in the file: a random one was set, the admin must set a password. */
  passwordGenerated: boolean;
}
export interface ImportResult {
  dryRun: boolean;
  encoding: 'utf-8' | 'gb18030';
  total: number;
  created: number;
  report: ReportRow[];
}

export const err = (field: RowError['field'], code: ErrorCode, message?: string): RowError => ({ field, code, message: message ?? ERRORS[code].message });

// -------------------------------------------------------------------------------------------------
// Decoding

const UTF8 = new TextDecoder('utf-8', { fatal: true });
// C0 controls other than tab, LF and CR, and DEL: not in a text file.
// iconv-lite turns some broken four-byte GB18030 sequences into lone surrogates.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/** Bytes → text, or QIAO_CSV_ENCODING. `charset`: the Content-Type's, if any. */
export function decodeCsv(bytes: Buffer, charset?: string): { text: string; encoding: 'utf-8' | 'gb18030' } {
  const refuse = (why: string) => new QiaoError('QIAO_CSV_ENCODING', `${ERRORS.QIAO_CSV_ENCODING.message} (${why})`);
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) throw refuse('UTF-16 text');
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) throw refuse('an Excel workbook or other zip file, not CSV');
  const cs = charset?.trim().toLowerCase();
  let text: string;
  let encoding: 'utf-8' | 'gb18030';
  const asUtf8 = (): string | null => {
    try {
      return UTF8.decode(bytes); // strips a BOM
    } catch {
      return null;
    }
  };
  if (cs === 'utf-8' || cs === 'utf8') {
    const t = asUtf8();
    if (t === null) throw refuse('declared UTF-8, but the bytes are not valid UTF-8');
    [text, encoding] = [t, 'utf-8'];
  } else if (cs && !['gbk', 'gb2312', 'gb18030', 'cp936'].includes(cs)) {
    throw refuse(`charset ${cs} is not accepted`);
  } else {
    const t = cs ? null : asUtf8();
    if (t !== null) [text, encoding] = [t, 'utf-8'];
    else {
      text = iconv.decode(bytes, 'gb18030', { stripBOM: true });
      encoding = 'gb18030';
      if (text.includes('\uFFFD') || LONE_SURROGATE.test(text)) throw refuse('bytes that are not valid GB18030 either');
    }
  }
  if (CONTROL.test(text)) throw refuse('control bytes: not a text file');
  return { text, encoding };
}

// -------------------------------------------------------------------------------------------------
// Parsing

interface Parsed {
  /** Columns in file order (null: a blank header cell, allowed only if the whole column is empty). */
  header: Field[];
  rows: Array<{ row: number; cells: string[] }>;
}

export function parseCsv(text: string): Parsed {
  let records: string[][];
  try {
    records = parse(text, { relax_column_count: true, skip_empty_lines: false, bom: true }) as string[][];
  } catch (e) {
    const c = e as { code?: string; lines?: number; message?: string };
    throw new QiaoError('QIAO_CSV_MALFORMED', `${ERRORS.QIAO_CSV_MALFORMED.message}: ${c.message ?? 'parse error'}`, { line: c.lines ?? null, reason: c.code ?? null });
  }
  const blank = (r: string[]) => r.every((c) => c.trim() === '');
  // Leading blank lines before the header are tolerated.
  let h = 0;
  while (h < records.length && blank(records[h])) h++;
  if (h >= records.length) throw new QiaoError('QIAO_CSV_EMPTY');
  const rawHeader = records[h];
  // Trailing empty header cells (a spreadsheet's stray commas) are dropped.
  let width = rawHeader.length;
  while (width > 0 && rawHeader[width - 1].trim() === '') width--;
  const names = rawHeader.slice(0, width);
  const header: Field[] = [];
  const unknown: string[] = [];
  const repeated: string[] = [];
  for (const n of names) {
    const f = HEADER_NAMES.get(norm(n));
    if (!f) unknown.push(n.trim() || '(empty)');
    else if (header.includes(f)) repeated.push(n.trim());
    else header.push(f);
  }
  const missing = COLUMNS.filter((c) => c.required && !header.includes(c.field)).map((c) => c.zh);
  if (unknown.length || repeated.length || missing.length) {
    const parts = [
      unknown.length ? `unknown: ${unknown.join(', ')}` : '',
      repeated.length ? `repeated: ${repeated.join(', ')}` : '',
      missing.length ? `missing: ${missing.join(', ')}` : '',
    ].filter(Boolean);
    throw new QiaoError('QIAO_CSV_COLUMNS', `${ERRORS.QIAO_CSV_COLUMNS.message} (${parts.join('; ')})`, {
      unknown,
      repeated,
      missing,
      expected: COLUMNS.map((c) => ({ zh: c.zh, en: c.field, required: c.required })),
    });
  }
  const rows: Parsed['rows'] = [];
  for (let i = h + 1; i < records.length; i++) {
    if (blank(records[i])) continue;
    // Row numbers as a spreadsheet counts them: one per record (a quoted line break stays in its row).
    rows.push({ row: i + 1, cells: records[i] });
  }
  if (!rows.length) throw new QiaoError('QIAO_CSV_EMPTY');
  if (rows.length > IMPORT_MAX_ROWS)
    throw new QiaoError('QIAO_CSV_TOO_MANY_ROWS', `${ERRORS.QIAO_CSV_TOO_MANY_ROWS.message} (at most ${IMPORT_MAX_ROWS} rows; this file has ${rows.length})`, { max: IMPORT_MAX_ROWS, rows: rows.length });
  return { header, rows };
}

// -------------------------------------------------------------------------------------------------
// Row values

export interface ClientInput {
  row: number;
  login: string;
  displayName: string;
  tier: 'general' | 'hnw' | 'institutional';
  riskLevel: 'C1' | 'C2' | 'C3' | 'C4' | 'C5' | null;
  riskAssessedOn: string | null;
  riskExpiresOn: string | null;
  professionalInvestor: boolean;
  brokerLogin: string;
  email: string | null;
  phone: string | null;
  password: string | null;
}

export const LOGIN_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const TIERS: Record<string, ClientInput['tier']> = {
  普通: 'general',
  普通投资者: 'general',
  普通客户: 'general',
  general: 'general',
  高净值: 'hnw',
  高净值客户: 'hnw',
  hnw: 'hnw',
  机构: 'institutional',
  机构投资者: 'institutional',
  机构客户: 'institutional',
  institutional: 'institutional',
};
const YES = new Set(['是', 'y', 'yes', 'true', '1']);
const NO = new Set(['否', 'n', 'no', 'false', '0']);

/** Today in Asia/Shanghai, YYYY-MM-DD. */
const todayShanghai = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);

/** 2025-03-01, 2025/3/1, 2025.3.1 or 20250301 → 2025-03-01; null when not a real date. */
export function parseDate(v: string): string | null {
  const m = /^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$/.exec(v) ?? /^(\d{4})(\d{2})(\d{2})$/.exec(v);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const dt = new Date(Date.UTC(y, mo - 1, d));
  if (y < 1990 || dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return null;
  return dt.toISOString().slice(0, 10);
}

/** A mainland China mobile number, with or without +86 / 86 and separators → +86 and 11 digits. */
/** The one phone rule (src/domain/phone.ts); brackets are allowed here as spreadsheets write them. */
export function parsePhone(v: string): string | null {
  return parseCnMobile(v.replace(/[()]/g, ''));
}

/** Checks of one row on its own (no database). */
export function checkRow(header: Field[], row: number, cells: string[]): { input: ClientInput | null; report: ReportRow } {
  const v = (f: Field): string => {
    const i = header.indexOf(f);
    return i < 0 ? '' : (cells[i] ?? '').trim();
  };
  const errors: RowError[] = [];
  const login = v('login');
  const report: ReportRow = { row, login, brokerLogin: v('brokerLogin'), errors, clientId: null, passwordGenerated: false };
  if (cells.length > header.length && cells.slice(header.length).some((c) => c.trim() !== ''))
    errors.push(err('*', 'QIAO_CSV_ROW_COLUMNS', `${ERRORS.QIAO_CSV_ROW_COLUMNS.message} (${cells.length} fields, header has ${header.length})`));

  if (!login) errors.push(err('login', 'QIAO_CSV_VALUE_MISSING'));
  else if (!LOGIN_RE.test(login)) errors.push(err('login', 'QIAO_CSV_VALUE_INVALID', 'Login: 3–64 letters, digits, ".", "_" or "-", starting with a letter or digit'));

  const displayName = v('displayName');
  if (!displayName) errors.push(err('displayName', 'QIAO_CSV_VALUE_MISSING'));
  else if ([...displayName].length > 100) errors.push(err('displayName', 'QIAO_CSV_VALUE_INVALID', 'Name: at most 100 characters'));

  const tierRaw = v('tier');
  const tier = TIERS[tierRaw.toLowerCase()];
  if (!tierRaw) errors.push(err('tier', 'QIAO_CSV_VALUE_MISSING'));
  else if (!tier) errors.push(err('tier', 'QIAO_CSV_VALUE_INVALID', 'Tier: 普通 / 高净值 / 机构 (general / hnw / institutional)'));

  const riskRaw = v('riskLevel').toUpperCase();
  const riskLevel = /^C[1-5]$/.test(riskRaw) ? (riskRaw as ClientInput['riskLevel']) : null;
  if (riskRaw && !riskLevel) errors.push(err('riskLevel', 'QIAO_CSV_VALUE_INVALID', 'Risk level: C1 to C5'));

  const dateOf = (f: 'riskAssessedOn' | 'riskExpiresOn'): string | null | undefined => {
    const raw = v(f);
    if (!raw) return null;
    const d = parseDate(raw);
    if (!d) errors.push(err(f, 'QIAO_CSV_VALUE_INVALID', 'Date: YYYY-MM-DD (2025-03-01, 2025/3/1 or 20250301)'));
    return d ?? undefined;
  };
  const riskAssessedOn = dateOf('riskAssessedOn');
  const riskExpiresOn = dateOf('riskExpiresOn');
  if (riskAssessedOn && riskAssessedOn > todayShanghai()) errors.push(err('riskAssessedOn', 'QIAO_CSV_VALUE_INVALID', 'The assessment date is in the future'));
  // A risk level is recorded with the date of its assessment; a date or expiry needs a level.
  if (riskLevel && riskAssessedOn === null) errors.push(err('riskAssessedOn', 'QIAO_CSV_VALUE_MISSING', 'A risk level needs the date of its assessment'));
  if (!riskRaw && (riskAssessedOn || riskExpiresOn)) errors.push(err('riskLevel', 'QIAO_CSV_VALUE_MISSING', 'An assessment date or expiry needs a risk level'));
  if (riskAssessedOn && riskExpiresOn && riskExpiresOn <= riskAssessedOn) errors.push(err('riskExpiresOn', 'QIAO_CSV_DATE_ORDER'));

  const proRaw = v('professionalInvestor').toLowerCase();
  let professionalInvestor = false;
  if (YES.has(proRaw)) professionalInvestor = true;
  else if (proRaw && !NO.has(proRaw)) errors.push(err('professionalInvestor', 'QIAO_CSV_VALUE_INVALID', 'Professional investor: 是 / 否 (yes / no), or empty for no'));

  const brokerLogin = v('brokerLogin');
  if (!brokerLogin) errors.push(err('brokerLogin', 'QIAO_CSV_VALUE_MISSING'));

  const emailRaw = v('email');
  if (emailRaw && (emailRaw.length > 254 || !EMAIL_RE.test(emailRaw))) errors.push(err('email', 'QIAO_CSV_VALUE_INVALID', 'Email: an address like name@example.com'));

  const phoneRaw = v('phone');
  const phone = phoneRaw ? parsePhone(phoneRaw) : null;
  if (phoneRaw && !phone) errors.push(err('phone', 'QIAO_CSV_VALUE_INVALID', 'Phone: a mainland China mobile number, 11 digits starting with 1 (optionally +86)'));

  // Passwords are kept exactly as written (spaces too), as the login form sends them.
  const pi = header.indexOf('password');
  const password = pi < 0 ? '' : (cells[pi] ?? '');
  if (password.trim()) {
    const reasons = passwordWeaknesses(password, login);
    if (reasons.length) errors.push(err('password', 'QIAO_PASSWORD_WEAK', `${ERRORS.QIAO_PASSWORD_WEAK.message} (${reasons.join(', ')})`));
  }
  report.passwordGenerated = !password.trim();

  if (errors.length) return { input: null, report };
  return {
    input: {
      row,
      login,
      displayName,
      tier: tier!,
      riskLevel,
      riskAssessedOn: riskAssessedOn ?? null,
      riskExpiresOn: riskExpiresOn ?? null,
      professionalInvestor,
      brokerLogin,
      email: emailRaw || null,
      phone,
      password: password.trim() ? password : null,
    },
    report,
  };
}

// -------------------------------------------------------------------------------------------------
// The import
