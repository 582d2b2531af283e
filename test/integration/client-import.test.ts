/**
 * Bulk client import from CSV (docs/accounts.md "Bulk import"): UTF-8 and GB18030 files import the
 * same clients with their primary brokers, in one transaction with their audit and archive records;
 * all or nothing per file (one bad row: nothing written, the row reported with its reason); wrong
 * columns, bad encoding, malformed CSV; dry run writes nothing; duplicate logins within the file and
 * against the database; only admins.
 */
import { and, eq, sql } from 'drizzle-orm';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveRecords, auditLog, brokerClients, users } from '../../src/store/schema/index.ts';
import { startEmbeddedApp, type TestApp } from '../helpers/app.ts';

const STRONG = 'Granite-Harbor-7731';
const HEADER = '登录名,姓名,客户等级,风险等级,测评日期,测评到期,专业投资者,经纪人,邮箱,手机,初始密码';

/** A file of client rows after the Chinese header, CRLF line ends. */
const csv = (...rows: string[]) => [HEADER, ...rows].join('\r\n') + '\r\n';

describe('bulk client import (CSV)', () => {
  let t: TestApp;
  const tokens = new Map<string, string>();
  const tok = (l: string) => tokens.get(l)!;

  beforeAll(async () => {
    t = await startEmbeddedApp();
    for (const l of ['admin', 'broker1', 'broker2', 'manager1', 'compliance1', 'client1']) tokens.set(l, (await t.login(l)).token);
  });
  afterAll(async () => {
    await t?.close();
  });

  const db = () => t.app.qiao.db.db;
  const upload = async (bytes: Buffer | string, opts: { token?: string; dryRun?: boolean; contentType?: string } = {}) => {
    const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'text/csv' };
    const token = opts.token === undefined ? tok('admin') : opts.token;
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${t.baseUrl}/api/admin/import/clients${opts.dryRun ? '?dryRun=true' : ''}`, { method: 'POST', headers, body: new Uint8Array(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const userCount = async () => (await db().select({ n: sql<number>`count(*)::int` }).from(users))[0].n;
  const archiveCount = async () => (await db().select({ n: sql<number>`count(*)::int` }).from(archiveRecords))[0].n;
  const userByLogin = async (login: string) => (await db().select().from(users).where(eq(users.login, login)))[0];
  const expectError = (r: { status: number; body: any }, status: number, code: string) => expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });

  const goodRows = (p: string) => [
    `${p}.li,李雷,普通,C3,2025-03-01,,否,broker1,${p}.li@example.com,138 1234 5678,${STRONG}`,
    // A quoted name with a comma and a line break inside, a slash date, an English tier, +86.
    `${p}.hx,"华夏资产管理有限公司,
北京分部",机构投资者,c5,2025/1/5,2027/1/4,是,broker2,,+86 139-0000-1111,`,
    `${p}.han,韩梅梅,高净值,,,,,BROKER1,,,`,
  ];

  it('a UTF-8 file (with BOM) imports every client with its primary broker in one go; the given password logs in', async () => {
    const archivedBefore = await archiveCount();
    const r = await upload(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(csv(...goodRows('u8')), 'utf8')]));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ dryRun: false, encoding: 'utf-8', total: 3, created: 3 });
    expect(r.body.report.map((x: any) => [x.row, x.login, x.errors.length, x.passwordGenerated])).toEqual([
      [2, 'u8.li', 0, false],
      [3, 'u8.hx', 0, true],
      [4, 'u8.han', 0, true],
    ]);
    expect(r.body.report.every((x: any) => typeof x.clientId === 'string')).toBe(true);

    // As the client list shows them (admin: the firm; broker1: its own clients).
    const list = await t.request('GET', '/api/clients?q=u8.', { token: tok('admin') });
    expect(list.status).toBe(200);
    const byLogin = new Map(list.body.clients.map((c: any) => [c.login, c]));
    expect(byLogin.get('u8.li')).toMatchObject({ displayName: '李雷', tier: 'general', riskLevel: 'C3', riskAssessedOn: '2025-03-01', professionalInvestor: false, active: true, primaryBroker: { displayName: '王经纪' } });
    expect(byLogin.get('u8.hx')).toMatchObject({ displayName: '华夏资产管理有限公司,\n北京分部', tier: 'institutional', riskLevel: 'C5', riskAssessedOn: '2025-01-05', riskExpiresOn: '2027-01-04', professionalInvestor: true, primaryBroker: { displayName: '李经纪' } });
    expect(byLogin.get('u8.han')).toMatchObject({ tier: 'hnw', riskLevel: null, primaryBroker: { displayName: '王经纪' } });
    const mine = await t.request('GET', '/api/clients?q=u8.', { token: tok('broker1') });
    expect(mine.body.clients.map((c: any) => c.login).sort()).toEqual(['u8.han', 'u8.li']);

    const li = await userByLogin('u8.li');
    expect(li).toMatchObject({ role: 'client', phone: '+8613812345678', email: 'u8.li@example.com' });
    const broker1 = (await t.request('GET', '/api/me', { token: tok('broker1') })).body;
    expect(li.branchId).toBe(broker1.branchId);
    expect((await userByLogin('u8.hx')).phone).toBe('+8613900001111');
    // The given password works; a generated one is known to nobody.
    const login = await t.request('POST', '/api/auth/login', { json: { login: 'u8.li', password: STRONG } });
    expect(login.status).toBe(200);
    const me = await t.request('GET', '/api/me', { token: login.body.token });
    expect(me.body).toMatchObject({ login: 'u8.li', role: 'client', tier: 'general' });

    // Records: as POST /api/admin/users and assign would write them, plus one for the file.
    expect((await archiveCount()) - archivedBefore).toBe(3 + 3 + 1);
    const created = await db().select().from(auditLog).where(and(eq(auditLog.action, 'user.create'), eq(auditLog.target, li.id)));
    expect(created).toHaveLength(1);
    expect(JSON.stringify(created[0].detail)).not.toContain(STRONG);
    const assigned = await db().select().from(auditLog).where(and(eq(auditLog.action, 'assignment.assign'), eq(auditLog.target, li.id)));
    expect(assigned[0].detail).toMatchObject({ brokerId: broker1.id, after: 'primary' });
    const [summary] = await db().select().from(archiveRecords).where(eq(archiveRecords.kind, 'client.import'));
    expect(summary.body).toMatchObject({ created: 3, passwordsToSet: ['u8.hx', 'u8.han'], file: { encoding: 'utf-8' } });
    expect(summary.retentionClass).toBe('compliance-activity');
  });

  it('the same content encoded in GB18030 imports identically', async () => {
    const text = csv(...goodRows('gb'));
    const bytes = iconv.encode(text, 'gb18030');
    expect(bytes.equals(Buffer.from(text, 'utf8'))).toBe(false);
    const r = await upload(bytes);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ encoding: 'gb18030', total: 3, created: 3 });
    const pick = (u: any) => ({ displayName: u.displayName, tier: u.tier, riskLevel: u.riskLevel, riskAssessedOn: u.riskAssessedOn, riskExpiresOn: u.riskExpiresOn, professionalInvestor: u.professionalInvestor, branchId: u.branchId, phone: u.phone });
    for (const s of ['li', 'hx', 'han']) expect(pick(await userByLogin(`gb.${s}`))).toEqual(pick(await userByLogin(`u8.${s}`)));
    const links = await db()
      .select({ login: users.login, broker: brokerClients.brokerId })
      .from(brokerClients)
      .innerJoin(users, eq(users.id, brokerClients.clientId))
      .where(sql`${users.login} in ('gb.li', 'gb.hx', 'gb.han')`);
    expect(links).toHaveLength(3);
    expect((await t.request('POST', '/api/auth/login', { json: { login: 'gb.li', password: STRONG } })).status).toBe(200);
    // A declared charset is obeyed too.
    const declared = await upload(iconv.encode(csv(`gbk.one,赵六,普通,,,,,broker1,,,`), 'gbk'), { contentType: 'text/csv; charset=GBK', dryRun: true });
    expect(declared.status).toBe(200);
    expect(declared.body.encoding).toBe('gb18030');
  });

  it('one bad row: nothing is imported, and the report names that row, its field and the reason', async () => {
    const users0 = await userCount();
    const archived0 = await archiveCount();
    const r = await upload(csv(`one.a,甲,普通,C2,2025-01-01,,,broker1,,,`, `one.b,乙,超级VIP,C2,2025-01-01,,,broker1,,,`, `one.c,丙,普通,,,,,broker1,,,`));
    expectError(r, 422, 'QIAO_CSV_ROWS_REJECTED');
    expect(r.body.error.details).toMatchObject({ total: 3, rejected: 1 });
    expect(r.body.error.details.report).toEqual([
      { row: 3, login: 'one.b', brokerLogin: 'broker1', clientId: null, passwordGenerated: true, errors: [{ field: 'tier', code: 'QIAO_CSV_VALUE_INVALID', message: expect.stringContaining('普通') }] },
    ]);
    expect(await userCount()).toBe(users0);
    expect(await archiveCount()).toBe(archived0);
    expect(await userByLogin('one.a')).toBeUndefined();
    // The refusal itself is audited.
    const refused = await db().select().from(auditLog).where(and(eq(auditLog.action, 'client.import'), eq(auditLog.outcome, 'refused')));
    expect(refused.at(-1)?.detail).toMatchObject({ code: 'QIAO_CSV_ROWS_REJECTED', rejected: 1 });
  });

  it('every row is checked: formats, dates in order, broker, phone, password, duplicates within the file and against the database', async () => {
    const users0 = await userCount();
    const r = await upload(
      csv(
        /* 2 */ `ok.row,好人,普通,C3,2025-01-01,,,broker1,,,`,
        /* 3 */ `x,坏登录,普通,,,,,broker1,,,`,
        /* 4 */ `risk.bad,风险,普通,C6,2025-01-01,,,broker1,,,`,
        /* 5 */ `dates.bad,日期,普通,C3,2025-06-01,2025-05-01,,broker1,,,`,
        /* 6 */ `date.bad,日期二,普通,C3,2025-02-30,,,broker1,,,`,
        /* 7 */ `broker.none,无经纪,普通,,,,,nobody9,,,`,
        /* 8 */ `broker.notbroker,非经纪,普通,,,,,manager1,,,`,
        /* 9 */ `phone.bad,电话,普通,,,,,broker1,,021-12345678,`,
        /* 10 */ `mail.bad,邮件,普通,,,,,broker1,not-an-email,,`,
        /* 11 */ `pw.bad,密码,普通,,,,,broker1,,,password123`,
        /* 12 */ `OK.ROW,重复,普通,,,,,broker1,,,`,
        /* 13 */ `CLIENT1,已存在,普通,,,,,broker1,,,`,
        /* 14 */ `,,,,,,,,,,`,
        /* 15 */ `name.missing,,普通,,,,,,,,`,
        /* 16 */ `level.nodate,无日期,普通,C2,,,,broker1,,,`,
        /* 17 */ `pro.bad,专业,普通,,,,也许,broker1,,,`,
        /* 18 */ `extra.cols,多列,普通,,,,,broker1,,,,多余`,
      ),
    );
    expectError(r, 422, 'QIAO_CSV_ROWS_REJECTED');
    const rep = new Map<number, any>(r.body.error.details.report.map((x: any) => [x.row, x]));
    const codes = (row: number) => rep.get(row)?.errors.map((e: any) => `${e.field}:${e.code}`);
    expect(rep.has(2)).toBe(false);
    expect(rep.has(14)).toBe(false); // a blank row is skipped
    expect(codes(3)).toEqual(['login:QIAO_CSV_VALUE_INVALID']);
    expect(codes(4)).toEqual(['riskLevel:QIAO_CSV_VALUE_INVALID']);
    expect(codes(5)).toEqual(['riskExpiresOn:QIAO_CSV_DATE_ORDER']);
    expect(codes(6)).toEqual(['riskAssessedOn:QIAO_CSV_VALUE_INVALID']);
    expect(codes(7)).toEqual(['brokerLogin:QIAO_CSV_BROKER_INVALID']);
    expect(codes(8)).toEqual(['brokerLogin:QIAO_CSV_BROKER_INVALID']);
    expect(codes(9)).toEqual(['phone:QIAO_CSV_VALUE_INVALID']);
    expect(codes(10)).toEqual(['email:QIAO_CSV_VALUE_INVALID']);
    expect(codes(11)).toEqual(['password:QIAO_PASSWORD_WEAK']);
    expect(codes(12)).toEqual(['login:QIAO_CSV_LOGIN_DUPLICATE']);
    expect(rep.get(12).errors[0].message).toContain('row 2');
    expect(codes(13)).toEqual(['login:QIAO_LOGIN_TAKEN']);
    expect(codes(15)).toEqual(['displayName:QIAO_CSV_VALUE_MISSING', 'brokerLogin:QIAO_CSV_VALUE_MISSING']);
    expect(codes(16)).toEqual(['riskAssessedOn:QIAO_CSV_VALUE_MISSING']);
    expect(codes(17)).toEqual(['professionalInvestor:QIAO_CSV_VALUE_INVALID']);
    expect(codes(18)).toEqual(['*:QIAO_CSV_ROW_COLUMNS']);
    expect(r.body.error.details).toMatchObject({ total: 16, rejected: 15 });
    expect(await userCount()).toBe(users0);

    // A disabled broker is not an active broker.
    const b2 = (await t.request('GET', '/api/me', { token: tok('broker2') })).body.id;
    await db().update(users).set({ active: false }).where(eq(users.id, b2));
    try {
      const d = await upload(csv(`to.disabled,停用,普通,,,,,broker2,,,`), { dryRun: true });
      expectError(d, 422, 'QIAO_CSV_ROWS_REJECTED');
      expect(d.body.error.details.report[0].errors[0]).toMatchObject({ field: 'brokerLogin', code: 'QIAO_CSV_BROKER_INVALID' });
    } finally {
      await db().update(users).set({ active: true }).where(eq(users.id, b2));
    }
  });

  it('a login already imported is taken: importing the same file twice is refused the second time', async () => {
    const file = csv(`twice.a,两次,普通,,,,,broker1,,,`);
    expect((await upload(file)).status).toBe(201);
    const again = await upload(file);
    expectError(again, 422, 'QIAO_CSV_ROWS_REJECTED');
    expect(again.body.error.details.report[0].errors).toEqual([expect.objectContaining({ field: 'login', code: 'QIAO_LOGIN_TAKEN' })]);
  });

  it('dryRun checks and writes nothing; the same file then imports', async () => {
    const users0 = await userCount();
    const archived0 = await archiveCount();
    const audits0 = (await db().select({ n: sql<number>`count(*)::int` }).from(auditLog))[0].n;
    const file = csv(`dry.a,试运行,普通,C1,2025-02-01,,,broker1,,,${STRONG}`, `dry.b,试运行二,机构,,,,是,broker2,,,`);
    const r = await upload(file, { dryRun: true });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ dryRun: true, total: 2, created: 0 });
    expect(r.body.report.map((x: any) => [x.login, x.clientId, x.errors])).toEqual([
      ['dry.a', null, []],
      ['dry.b', null, []],
    ]);
    expect(await userCount()).toBe(users0);
    expect(await archiveCount()).toBe(archived0);
    expect((await db().select({ n: sql<number>`count(*)::int` }).from(auditLog))[0].n).toBe(audits0);
    expect((await upload(file)).status).toBe(201);
    expect(await userCount()).toBe(users0 + 2);
  });

  it('English headers in another order, optional columns left out', async () => {
    const r = await upload(`brokerLogin,login,displayName,tier\nbroker2,en.one,Ann Lee,hnw\n`);
    expect(r.status).toBe(201);
    expect(await userByLogin('en.one')).toMatchObject({ displayName: 'Ann Lee', tier: 'hnw', riskLevel: null, professionalInvestor: false });
  });

  it('wrong columns: QIAO_CSV_COLUMNS with the expected list', async () => {
    const r = await upload(`登录名,姓名,客户级别,经纪人,传真\na.b.c,x,普通,broker1,1\n`);
    expectError(r, 422, 'QIAO_CSV_COLUMNS');
    expect(r.body.error.details).toMatchObject({ unknown: ['客户级别', '传真'], missing: ['客户等级'], repeated: [] });
    expect(r.body.error.details.expected).toContainEqual({ zh: '客户等级', en: 'tier', required: true });
    expect(r.body.error.details.expected).toHaveLength(11);
    const dup = await upload(`登录名,login,姓名,客户等级,经纪人\na,a,x,普通,broker1\n`);
    expectError(dup, 422, 'QIAO_CSV_COLUMNS');
    expect(dup.body.error.details.repeated).toEqual(['login']);
  });

  it('bytes that are neither UTF-8 nor GB18030, UTF-16 and workbooks: QIAO_CSV_ENCODING; nothing written', async () => {
    const users0 = await userCount();
    const head = Buffer.from(`${HEADER}\r\n`, 'utf8');
    const bad = Buffer.concat([head, Buffer.from('bad.one,'), Buffer.from([0xff, 0xff, 0x81, 0x20]), Buffer.from(',普通,,,,,broker1,,,\r\n')]);
    const r = await upload(bad);
    expectError(r, 422, 'QIAO_CSV_ENCODING');
    expectError(await upload(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csv('u16.a,x,普通,,,,,broker1,,,'), 'utf16le')])), 422, 'QIAO_CSV_ENCODING');
    expectError(await upload(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00])), 422, 'QIAO_CSV_ENCODING');
    // Declared UTF-8 but GB18030 bytes.
    expectError(await upload(iconv.encode(csv('decl.a,张三,普通,,,,,broker1,,,'), 'gb18030'), { contentType: 'text/csv; charset=utf-8' }), 422, 'QIAO_CSV_ENCODING');
    expect(await userCount()).toBe(users0);
  });

  it('malformed CSV, no rows, too large, not a CSV body', async () => {
    const m = await upload(csv(`q.a,"未闭合,普通,,,,,broker1,,,`));
    expectError(m, 422, 'QIAO_CSV_MALFORMED');
    expectError(await upload(`${HEADER}\r\n,,,,,,,,,,\r\n`), 422, 'QIAO_CSV_EMPTY');
    expectError(await upload(''), 422, 'QIAO_CSV_EMPTY');
    expectError(await upload(Buffer.alloc(5 * 1024 * 1024 + 10, 0x41)), 413, 'QIAO_PAYLOAD_TOO_LARGE');
    const json = await t.request('POST', '/api/admin/import/clients', { token: tok('admin'), json: { login: 'x' } });
    expectError(json, 400, 'QIAO_BAD_REQUEST');
  });

  it('only administrators import', async () => {
    const file = csv(`nope.a,不行,普通,,,,,broker1,,,`);
    for (const who of ['broker1', 'manager1', 'compliance1', 'client1']) expectError(await upload(file, { token: tok(who) }), 403, 'QIAO_FORBIDDEN');
    expectError(await upload(file, { token: '' }), 401, 'QIAO_AUTH_REQUIRED');
    // Refused before the body is read: a large upload from a non-admin is 403, not 413.
    expectError(await upload(Buffer.alloc(6 * 1024 * 1024, 0x41), { token: tok('broker1') }), 403, 'QIAO_FORBIDDEN');
    expect(await userByLogin('nope.a')).toBeUndefined();
  });
});
