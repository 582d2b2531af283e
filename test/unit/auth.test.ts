import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/auth/password.ts';
import { createTokenService } from '../../src/auth/token.ts';
import { QiaoError } from '../../src/errors/codes.ts';

const SECRET = 'a'.repeat(40);
const P = { id: '0b7f2c1e-9a4d-4c2b-8f3e-1d2c3b4a5f60', role: 'client' as const, displayName: '刘女士', tier: 'general' as const };

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof QiaoError ? e.code : 'other';
  }
}

describe('passwords', () => {
  it('hashes with scrypt and a salt, never plain', async () => {
    const a = await hashPassword('qiao-demo-2026');
    const b = await hashPassword('qiao-demo-2026');
    expect(a).toMatch(/^scrypt\$/);
    expect(a).not.toContain('qiao-demo-2026');
    expect(a).not.toBe(b);
    expect(await verifyPassword('qiao-demo-2026', a)).toBe(true);
    expect(await verifyPassword('wrong', a)).toBe(false);
    expect(await verifyPassword('x', 'garbage')).toBe(false);
  });
});

describe('tokens', () => {
  it('round-trips a principal', async () => {
    const t = createTokenService(SECRET, 60);
    const { token, expiresAt } = await t.issue(P);
    const back = await t.verify(token);
    expect(back).toMatchObject({ id: P.id, role: 'client', displayName: '刘女士', tier: 'general' });
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now());
  });

  it('distinguishes missing, malformed, expired and forged tokens', async () => {
    const t = createTokenService(SECRET, 60);
    expect(await code(t.verify(undefined))).toBe('QIAO_AUTH_REQUIRED');
    expect(await code(t.verify('abc'))).toBe('QIAO_TOKEN_MALFORMED');
    expect(await code(t.verify('a.b.c'))).toBe('QIAO_TOKEN_MALFORMED');
    const past = createTokenService(SECRET, 60, () => Date.now() - 3600_000);
    expect(await code(t.verify((await past.issue(P)).token))).toBe('QIAO_TOKEN_EXPIRED');
    const other = createTokenService('b'.repeat(40), 60);
    expect(await code(t.verify((await other.issue(P)).token))).toBe('QIAO_TOKEN_INVALID_SIGNATURE');
  });

  it('refuses alg=none and tokens without the expected claims', async () => {
    const t = createTokenService(SECRET, 60);
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: P.id, role: 'admin', iss: 'qiao', aud: 'qiao-api', exp: 9e9 })).toString('base64url');
    expect(await code(t.verify(`${header}.${body}.`))).toBe('QIAO_TOKEN_MALFORMED');
    const noRole = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(P.id)
      .setIssuer('qiao')
      .setAudience('qiao-api')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    expect(await code(t.verify(noRole))).toBe('QIAO_TOKEN_MALFORMED');
  });
});
