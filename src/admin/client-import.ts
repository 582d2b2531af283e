/**
 * Bulk import of clients with their primary broker from a CSV file (a firm moving from its old CRM).
 * docs/accounts.md "Bulk import". Steps 1–3 and the checks of each row on its own are in csv-rows.ts.
 *
 * 1. Bytes → text: UTF-8 (with or without BOM) when the bytes are valid UTF-8, otherwise GB18030 (a
 *    superset of GBK and GB2312, what Excel saves as "CSV" on a Chinese Windows); anything else
 *    (replacement characters, broken sequences, control bytes, UTF-16, an .xlsx workbook) is refused
 *    with QIAO_CSV_ENCODING. A `charset` on the Content-Type (utf-8, gbk, gb2312, gb18030) is obeyed.
 * 2. Text → records with csv-parse (quoted fields, commas and line breaks inside quotes, CRLF).
 * 3. Header → columns, Chinese or English names (QIAO_CSV_COLUMNS lists what is expected).
 * 4. Every row is checked on its own and against the others and the database; the report lists each
 *    rejected row with every problem (field, stable code, message).
 * 5. All or nothing per file: one rejected row and nothing is written (QIAO_CSV_ROWS_REJECTED with the
 *    report); otherwise every client, its primary-broker assignment, their audit events and archive
 *    records are written in ONE transaction, the database checks being repeated inside it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { hashPassword } from '../auth/password.ts';
import type { Principal } from '../auth/principal.ts';
import { ERRORS, QiaoError } from '../errors/codes.ts';
import { adminUserView } from '../store/admin-repo.ts';
import { checkRow, decodeCsv, err, LOGIN_RE, parseCsv, type ClientInput, type ImportResult, type ReportRow } from './csv-rows.ts';
import type { ArchiveInput, ArchiveRepo, Executor } from '../store/archive-repo.ts';
import type { Db } from '../store/db.ts';
import { auditLog, brokerClients, users } from '../store/schema/index.ts';

interface Broker {
  id: string;
  login: string;
  branchId: string | null;
}

export interface ImportOptions {
  dryRun: boolean;
  charset?: string;
  ip?: string;
}

/** Thrown inside the transaction when a database check fails there (a race): rolls everything back. */
class Rejected extends Error {
  constructor(readonly report: ReportRow[]) {
    super('rows rejected');
  }
}

export class ClientImporter {
  constructor(
    private readonly db: Db,
    private readonly archive: ArchiveRepo,
  ) {}

  /**
   * Validates the file and, unless `dryRun`, imports it. Throws a QiaoError for a file-level problem
   * and QIAO_CSV_ROWS_REJECTED (details: total, rejected, report of the rejected rows) when any row is
   * rejected; nothing is written then.
   */
  async run(actor: Principal, bytes: Buffer, opts: ImportOptions): Promise<ImportResult> {
    const { text, encoding } = decodeCsv(bytes, opts.charset);
    const { header, rows } = parseCsv(text);
    const checked = rows.map((r) => checkRow(header, r.row, r.cells));
    const reports = checked.map((c) => c.report);
    const inputs = checked.map((c) => c.input);

    // Within the file: a login (case-insensitive) once.
    const firstRow = new Map<string, number>();
    for (const r of reports) {
      if (!r.login) continue;
      const k = r.login.toLowerCase();
      const first = firstRow.get(k);
      if (first === undefined) firstRow.set(k, r.row);
      else r.errors.push(err('login', 'QIAO_CSV_LOGIN_DUPLICATE', `${ERRORS.QIAO_CSV_LOGIN_DUPLICATE.message} (row ${first})`));
    }
    await this.checkDatabase(this.db, actor, reports);
    const rejected = () => reports.filter((r) => r.errors.length);
    if (rejected().length) throw this.rejection(reports.length, rejected());

    const result: ImportResult = { dryRun: opts.dryRun, encoding, total: reports.length, created: 0, report: reports };
    if (opts.dryRun) return result;

    // Hashes before the transaction (scrypt is slow); rows without a password get a random one nobody knows.
    const hashes = await mapLimit(inputs as ClientInput[], 4, (c) => hashPassword(c.password ?? randomBytes(24).toString('base64url')));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    try {
      await this.db.transaction(async (tx) => {
        // The database checks again, inside the transaction: a login taken or a broker disabled since.
        const fresh = await this.checkDatabase(tx, actor, reports);
        if (rejected().length) throw new Rejected(rejected());
        await this.write(tx, actor, inputs as ClientInput[], hashes, fresh, reports, { sha256, encoding, bytes: bytes.length, ip: opts.ip });
      });
    } catch (e) {
      if (e instanceof Rejected) throw this.rejection(reports.length, e.report);
      // A login inserted by someone else between the check and the insert.
      if (hasCode(e, '23505')) throw new QiaoError('QIAO_LOGIN_TAKEN', 'A login of this file was created meanwhile; check the file again');
      throw e;
    }
    result.created = reports.length;
    return result;
  }

  private rejection(total: number, report: ReportRow[]): QiaoError {
    return new QiaoError('QIAO_CSV_ROWS_REJECTED', `${ERRORS.QIAO_CSV_ROWS_REJECTED.message} (${report.length} of ${total} rows rejected)`, { total, rejected: report.length, report });
  }

