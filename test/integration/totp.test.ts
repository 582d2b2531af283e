/**
 * TOTP second factor (docs/accounts.md#totp-second-factor): enrolment with a QR code, confirmation with
 * recovery codes, the login second step (code, reuse refused with QIAO_TOTP_REUSED, wrong code,
 * recovery code once), lockout, the required-role enforcement (403 until enrolled, REST and socket),
 * disable, admin reset (audited), secrets encrypted at rest, and bad input.
 *
 * Codes are computed with otplib from the secret the enrolment returns; a code for the next 30-second
 * step (accepted within the ±1 step window) lets a test log in right after a confirmation without waiting.
 */
import { and, eq } from 'drizzle-orm';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/auth/totp.ts';
import { archiveRecords, auditLog, totpRecoveryCodes, userTotp } from '../../src/store/schema/index.ts';
import { DEMO_PASSWORD, SioTestClient, startEmbeddedApp, type TestApp } from '../helpers/app.ts';

/** The code of the step `steps` away from now. */
const codeAt = (secret: string, steps = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 * steps });
/** A six-digit code that is none of the three accepted ones. */
async function wrongCode(secret: string): Promise<string> {
  const valid = new Set(await Promise.all([-1, 0, 1, 2].map((s) => codeAt(secret, s))));
  for (let n = 0; ; n++) {
    const c = String((123456 + n * 7919) % 1_000_000).padStart(6, '0');
    if (!valid.has(c)) return c;
  }
}

