/**
 * Firm administration and account security (docs/accounts.md): branches and teams, users, disabling,
 * session revocation (logout, password change, sign-out everywhere) on REST and both sockets, client
 * profiles (re-grade → entitlements and suitability at once), the client list, and authorisation.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, archiveRecords, deliveries, users } from '../../src/store/schema/index.ts';
import { HISTORY_CLIENTS } from '../../src/store/seed-service-history.ts';
import { SioTestClient, WsTestClient, eventually, startEmbeddedApp, type TestApp } from '../helpers/app.ts';

const STRONG = 'Granite-Harbor-7731';

describe('accounts and firm administration', () => {
  let t: TestApp;
  const ids = new Map<string, string>();
  const tokens = new Map<string, string>();
  const tok = (l: string) => tokens.get(l)!;
  const id = (l: string) => ids.get(l)!;
  let teamA = '';
  let branchSh = '';

  beforeAll(async () => {
    t = await startEmbeddedApp();
    for (const l of ['admin', 'broker1', 'broker2', 'manager1', 'compliance1', 'research1', 'client1', 'client2', 'client3']) {
      const r = await t.login(l);
      tokens.set(l, r.token);
      ids.set(l, r.user.id);
    }
    const me = await t.request('GET', '/api/me', { token: tok('broker1') });
    teamA = me.body.teamId;
    branchSh = me.body.branchId;
  });
  afterAll(async () => {
    await t?.close();
  });

  const db = () => t.app.qiao.db.db;
  const audits = (action: string, target?: string) =>
    db().select().from(auditLog).where(target ? and(eq(auditLog.action, action), eq(auditLog.target, target)) : eq(auditLog.action, action));
  const archived = (kind: string) => db().select().from(archiveRecords).where(eq(archiveRecords.kind, kind));
  const expectError = (r: { status: number; body: any }, status: number, code: string) => {
    expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  };

  describe('organisation', () => {
    it('admin creates, renames, moves and closes branches and teams; each change audited and archived with old → new', async () => {
      const b = await t.request('POST', '/api/admin/branches', { token: tok('admin'), json: { code: 'SZ-FT', name: '深圳福田营业部' } });
      expect(b.status).toBe(201);
      expect(b.body).toMatchObject({ code: 'SZ-FT', name: '深圳福田营业部', closedAt: null });
      const r = await t.request('PATCH', `/api/admin/branches/${b.body.id}`, { token: tok('admin'), json: { name: '深圳福田中心营业部' } });
      expect(r.body.name).toBe('深圳福田中心营业部');
      const [rename] = await archived('org.branch.rename');
      expect(rename.body).toMatchObject({ before: { name: '深圳福田营业部' }, after: { name: '深圳福田中心营业部' } });
      expect(rename.actorId).toBe(id('admin'));

      const team = await t.request('POST', '/api/admin/teams', { token: tok('admin'), json: { branchId: b.body.id, code: 'SZ-1', name: '福田一组' } });
      expect(team.status).toBe(201);
      expectError(await t.request('POST', '/api/admin/teams', { token: tok('admin'), json: { branchId: b.body.id, code: 'SZ-1', name: 'dup' } }), 409, 'QIAO_CODE_TAKEN');
      expectError(await t.request('POST', '/api/admin/branches', { token: tok('admin'), json: { code: 'SZ-FT', name: 'dup' } }), 409, 'QIAO_CODE_TAKEN');

      // Not empty: an open team.
      const closeB = await t.request('POST', `/api/admin/branches/${b.body.id}/close`, { token: tok('admin') });
      expectError(closeB, 409, 'QIAO_ORG_NOT_EMPTY');
      expect((await audits('org.branch.close', b.body.id)).map((a) => a.outcome)).toEqual(['refused']);

      // Move the team to Shanghai; the branch is then empty and closes.
      const moved = await t.request('PATCH', `/api/admin/teams/${team.body.id}`, { token: tok('admin'), json: { branchId: branchSh } });
      expect(moved.body.branchId).toBe(branchSh);
      const [move] = await archived('org.team.move');
      expect(move.body).toMatchObject({ before: { branchId: b.body.id }, after: { branchId: branchSh } });
      const closed = await t.request('POST', `/api/admin/branches/${b.body.id}/close`, { token: tok('admin') });
      expect(closed.status).toBe(200);
      expect(closed.body.closedAt).toEqual(expect.any(String));
      expectError(await t.request('POST', '/api/admin/teams', { token: tok('admin'), json: { branchId: b.body.id, code: 'SZ-2', name: 'x' } }), 409, 'QIAO_BRANCH_CLOSED');
      expectError(await t.request('PATCH', `/api/admin/teams/${team.body.id}`, { token: tok('admin'), json: { branchId: b.body.id } }), 409, 'QIAO_BRANCH_CLOSED');

      // A team with an active member does not close; once empty it does.
      const u = await t.request('POST', '/api/admin/users', { token: tok('admin'), json: { login: 'broker.sz1', password: STRONG, displayName: '赵经纪', role: 'broker', teamId: team.body.id } });
      expect(u.status).toBe(201);
      expect(u.body).toMatchObject({ teamId: team.body.id, branchId: branchSh, active: true });
      expectError(await t.request('POST', `/api/admin/teams/${team.body.id}/close`, { token: tok('admin') }), 409, 'QIAO_ORG_NOT_EMPTY');
      await t.request('POST', `/api/admin/users/${u.body.id}/disable`, { token: tok('admin') });
      const tc = await t.request('POST', `/api/admin/teams/${team.body.id}/close`, { token: tok('admin') });
      expect(tc.status).toBe(200);
      expectError(await t.request('POST', `/api/admin/teams/${team.body.id}/close`, { token: tok('admin') }), 409, 'QIAO_TEAM_CLOSED');

      const org = await t.request('GET', '/api/admin/org', { token: tok('compliance1') });
      expect(org.status).toBe(200);
      expect(org.body.branches.map((x: { code: string }) => x.code)).toEqual(expect.arrayContaining(['SH-LJZ', 'BJ-JRJ', 'SZ-FT']));
    });

    it('bad input and unknown ids answer stable codes; non-admins are refused', async () => {
      expectError(await t.request('POST', '/api/admin/branches', { token: tok('admin'), json: { code: 'bad code!', name: 'x' } }), 400, 'QIAO_BAD_REQUEST');
      expectError(await t.request('POST', '/api/admin/branches', { token: tok('admin'), json: { code: 'OK-1' } }), 400, 'QIAO_BAD_REQUEST');
      expectError(await t.request('PATCH', `/api/admin/branches/00000000-0000-4000-8000-000000000000`, { token: tok('admin'), json: { name: 'x' } }), 404, 'QIAO_BRANCH_NOT_FOUND');
      expectError(await t.request('POST', '/api/admin/teams', { token: tok('admin'), json: { branchId: '00000000-0000-4000-8000-000000000000', code: 'X-1', name: 'x' } }), 404, 'QIAO_BRANCH_NOT_FOUND');
      expectError(await t.request('PATCH', `/api/admin/teams/00000000-0000-4000-8000-000000000000`, { token: tok('admin'), json: { name: 'x' } }), 404, 'QIAO_TEAM_NOT_FOUND');
      expectError(await t.request('PATCH', `/api/admin/teams/${teamA}`, { token: tok('admin'), json: {} }), 400, 'QIAO_BAD_REQUEST');
      for (const who of ['broker1', 'manager1', 'compliance1', 'research1', 'client1']) {
        expectError(await t.request('POST', '/api/admin/branches', { token: tok(who), json: { code: 'NO-1', name: 'x' } }), 403, 'QIAO_FORBIDDEN');
        expectError(await t.request('POST', '/api/admin/users', { token: tok(who), json: { login: 'nobody1', password: STRONG, displayName: 'x', role: 'broker', teamId: teamA } }), 403, 'QIAO_FORBIDDEN');
      }
      for (const who of ['broker1', 'client1']) expectError(await t.request('GET', '/api/admin/org', { token: tok(who) }), 403, 'QIAO_FORBIDDEN');
      expectError(await t.request('GET', '/api/admin/org'), 401, 'QIAO_AUTH_REQUIRED');
    });
  });

  describe('users', () => {
    it('create: password policy, role, team and login checks with stable codes', async () => {
      const base = { login: 'broker.new', password: STRONG, displayName: '新经纪', role: 'broker', teamId: teamA };
      const create = (over: Record<string, unknown>) => t.request('POST', '/api/admin/users', { token: tok('admin'), json: { ...base, ...over } });
      for (const password of ['short1!', 'password123', 'Password1234!', 'qwertyuiop', 'broker.new-2026!', 'aaaaaaaaaaaa']) {
        const r = await create({ password });
        expectError(r, 422, 'QIAO_PASSWORD_WEAK');
        expect(r.body.error.details.reasons.length).toBeGreaterThan(0);
      }
      expectError(await create({ role: 'superuser' }), 422, 'QIAO_ROLE_INVALID');
      expectError(await create({ teamId: '00000000-0000-4000-8000-000000000000' }), 404, 'QIAO_TEAM_NOT_FOUND');
      expectError(await create({ teamId: null }), 422, 'QIAO_USER_INVALID');
      expectError(await create({ login: 'BROKER1' }), 409, 'QIAO_LOGIN_TAKEN');
      expectError(await create({ tier: 'hnw' }), 422, 'QIAO_USER_INVALID');
      expectError(await create({ role: 'client', teamId: null }), 422, 'QIAO_USER_INVALID');
      expectError(await create({ login: 'x' }), 400, 'QIAO_BAD_REQUEST');
      // Phones are mainland mobile numbers (they receive SMS): anything else has its own code, and nothing is created.
      expectError(await create({ phone: 'call me' }), 422, 'QIAO_PHONE_INVALID');
      expectError(await create({ phone: '021-5555-0101' }), 422, 'QIAO_PHONE_INVALID');
      expectError(await create({ phone: '+86 128 0000 0000' }), 422, 'QIAO_PHONE_INVALID');
      expectError(await create({ phone: '1380000000' }), 422, 'QIAO_PHONE_INVALID');
      // Foreign mobiles, landlines and letters: SMS goes to mainland mobiles only.
      for (const phone of ['+1 650 253 0000', '+852 9123 4567', '010-62345678', '1380013800a', 'thirteen800', '+86 138 0013 80000']) {
        expectError(await create({ phone }), 422, 'QIAO_PHONE_INVALID');
      }
      expect((await db().select().from(users).where(eq(users.login, 'broker.new'))).length).toBe(0);

      // Nothing half-stored: the same login is still free.
      const ok = await create({ phone: '+86 138 0000 0000' });
      expect(ok.status).toBe(201);
      expect(ok.body).toMatchObject({ login: 'broker.new', role: 'broker', teamId: teamA, phone: '+8613800000000', active: true });
      expect(JSON.stringify(ok.body)).not.toMatch(/scrypt|passwordHash|Granite/);
      const login = await t.request('POST', '/api/auth/login', { json: { login: 'broker.new', password: STRONG } });
      expect(login.status).toBe(200);
      const rec = (await archived('user.create')).find((r) => (r.body as any).target === ok.body.id)!;
      expect(rec.body).toMatchObject({ before: null, after: { login: 'broker.new' } });
      expect(JSON.stringify(rec.body)).not.toContain(STRONG);

      // Eleven digits as clients write them are stored in E.164 (what the SMS centre is sent).
      const client = await create({ login: 'client.new', role: 'client', teamId: null, tier: 'hnw', riskLevel: 'C2', riskAssessedOn: '2026-01-05', phone: '13800138000' });
      expect(client.status).toBe(201);
      expect(client.body).toMatchObject({ role: 'client', tier: 'hnw', riskLevel: 'C2', riskAssessedOn: '2026-01-05', phone: '+8613800138000' });
      expect((await db().select({ phone: users.phone }).from(users).where(eq(users.id, client.body.id)))[0].phone).toBe('+8613800138000');
    });

    it('edit profile, team and role; closed team and client↔staff changes are refused; a role change ends the sessions', async () => {
      const u = await t.request('POST', '/api/admin/users', { token: tok('admin'), json: { login: 'staff.edit', password: STRONG, displayName: '编辑', role: 'research' } });
      const token = (await t.login('staff.edit', STRONG)).token;
      const edit = (json: unknown) => t.request('PATCH', `/api/admin/users/${u.body.id}`, { token: tok('admin'), json });
      expectError(await edit({ displayName: '研究员乙', phone: '021-5555-0101' }), 422, 'QIAO_PHONE_INVALID');
      const e1 = await edit({ displayName: '研究员乙', phone: '139-0101-0101' });
      expect(e1.body).toMatchObject({ displayName: '研究员乙', phone: '+8613901010101' });
      // A bad number refuses the whole PATCH: neither the number nor the name beside it is written.
      for (const phone of ['+1 650 253 0000', '021-5555-0101', 'abcdefghijk']) {
        expectError(await edit({ displayName: '不应写入', phone }), 422, 'QIAO_PHONE_INVALID');
      }
      expect((await t.request('GET', `/api/admin/users/${u.body.id}`, { token: tok('admin') })).body).toMatchObject({ displayName: '研究员乙', phone: '+8613901010101' });
      expect((await edit({ phone: '13800138000' })).body.phone).toBe('+8613800138000');
      expect((await edit({ phone: '+86 139 0101 0101' })).body.phone).toBe('+8613901010101');
      const [prof] = (await archived('user.profile')).filter((r) => (r.body as any).target === u.body.id);
      expect(prof.body).toMatchObject({ before: { displayName: '编辑', phone: null }, after: { displayName: '研究员乙', phone: '+8613901010101' } });
      // Profile edits keep the session; /api/me shows the new name.
      expect((await t.request('GET', '/api/me', { token })).body.displayName).toBe('研究员乙');

      expectError(await edit({ role: 'client' }), 422, 'QIAO_ROLE_INVALID');
      expectError(await edit({ role: 'wizard' }), 422, 'QIAO_ROLE_INVALID');
      expectError(await edit({ role: 'broker' }), 422, 'QIAO_USER_INVALID');
      expectError(await edit({ teamId: '00000000-0000-4000-8000-000000000000' }), 404, 'QIAO_TEAM_NOT_FOUND');
      const closedTeam = await t.request('POST', '/api/admin/teams', { token: tok('admin'), json: { branchId: branchSh, code: 'SH-Z', name: '临时组' } });
      await t.request('POST', `/api/admin/teams/${closedTeam.body.id}/close`, { token: tok('admin') });
      expectError(await edit({ role: 'broker', teamId: closedTeam.body.id }), 409, 'QIAO_TEAM_CLOSED');
      expectError(await t.request('PATCH', `/api/admin/users/${id('client1')}`, { token: tok('admin'), json: { role: 'broker' } }), 422, 'QIAO_ROLE_INVALID');

      const e2 = await edit({ role: 'broker', teamId: teamA });
      expect(e2.body).toMatchObject({ role: 'broker', teamId: teamA, branchId: branchSh });
      expectError(await t.request('GET', '/api/me', { token }), 401, 'QIAO_SESSION_REVOKED');
      const [role] = (await archived('user.role')).filter((r) => (r.body as any).target === u.body.id);
      expect(role.body).toMatchObject({ before: { role: 'research', teamId: null }, after: { role: 'broker', teamId: teamA } });
    });

    it('disabling takes effect at once: REST refused, both sockets closed (4607), login refused; re-enabling does not revive old tokens', async () => {
      const u = await t.request('POST', '/api/admin/users', { token: tok('admin'), json: { login: 'leaver', password: STRONG, displayName: '离职员工', role: 'broker', teamId: teamA } });
      const token = (await t.login('leaver', STRONG)).token;
      const ws = await WsTestClient.connect(t.wsUrl, token);
      const sio = await SioTestClient.connect(t.baseUrl, token);
      const dis = await t.request('POST', `/api/admin/users/${u.body.id}/disable`, { token: tok('admin') });
      expect(dis.body).toMatchObject({ active: false, disabledAt: expect.any(String) });
      expect(await ws.closed).toEqual({ code: 4607, reason: 'QIAO_ACCOUNT_DISABLED' });
      await eventually(() => sio.closing.length > 0);
      expect(sio.closing[0]).toEqual({ code: 4607, reason: 'QIAO_ACCOUNT_DISABLED' });
      await eventually(() => !sio.connected);
      expectError(await t.request('GET', '/api/me', { token }), 401, 'QIAO_ACCOUNT_DISABLED');
      const err = await SioTestClient.connectError(t.baseUrl, { token });
      expect(err.data?.code).toBe('QIAO_ACCOUNT_DISABLED');
      expect((await WsTestClient.open(t.wsUrl, token).closed).code).toBe(4607);
      expectError(await t.request('POST', '/api/auth/login', { json: { login: 'leaver', password: STRONG } }), 401, 'QIAO_AUTH_BAD_CREDENTIALS');
      // Records stay.
      expect((await t.request('GET', `/api/admin/users/${u.body.id}`, { token: tok('compliance1') })).body.login).toBe('leaver');
      expect((await audits('user.disable', u.body.id)).map((a) => a.outcome)).toEqual(['ok']);

      await t.request('POST', `/api/admin/users/${u.body.id}/enable`, { token: tok('admin') });
      expectError(await t.request('GET', '/api/me', { token }), 401, 'QIAO_SESSION_REVOKED');
      expect((await t.request('POST', '/api/auth/login', { json: { login: 'leaver', password: STRONG } })).status).toBe(200);
      expectError(await t.request('POST', `/api/admin/users/${id('admin')}/disable`, { token: tok('admin') }), 403, 'QIAO_FORBIDDEN');
      expectError(await t.request('POST', `/api/admin/users/${u.body.id}/disable`, { token: tok('broker1') }), 403, 'QIAO_FORBIDDEN');
      expectError(await t.request('POST', `/api/admin/users/00000000-0000-4000-8000-000000000000/disable`, { token: tok('admin') }), 404, 'QIAO_USER_NOT_FOUND');
    });
    it('disabling stops the leaver’s pending email and push deliveries (inbox rows stay) and escalation skips them', async () => {
      const u = await t.request('POST', '/api/admin/users', { token: tok('admin'), json: { login: 'leaver.mail', password: STRONG, displayName: '离职员工乙', role: 'broker', teamId: teamA } });
      const pub = await t.request('POST', `/api/channels/inbox.${u.body.id}/publications`, { token: tok('admin'), json: { kind: 'notice', payload: { title: '待发送的通知' } } });
      expect(pub.status).toBe(201);
      const qiao = (t.app as unknown as { qiao: { db: { db: any }; delivery: any } }).qiao;
      const deps = { db: qiao.db.db, delivery: qiao.delivery };
      const rowsOf = async (): Promise<Array<{ transport: string; status: string; reason: string | null }>> =>
        deps.db
          .select({ transport: deliveries.transport, status: deliveries.status, reason: deliveries.reason })
          .from(deliveries)
          .where(and(eq(deliveries.messageId, pub.body.id), eq(deliveries.userId, u.body.id)));
      // Fanout writes its rows first (asynchronously); then the rows are put in the states they would have
      // while still waiting to go out when the account is disabled (a busy queue, quiet hours).
      await eventually(async () => (await rowsOf()).some((r) => r.transport === 'email'));
      for (const [transport, status] of [['email', 'queued'], ['push', 'held']] as const) {
        await deps.db
          .insert(deliveries)
          .values({ messageId: pub.body.id, userId: u.body.id, transport, status })
          .onConflictDoUpdate({ target: [deliveries.messageId, deliveries.userId, deliveries.transport], set: { status } });
      }
      await t.request('POST', `/api/admin/users/${u.body.id}/disable`, { token: tok('admin') });
      const by = new Map((await rowsOf()).map((r) => [r.transport, r]));
      expect(by.get('email')).toMatchObject({ status: 'suppressed', reason: 'account_disabled' });
      expect(by.get('push')).toMatchObject({ status: 'suppressed', reason: 'account_disabled' });
      expect(by.get('inbox')?.status).not.toBe('suppressed');
      expect(await deps.delivery.deliveries.escalate(pub.body.id, u.body.id, 'email')).toBeNull();
      const [audit] = await audits('user.disable', u.body.id);
      expect(audit.outcome).toBe('ok');
    });
  });

  describe('sessions', () => {
    it('logout ends every token of the user (REST and both sockets, close code 4606)', async () => {
      const a = (await t.login('research1')).token;
      const b = (await t.login('research1')).token;
      const ws = await WsTestClient.connect(t.wsUrl, b);
      const sio = await SioTestClient.connect(t.baseUrl, b);
      const out = await t.request('POST', '/api/auth/logout', { token: a });
      expect(out.status).toBe(204);
      for (const x of [a, b]) expectError(await t.request('GET', '/api/me', { token: x }), 401, 'QIAO_SESSION_REVOKED');
      expect(await ws.closed).toEqual({ code: 4606, reason: 'QIAO_SESSION_REVOKED' });
      await eventually(() => sio.closing.length > 0);
      expect(sio.closing[0].code).toBe(4606);
      expect(out.headers.get('x-content-type-options')).toBe('nosniff');
      expectError(await t.request('POST', '/api/auth/logout', { token: a }), 401, 'QIAO_SESSION_REVOKED');
      tokens.set('research1', (await t.login('research1')).token);
      expect((await audits('auth.logout', id('research1'))).length).toBe(1);
    });

    it('password change: old password checked, policy applied, other sessions end, the new token works', async () => {
      await t.request('POST', '/api/admin/users', { token: tok('admin'), json: { login: 'pw.user', password: STRONG, displayName: '改密', role: 'compliance' } });
      const first = (await t.login('pw.user', STRONG)).token;
      const other = (await t.login('pw.user', STRONG)).token;
      const ws = await WsTestClient.connect(t.wsUrl, other);
      const change = (json: unknown, token = first) => t.request('POST', '/api/auth/password', { token, json });
      expectError(await change({ oldPassword: 'not-it-at-all', newPassword: 'Another-Strong-9921' }), 403, 'QIAO_OLD_PASSWORD_WRONG');
      expectError(await change({ oldPassword: STRONG, newPassword: 'password123' }), 422, 'QIAO_PASSWORD_WEAK');
      expectError(await change({ oldPassword: STRONG, newPassword: 'pw.user-longer-1' }), 422, 'QIAO_PASSWORD_WEAK');
      expectError(await change({ oldPassword: STRONG, newPassword: STRONG }), 422, 'QIAO_PASSWORD_WEAK');
      expectError(await change({ oldPassword: STRONG }), 400, 'QIAO_BAD_REQUEST');
      const ok = await change({ oldPassword: STRONG, newPassword: 'Another-Strong-9921' });
      expect(ok.status).toBe(200);
      expect((await t.request('GET', '/api/me', { token: ok.body.token })).status).toBe(200);
      for (const x of [first, other]) expectError(await t.request('GET', '/api/me', { token: x }), 401, 'QIAO_SESSION_REVOKED');
      expect((await ws.closed).code).toBe(4606);
      expectError(await t.request('POST', '/api/auth/login', { json: { login: 'pw.user', password: STRONG } }), 401, 'QIAO_AUTH_BAD_CREDENTIALS');
      expect((await t.request('POST', '/api/auth/login', { json: { login: 'pw.user', password: 'Another-Strong-9921' } })).status).toBe(200);
      const [rec] = await archived('auth.password');
      expect(JSON.stringify(rec.body)).not.toContain('Another-Strong');
    });

    it('admin sign-out everywhere; admin password reset applies the policy and ends sessions', async () => {
      const b = (await t.login('broker2')).token;
      const ws = await WsTestClient.connect(t.wsUrl, b);
      expectError(await t.request('POST', `/api/admin/users/${id('broker2')}/sign-out`, { token: tok('broker1') }), 403, 'QIAO_FORBIDDEN');
      const r = await t.request('POST', `/api/admin/users/${id('broker2')}/sign-out`, { token: tok('admin') });
      expect(r.status).toBe(204);
      expect((await ws.closed).code).toBe(4606);
      expectError(await t.request('GET', '/api/me', { token: b }), 401, 'QIAO_SESSION_REVOKED');
      expectError(await t.request('GET', '/api/me', { token: tok('broker2') }), 401, 'QIAO_SESSION_REVOKED');
      tokens.set('broker2', (await t.login('broker2')).token);
      expect((await audits('user.sign-out', id('broker2')))[0]).toMatchObject({ actorId: id('admin'), outcome: 'ok' });

      const u = await t.request('POST', '/api/admin/users', { token: tok('admin'), json: { login: 'reset.me', password: STRONG, displayName: '重置', role: 'research' } });
      const old = (await t.login('reset.me', STRONG)).token;
      expectError(await t.request('POST', `/api/admin/users/${u.body.id}/password`, { token: tok('admin'), json: { password: '123456' } }), 422, 'QIAO_PASSWORD_WEAK');
      expect((await t.request('POST', `/api/admin/users/${u.body.id}/password`, { token: tok('admin'), json: { password: 'Fresh-Lantern-4410' } })).status).toBe(204);
      expectError(await t.request('GET', '/api/me', { token: old }), 401, 'QIAO_SESSION_REVOKED');
      expect((await t.request('POST', '/api/auth/login', { json: { login: 'reset.me', password: 'Fresh-Lantern-4410' } })).status).toBe(200);
    });
  });

  describe('client profile', () => {
    it('re-grading the tier ends subscriptions the new tier is not entitled to, at once, on live sockets', async () => {
      const ws = await WsTestClient.connect(t.wsUrl, tok('client2'));
      const sio = await SioTestClient.connect(t.baseUrl, tok('client2'));
      for (const c of [ws, sio]) {
        expect((await c.subscribe('research.quant')).ok).toBe(true);
        expect((await c.subscribe('research.macro')).ok).toBe(true);
      }
      const r = await t.request('PATCH', `/api/admin/clients/${id('client2')}/profile`, { token: tok('admin'), json: { tier: 'general' } });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ clientId: id('client2'), tier: 'general' });
      for (const c of [ws, sio]) {
        const p = await c.nextPush((x) => x.t === 'unsubscribed');
        expect(p).toMatchObject({ t: 'unsubscribed', channel: 'research.quant', error: { code: 'QIAO_ENTITLEMENT_REQUIRED' } });
        expect(await c.pingOk()).toBe(true);
        expectErrorReply(await c.subscribe('research.quant'), 'QIAO_ENTITLEMENT_REQUIRED');
      }
      // The token stays valid; REST sees the new tier at once.
      expect((await t.request('GET', '/api/me', { token: tok('client2') })).body.tier).toBe('general');
      const [rec] = (await archived('client.profile')).filter((x) => (x.body as any).target === id('client2'));
      expect(rec.retentionClass).toBe('suitability');
      expect(rec.body).toMatchObject({ before: { tier: 'hnw' }, after: { tier: 'general' } });
      // Back up: the channel may be subscribed again.
      await t.request('PATCH', `/api/admin/clients/${id('client2')}/profile`, { token: tok('admin'), json: { tier: 'hnw' } });
      expect((await ws.subscribe('research.quant')).ok).toBe(true);
      await ws.close();
      sio.close();
    });

    it('a new risk assessment applies to the next recommendation', async () => {
      const rec = (security: string) =>
        t.request('POST', '/api/recommendations', {
          token: tok('broker1'),
          json: { clientIds: [id('client1')], security, productName: '测试产品', productRisk: 'R4', rationale: '测试适当性。' },
        });
      expectError(await rec('REGRADE-A'), 422, 'QIAO_SUITABILITY_MISMATCH');
      const up = await t.request('PATCH', `/api/admin/clients/${id('client1')}/profile`, { token: tok('admin'), json: { riskLevel: 'C4' } });
      expect(up.body.riskLevel).toBe('C4');
      expect(up.body.riskAssessedOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect((await rec('REGRADE-B')).body.results[0]).toMatchObject({ outcome: 'delivered' });
      // An expiry in the past refuses as expired.
      await t.request('PATCH', `/api/admin/clients/${id('client1')}/profile`, { token: tok('admin'), json: { riskAssessedOn: '2024-01-02', riskExpiresOn: '2025-01-02' } });
      expectError(await rec('REGRADE-C'), 422, 'QIAO_RISK_ASSESSMENT_EXPIRED');
      await t.request('PATCH', `/api/admin/clients/${id('client1')}/profile`, { token: tok('admin'), json: { riskLevel: 'C3', riskAssessedOn: new Date().toISOString().slice(0, 10), riskExpiresOn: null } });
    });

    it('bad input, non-clients and authorisation', async () => {
      const patch = (who: string, target: string, json: unknown) => t.request('PATCH', `/api/admin/clients/${target}/profile`, { token: tok(who), json });
      expectError(await patch('admin', id('client3'), { tier: 'platinum' }), 400, 'QIAO_BAD_REQUEST');
      expectError(await patch('admin', id('client3'), { riskLevel: 'C9' }), 400, 'QIAO_BAD_REQUEST');
      expectError(await patch('admin', id('client3'), { riskAssessedOn: '1 May' }), 400, 'QIAO_BAD_REQUEST');
      expectError(await patch('admin', id('client3'), {}), 400, 'QIAO_BAD_REQUEST');
      expectError(await patch('admin', id('client3'), { riskAssessedOn: '2026-01-10', riskExpiresOn: '2026-01-01' }), 400, 'QIAO_BAD_REQUEST');
      expectError(await patch('admin', id('broker1'), { tier: 'hnw' }), 422, 'QIAO_NOT_A_CLIENT');
      expectError(await patch('admin', '00000000-0000-4000-8000-000000000000', { tier: 'hnw' }), 404, 'QIAO_USER_NOT_FOUND');
      for (const who of ['broker1', 'manager1', 'compliance1', 'client3']) expectError(await patch(who, id('client3'), { tier: 'hnw' }), 403, 'QIAO_FORBIDDEN');
      expect((await t.request('GET', `/api/admin/clients/${id('client3')}/profile`, { token: tok('compliance1') })).body).toMatchObject({ clientId: id('client3'), tier: 'general' });
      expectError(await t.request('GET', `/api/admin/clients/${id('client3')}/profile`, { token: tok('broker1') }), 403, 'QIAO_FORBIDDEN');
    });
  });

  describe('client list', () => {
    const list = (who: string, q = '') => t.request('GET', `/api/clients${q}`, { token: tok(who) });
    const logins = (r: { body: any }) => r.body.clients.map((c: { login: string }) => c.login).sort();

    it('is scoped by role', async () => {
      expect(logins(await list('broker1'))).toEqual(['client1', 'client2', 'client3']);
      expect(logins(await list('broker2'))).toEqual(['inst1']);
      // manager1's team A has broker3's book too (the demo's service history).
      expect(logins(await list('manager1'))).toEqual(['client1', 'client2', 'client3', ...HISTORY_CLIENTS.map((c) => c.login)].sort());
      const all = logins(await list('admin'));
      expect(all).toEqual(expect.arrayContaining(['client1', 'client2', 'client3', 'inst1', 'client.new']));
      expect(logins(await list('compliance1'))).toEqual(all);
      for (const who of ['client1', 'research1']) expectError(await list(who), 403, 'QIAO_FORBIDDEN');
      expectError(await list('broker1', `?brokerId=${id('broker2')}`), 403, 'QIAO_FORBIDDEN');
      expectError(await list('manager1', `?brokerId=${id('broker2')}`), 403, 'QIAO_FORBIDDEN');
      expect(logins(await list('admin', `?brokerId=${id('broker2')}`))).toEqual(['inst1']);
      const c1 = (await list('broker1', '?q=client1')).body.clients[0];
      expect(c1).toMatchObject({ login: 'client1', tier: 'general', primaryBroker: { id: id('broker1') }, active: true });
    });

    it('filters and pages', async () => {
      expect(logins(await list('admin', '?tier=institutional'))).toEqual(['inst1']);
      expect(logins(await list('broker1', '?riskLevel=C4'))).toEqual(['client2']);
      expect(logins(await list('admin', `?branchId=${branchSh}&tier=hnw`))).toEqual(['client2', ...HISTORY_CLIENTS.filter((c) => c.tier === 'hnw').map((c) => c.login)].sort());
      // client.new was assessed 2026-01-05 and expires two years later.
      const soon = logins(await list('admin', '?assessmentExpiresWithinDays=3660'));
      expect(soon).toContain('client.new');
      const p1 = await list('admin', '?limit=2');
      expect(p1.body.clients).toHaveLength(2);
      const p2 = await list('admin', `?limit=2&cursor=${p1.body.nextCursor}`);
      expect(p2.body.clients[0].login > p1.body.clients[1].login).toBe(true);
      for (const q of ['?limit=0', '?limit=1000', '?tier=gold', '?brokerId=nope', '?assessmentExpiresWithinDays=-1', '?cursor=%24%24', '?extra=1'])
        expectError(await list('admin', q), 400, 'QIAO_BAD_REQUEST');
    });
  });
});

function expectErrorReply(r: { ok: boolean; error?: { code: string } }, code: string): void {
  expect(r.ok).toBe(false);
  expect(r.error?.code).toBe(code);
}