  /** Logins already in use and brokers that are not active brokers of the firm: errors added to the report rows. */
  private async checkDatabase(ex: Executor, actor: Principal, reports: ReportRow[]): Promise<Map<string, Broker>> {
    // A previous pass's database errors are replaced, not doubled.
    for (const r of reports) r.errors = r.errors.filter((e) => e.code !== 'QIAO_LOGIN_TAKEN' && e.code !== 'QIAO_CSV_BROKER_INVALID');
    const logins = [...new Set(reports.map((r) => r.login.toLowerCase()).filter((l) => LOGIN_RE.test(l)))];
    const taken = new Set<string>();
    for (const part of chunks(logins, 1000)) {
      const found = await ex.select({ login: users.login }).from(users).where(inArray(sql`lower(${users.login})`, part));
      for (const f of found) taken.add(f.login.toLowerCase());
    }
    const wanted = [...new Set(reports.map((r) => r.brokerLogin.toLowerCase()).filter(Boolean))];
    const brokers = new Map<string, Broker>();
    for (const part of chunks(wanted, 1000)) {
      const found = await ex
        .select({ id: users.id, login: users.login, branchId: users.branchId })
        .from(users)
        .where(and(inArray(sql`lower(${users.login})`, part), eq(users.role, 'broker'), eq(users.active, true), eq(users.firmId, actor.firmId!)));
      for (const b of found) brokers.set(b.login.toLowerCase(), b);
    }
    for (const r of reports) {
      if (r.login && taken.has(r.login.toLowerCase())) r.errors.push(err('login', 'QIAO_LOGIN_TAKEN'));
      const b = r.brokerLogin;
      if (b && !brokers.has(b.toLowerCase())) r.errors.push(err('brokerLogin', 'QIAO_CSV_BROKER_INVALID', `${ERRORS.QIAO_CSV_BROKER_INVALID.message}: ${b}`));
    }
    return brokers;
  }

  private async write(
    tx: Executor,
    actor: Principal,
    inputs: ClientInput[],
    hashes: string[],
    brokers: Map<string, Broker>,
    reports: ReportRow[],
    file: { sha256: string; encoding: string; bytes: number; ip?: string },
  ): Promise<void> {
    const reportOf = new Map(reports.map((r) => [r.row, r]));
    const archive: ArchiveInput[] = [];
    const audit: Array<typeof auditLog.$inferInsert> = [];
    for (let start = 0; start < inputs.length; start += 500) {
      const part = inputs.slice(start, start + 500);
      const created = await tx
        .insert(users)
        .values(
          part.map((c, i) => ({
            firmId: actor.firmId!,
            login: c.login,
            passwordHash: hashes[start + i],
            displayName: c.displayName,
            email: c.email,
            phone: c.phone,
            role: 'client' as const,
            // A client belongs to its primary broker's branch (as in the demo firm).
            branchId: brokers.get(c.brokerLogin.toLowerCase())!.branchId,
            teamId: null,
            tier: c.tier,
            riskLevel: c.riskLevel,
            riskAssessedOn: c.riskAssessedOn,
            riskExpiresOn: c.riskExpiresOn,
            professionalInvestor: c.professionalInvestor,
          })),
        )
        .returning();
      const byLogin = new Map(created.map((u) => [u.login, u]));
      const links: Array<typeof brokerClients.$inferInsert> = [];
      for (const c of part) {
        const u = byLogin.get(c.login)!;
        const broker = brokers.get(c.brokerLogin.toLowerCase())!;
        const report = reportOf.get(c.row)!;
        report.clientId = u.id;
        links.push({ brokerId: broker.id, clientId: u.id, relation: 'primary' });
        // The same records as POST /api/admin/users and POST /api/clients/:id/assign, with the import named.
        const after = adminUserView(u);
        const via = { importSha256: file.sha256, row: c.row };
        audit.push({ actorId: actor.id, action: 'user.create', target: u.id, outcome: 'ok', detail: { before: null, after, ...via }, ip: file.ip ?? null });
        archive.push({ kind: 'user.create', actorId: actor.id, subjects: [u.id], retentionClass: 'suitability', body: { target: u.id, before: null, after, ...via }, text: 'user.create' });
        const detail = { clientId: u.id, brokerId: broker.id, previousPrimary: null, before: null, after: 'primary' };
        audit.push({ actorId: actor.id, action: 'assignment.assign', target: u.id, outcome: 'ok', detail: { ...detail, ...via } });
        archive.push({ kind: 'assignment.assign', actorId: actor.id, subjects: [u.id, broker.id], retentionClass: 'client-communications', body: { op: 'assign', ...detail, ...via }, text: 'assignment assign' });
      }
      await tx.insert(brokerClients).values(links);
    }
    const summary = {
      file: { sha256: file.sha256, encoding: file.encoding, bytes: file.bytes },
      created: inputs.length,
      passwordsToSet: reports.filter((r) => r.passwordGenerated).map((r) => r.login),
    };
    audit.push({ actorId: actor.id, action: 'client.import', target: file.sha256, outcome: 'ok', detail: summary, ip: file.ip ?? null });
    archive.push({ kind: 'client.import', actorId: actor.id, subjects: reports.map((r) => r.clientId!), retentionClass: 'compliance-activity', body: summary, text: 'client.import' });
    for (const part of chunks(audit, 1000)) await tx.insert(auditLog).values(part);
    // Archived last: the archive's lock is held only until commit.
    for (const part of chunks(archive, 1000)) await this.archive.appendMany(part, tx);
  }
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

async function mapLimit<T, R>(xs: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(xs.length);
  let next = 0;
  const worker = async () => {
    while (next < xs.length) {
      const i = next++;
      out[i] = await fn(xs[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, xs.length) }, worker));
  return out;
}

function hasCode(e: unknown, code: string): boolean {
  for (let cur = e as { code?: unknown; cause?: unknown } | undefined, i = 0; cur && i < 4; cur = cur.cause as typeof cur, i++) if (cur.code === code) return true;
  return false;
}