describe('TOTP second factor', () => {
  let t: TestApp;
  const expectError = (r: { status: number; body: any }, status: number, code: string) => {
    expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  };
  const db = () => t.app.qiao.db.db;
  const post = (path: string, token: string | undefined, json?: unknown) => t.request('POST', path, { token, json });

  /** Enrols `login` (fresh token from a password-only login) and returns the secret, recovery codes and the new token. */
  async function enrol(login: string): Promise<{ secret: string; recoveryCodes: string[]; token: string; userId: string }> {
    const l = await t.login(login);
    expect(l.token).toBeTruthy();
    const e = await post('/api/auth/totp/enrol', l.token);
    expect(e.status).toBe(200);
    const c = await post('/api/auth/totp/confirm', l.token, { code: await codeAt(e.body.secret) });
    expect(c.status).toBe(200);
    return { secret: e.body.secret, recoveryCodes: c.body.recoveryCodes, token: c.body.token, userId: l.user.id };
  }
  async function passwordStep(login: string): Promise<string> {
    const r = await post('/api/auth/login', undefined, { login, password: DEMO_PASSWORD });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ totpRequired: true, challenge: expect.any(String) });
    return r.body.challenge;
  }

  let adminToken = '';
  let adminSecret = '';

  beforeAll(async () => {
    // The real product's setting (the helpers' default turns the requirement off).
    t = await startEmbeddedApp({ QIAO_TOTP_REQUIRED_ROLES: 'admin,compliance', QIAO_LOGIN_MAX_FAILURES_PER_ACCOUNT: '5' });
    const a = await enrol('admin');
    adminToken = a.token;
    adminSecret = a.secret;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('enrolment answers a secret, an otpauth URL and a QR code as a data: URL; the secret is stored encrypted', async () => {
    const { token, user } = await t.login('research1');
    const st = await t.request('GET', '/api/auth/totp', { token });
    expect(st.body).toEqual({ enrolled: false, required: false, enabledAt: null, recoveryCodesLeft: 0 });
    const e = await post('/api/auth/totp/enrol', token);
    expect(e.status).toBe(200);
    expect(e.body.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(e.body.otpauthUrl).toMatch(/^otpauth:\/\/totp\/.*research1\?.*secret=[A-Z2-7]+/);
    expect(e.body.otpauthUrl).toContain(`secret=${e.body.secret}`);
    expect(e.body.qrDataUrl).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/=]{200,}$/);
    const [row] = await db().select().from(userTotp).where(eq(userTotp.userId, user.id));
    expect(row.enabledAt).toBeNull();
    expect(row.secretEnc).not.toContain(e.body.secret);
    expect(row.secretEnc).toMatch(/^v1\./);
    // A pending enrolment does not change the login.
    expect((await t.login('research1')).token).toBeTruthy();
    // A wrong first code does not enable it.
    expectError(await post('/api/auth/totp/confirm', token, { code: await wrongCode(e.body.secret) }), 401, 'QIAO_TOTP_INVALID');
    // Enrolling again restarts with a new secret; the old one no longer confirms.
    const e2 = await post('/api/auth/totp/enrol', token);
    expect(e2.body.secret).not.toBe(e.body.secret);
    const c = await post('/api/auth/totp/confirm', token, { code: await codeAt(e2.body.secret) });
    expect(c.status).toBe(200);
    expect(c.body.recoveryCodes).toHaveLength(10);
    expect(new Set(c.body.recoveryCodes).size).toBe(10);
    for (const rc of c.body.recoveryCodes) expect(rc).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    // Stored hashed only.
    const stored = await db().select().from(totpRecoveryCodes).where(eq(totpRecoveryCodes.userId, user.id));
    expect(stored).toHaveLength(10);
    for (const s of stored) expect(c.body.recoveryCodes).not.toContain(s.codeHash);
    // Confirmation ends the other sessions and hands over a new token.
    expectError(await t.request('GET', '/api/me', { token }), 401, 'QIAO_SESSION_REVOKED');
    const me = await t.request('GET', '/api/me', { token: c.body.token });
    expect(me.body).toMatchObject({ login: 'research1', totpEnrolled: true, totpRequired: false });
    expectError(await post('/api/auth/totp/enrol', c.body.token), 409, 'QIAO_TOTP_ALREADY_ENROLLED');
    expectError(await post('/api/auth/totp/confirm', c.body.token, { code: await codeAt(e2.body.secret, 1) }), 409, 'QIAO_TOTP_NOT_ENROLLED');
    const [[conf], [arch]] = await Promise.all([
      db().select().from(auditLog).where(and(eq(auditLog.action, 'auth.totp-enable'), eq(auditLog.target, user.id), eq(auditLog.outcome, 'ok'))),
      db().select().from(archiveRecords).where(eq(archiveRecords.kind, 'auth.totp-enable')),
    ]);
    expect(conf).toBeTruthy();
    expect(arch).toBeTruthy();
    // The stored secret decrypts with the configured key only.
    const [after] = await db().select().from(userTotp).where(eq(userTotp.userId, user.id));
    expect(new SecretBox(`jwt:${t.config.jwtSecret}`).open(after.secretEnc)).toBe(e2.body.secret);
    expect(() => new SecretBox('another key material, 32 chars long').open(after.secretEnc)).toThrow();
  });

  it('login: password → challenge (no token) → code → token; the same code again is QIAO_TOTP_REUSED; a wrong code QIAO_TOTP_INVALID', async () => {
    const { secret } = await enrol('broker2');
    const challenge = await passwordStep('broker2');
    // The confirmation used this step's code: the next step's code (inside the window) logs in.
    const next = await codeAt(secret, 1);
    const ok = await post('/api/auth/login/totp', undefined, { challenge, code: next });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token: expect.any(String), expiresAt: expect.any(String), user: { login: 'broker2', totpEnrolled: true, totpRequired: false } });
    expect((await t.request('GET', '/api/me', { token: ok.body.token })).status).toBe(200);
    // Reused within its window, even with a new challenge.
    expectError(await post('/api/auth/login/totp', undefined, { challenge: await passwordStep('broker2'), code: next }), 401, 'QIAO_TOTP_REUSED');
    // An older step than the last accepted one is refused the same way.
    expectError(await post('/api/auth/login/totp', undefined, { challenge, code: await codeAt(secret, 0) }), 401, 'QIAO_TOTP_REUSED');
    expectError(await post('/api/auth/login/totp', undefined, { challenge, code: await wrongCode(secret) }), 401, 'QIAO_TOTP_INVALID');
    const refused = await db().select().from(auditLog).where(and(eq(auditLog.action, 'login'), eq(auditLog.outcome, 'refused'), eq(auditLog.actorId, ok.body.user.id)));
    expect(refused.map((r) => (r.detail as { code?: string }).code).sort()).toEqual(['QIAO_TOTP_INVALID', 'QIAO_TOTP_REUSED', 'QIAO_TOTP_REUSED']);
  });

  it('the same code sent twice at once: exactly one login succeeds', async () => {
    const { secret } = await enrol('manager1');
    const code = await codeAt(secret, 1);
    const [c1, c2] = await Promise.all([passwordStep('manager1'), passwordStep('manager1')]);
    const rs = await Promise.all([post('/api/auth/login/totp', undefined, { challenge: c1, code }), post('/api/auth/login/totp', undefined, { challenge: c2, code })]);
    expect(rs.map((r) => r.status).sort()).toEqual([200, 401]);
    expect(rs.find((r) => r.status === 401)!.body.error.code).toBe('QIAO_TOTP_REUSED');
  });

  it('a recovery code logs in once; then it is QIAO_TOTP_RECOVERY_CODE_INVALID', async () => {
    const { recoveryCodes } = await enrol('broker1');
    const rc = recoveryCodes[3];
    const ok = await post('/api/auth/login/totp', undefined, { challenge: await passwordStep('broker1'), recoveryCode: rc.toUpperCase() });
    expect(ok.status).toBe(200);
    expect((await t.request('GET', '/api/auth/totp', { token: ok.body.token })).body).toMatchObject({ enrolled: true, recoveryCodesLeft: 9 });
    expectError(await post('/api/auth/login/totp', undefined, { challenge: await passwordStep('broker1'), recoveryCode: rc }), 401, 'QIAO_TOTP_RECOVERY_CODE_INVALID');
    expectError(await post('/api/auth/login/totp', undefined, { challenge: await passwordStep('broker1'), recoveryCode: 'aaaaa-bbbbb' }), 401, 'QIAO_TOTP_RECOVERY_CODE_INVALID');
    const [used] = await db().select().from(auditLog).where(and(eq(auditLog.action, 'login'), eq(auditLog.outcome, 'ok'), eq(auditLog.actorId, ok.body.user.id)));
    expect(used).toBeTruthy();
  });

  it('wrong codes count as failed logins: the account is locked (QIAO_LOGIN_THROTTLED), the right code too', async () => {
    const { secret } = await enrol('client3');
    const challenge = await passwordStep('client3');
    const bad = await wrongCode(secret);
    for (let i = 0; i < 5; i++) expectError(await post('/api/auth/login/totp', undefined, { challenge, code: bad }), 401, 'QIAO_TOTP_INVALID');
    const locked = await post('/api/auth/login/totp', undefined, { challenge, code: await codeAt(secret, 1) });
    expectError(locked, 429, 'QIAO_LOGIN_THROTTLED');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    // And so is the password step of the same login.
    expectError(await post('/api/auth/login', undefined, { login: 'client3', password: DEMO_PASSWORD }), 429, 'QIAO_LOGIN_THROTTLED');
  });

  it('a required role without TOTP gets a token, but only its account endpoints answer until it enrols (REST and socket)', async () => {
    const l = await t.login('compliance1');
    expect(l.user).toMatchObject({ totpEnrolled: false, totpRequired: true });
    const tok = l.token;
    expect((await t.request('GET', '/api/me', { token: tok })).body).toMatchObject({ totpEnrolled: false, totpRequired: true });
    for (const [m, p] of [
      ['GET', '/api/approvals'],
      ['GET', '/api/admin/users'],
      ['GET', '/api/channels'],
      ['GET', '/api/inbox'],
    ] as const) {
      expectError(await t.request(m, p, { token: tok }), 403, 'QIAO_TOTP_ENROLMENT_REQUIRED');
    }
    // The socket refuses it too.
    await expect(SioTestClient.connect(t.baseUrl, tok)).rejects.toMatchObject({ data: { code: 'QIAO_TOTP_ENROLMENT_REQUIRED' } });
    // Disabling is not offered to a required role.
    expectError(await post('/api/auth/totp/disable', tok, { password: DEMO_PASSWORD }), 403, 'QIAO_TOTP_REQUIRED');
    // Enrol → the new token works everywhere.
    const e = await post('/api/auth/totp/enrol', tok);
    const c = await post('/api/auth/totp/confirm', tok, { code: await codeAt(e.body.secret) });
    expect(c.status).toBe(200);
    expect((await t.request('GET', '/api/approvals', { token: c.body.token })).status).toBe(200);
    expect((await t.request('GET', '/api/me', { token: c.body.token })).body).toMatchObject({ totpEnrolled: true, totpRequired: true });
    expectError(await post('/api/auth/totp/disable', c.body.token, { code: await codeAt(e.body.secret, 1) }), 403, 'QIAO_TOTP_REQUIRED');
    // From now on its login has the second step.
    await passwordStep('compliance1');
  });

  it('an optional role disables TOTP with a code or its password; the login is one step again', async () => {
    const { secret, token } = await enrol('client1');
    expectError(await post('/api/auth/totp/disable', token, { password: 'not-my-password' }), 403, 'QIAO_OLD_PASSWORD_WRONG');
    expectError(await post('/api/auth/totp/disable', token, { code: await wrongCode(secret) }), 401, 'QIAO_TOTP_INVALID');
    const d = await post('/api/auth/totp/disable', token, { code: await codeAt(secret, 1) });
    expect(d.status).toBe(200);
    expect(d.body).toMatchObject({ token: expect.any(String) });
    expect((await t.request('GET', '/api/me', { token: d.body.token })).body).toMatchObject({ totpEnrolled: false });
    expect((await t.login('client1')).token).toBeTruthy();
    expectError(await post('/api/auth/totp/disable', d.body.token, { password: DEMO_PASSWORD }), 409, 'QIAO_TOTP_NOT_ENROLLED');
    // And with the password.
    const again = await enrol('client1');
    expect((await post('/api/auth/totp/disable', again.token, { password: DEMO_PASSWORD })).status).toBe(200);
  });

  it('admin resets a user’s TOTP: sessions end, the user logs in with the password again (and a required role must re-enrol); audited and archived', async () => {
    const { token, userId } = await enrol('client2');
    const r = await post(`/api/admin/users/${userId}/totp/reset`, adminToken);
    expect(r.status).toBe(204);
    expectError(await t.request('GET', '/api/me', { token }), 401, 'QIAO_SESSION_REVOKED');
    const l = await t.login('client2');
    expect(l.user.totpEnrolled).toBe(false);
    const [a] = await db().select().from(auditLog).where(and(eq(auditLog.action, 'user.totp-reset'), eq(auditLog.target, userId)));
    expect(a).toMatchObject({ outcome: 'ok', detail: { before: { totpEnrolled: true }, after: { totpEnrolled: false } } });
    const [arch] = await db().select().from(archiveRecords).where(eq(archiveRecords.kind, 'user.totp-reset'));
    expect(arch.actorId).toBe((await t.request('GET', '/api/me', { token: adminToken })).body.id);
    // Only admin; refusals audited.
    expectError(await post(`/api/admin/users/${userId}/totp/reset`, l.token), 403, 'QIAO_FORBIDDEN');
    const [ref] = await db().select().from(auditLog).where(and(eq(auditLog.action, 'user.totp-reset'), eq(auditLog.outcome, 'refused')));
    expect(ref).toMatchObject({ actorId: userId, detail: { code: 'QIAO_FORBIDDEN' } });
    expectError(await post('/api/admin/users/00000000-0000-4000-8000-000000000000/totp/reset', adminToken), 404, 'QIAO_USER_NOT_FOUND');
    expectError(await post('/api/admin/users/not-a-uuid/totp/reset', adminToken), 400, 'QIAO_BAD_REQUEST');
  });

  it('bad input: malformed codes and challenges, both or neither factor, a forged or session token as challenge', async () => {
    const challenge = await passwordStep('admin');
    for (const body of [
      { challenge, code: '12345' },
      { challenge, code: 'abcdef' },
      { challenge, code: 123456 },
      { challenge },
      { challenge, code: await codeAt(adminSecret, 1), recoveryCode: 'aaaaa-bbbbb' },
      { challenge, recoveryCode: '<script>' },
      { code: '123456' },
      { challenge, code: '123456', extra: 1 },
    ]) {
      expectError(await post('/api/auth/login/totp', undefined, body), 400, 'QIAO_BAD_REQUEST');
    }
    expectError(await post('/api/auth/login/totp', undefined, { challenge: 'not.a.jwt', code: '123456' }), 401, 'QIAO_TOTP_CHALLENGE_INVALID');
    // A session token is not a challenge (distinct audience).
    expectError(await post('/api/auth/login/totp', undefined, { challenge: adminToken, code: await codeAt(adminSecret, 1) }), 401, 'QIAO_TOTP_CHALLENGE_INVALID');
    // Tampered challenge.
    const [h, p, s] = challenge.split('.');
    expectError(await post('/api/auth/login/totp', undefined, { challenge: `${h}.${p}.${s.slice(0, -3)}abc`, code: '123456' }), 401, 'QIAO_TOTP_CHALLENGE_INVALID');
    // A challenge is not a session token either.
    expectError(await t.request('GET', '/api/me', { token: challenge }), 401, 'QIAO_TOKEN_MALFORMED');
    expectError(await post('/api/auth/totp/confirm', adminToken, { code: 'x' }), 400, 'QIAO_BAD_REQUEST');
    expectError(await post('/api/auth/totp/disable', adminToken, {}), 400, 'QIAO_BAD_REQUEST');
    expectError(await post('/api/auth/totp/enrol', undefined), 401, 'QIAO_AUTH_REQUIRED');
  });

  it('a challenge ends with the session version: after a password change it is QIAO_TOTP_CHALLENGE_INVALID', async () => {
    const { secret, token } = await enrol('inst1');
    const challenge = await passwordStep('inst1');
    const pw = await post('/api/auth/password', token, { oldPassword: DEMO_PASSWORD, newPassword: 'Granite-Harbor-7731' });
    expect(pw.status).toBe(200);
    expectError(await post('/api/auth/login/totp', undefined, { challenge, code: await codeAt(secret, 1) }), 401, 'QIAO_TOTP_CHALLENGE_INVALID');
  });
});
