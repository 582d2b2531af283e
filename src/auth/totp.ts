/**
 * TOTP second factor (docs/accounts.md#totp-second-factor): RFC 6238 codes (otplib; SHA-1, 6 digits,
 * 30-second steps, one step of tolerance either side), secrets encrypted at rest with AES-256-GCM,
 * one-time recovery codes stored as keyed hashes, and the short-lived login challenge.
 *
 * Reuse: the last accepted time step is stored per user and a code is accepted only for a later step,
 * in one conditional UPDATE, so two concurrent logins with the same code cannot both pass (on any node).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, randomInt } from 'node:crypto';
import { and, eq, isNull, isNotNull, lt, or, sql } from 'drizzle-orm';
import { SignJWT, jwtVerify } from 'jose';
import { generateSecret, generateURI, verify as verifyOtp } from 'otplib';
import QRCode from 'qrcode';
import { QiaoError } from '../errors/codes.ts';
import type { Db } from '../store/db.ts';
import { totpRecoveryCodes, userTotp } from '../store/schema/index.ts';

export const TOTP_PERIOD_S = 30;
export const TOTP_ISSUER = '桥 Qiao';
export const RECOVERY_CODE_COUNT = 10;
const CHALLENGE_TTL_S = 300;
const CHALLENGE_AUDIENCE = 'qiao-totp-challenge';

/** AES-256-GCM with a key derived (SHA-256) from the configured key material. Stored as `v1.iv.tag.ciphertext` (base64url). */
export class SecretBox {
  private readonly key: Buffer;
  constructor(material: string) {
    this.key = createHash('sha256').update(`qiao-totp-secret-v1\0${material}`).digest();
  }
  seal(plain: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return ['v1', iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }
  open(sealed: string): string {
    const [v, iv, tag, ct] = sealed.split('.');
    if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('TOTP secret: unknown format');
    const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
  }
}

/** `xxxxx-xxxxx` from an alphabet without look-alikes (0/o, 1/l). */
const RC_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
export function newRecoveryCode(): string {
  let s = '';
  for (let i = 0; i < 10; i++) s += RC_ALPHABET[randomInt(RC_ALPHABET.length)];
  return `${s.slice(0, 5)}-${s.slice(5)}`;
}
/** Recovery codes compare case-insensitively, with or without the dash and spaces. */
export const normaliseRecoveryCode = (c: string) => c.toLowerCase().replace(/[\s-]/g, '');

export interface TotpStatus {
  enrolled: boolean;
  enabledAt: string | null;
  recoveryCodesLeft: number;
}

export interface TotpServiceDeps {
  db: Db;
  keyMaterial: string;
  jwtSecret: string;
  requiredRoles: readonly string[];
  now?: () => number;
}

export class TotpService {
  private readonly box: SecretBox;
  private readonly hmacKey: Buffer;
  private readonly challengeKey: Uint8Array;
  private readonly now: () => number;
  readonly requiredRoles: ReadonlySet<string>;

  constructor(private readonly d: TotpServiceDeps) {
    this.box = new SecretBox(d.keyMaterial);
    this.hmacKey = createHash('sha256').update(`qiao-totp-recovery-v1\0${d.keyMaterial}`).digest();
    this.challengeKey = new TextEncoder().encode(d.jwtSecret);
    this.now = d.now ?? Date.now;
    this.requiredRoles = new Set(d.requiredRoles);
  }

  isRequired(role: string): boolean {
    return this.requiredRoles.has(role);
  }

  private hashRecovery(code: string): string {
    return createHmac('sha256', this.hmacKey).update(normaliseRecoveryCode(code)).digest('base64url');
  }

  async status(userId: string): Promise<TotpStatus> {
    const [row] = await this.d.db.select().from(userTotp).where(eq(userTotp.userId, userId)).limit(1);
    if (!row?.enabledAt) return { enrolled: false, enabledAt: null, recoveryCodesLeft: 0 };
    const [n] = await this.d.db
      .select({ n: sql<number>`count(*)::int` })
      .from(totpRecoveryCodes)
      .where(and(eq(totpRecoveryCodes.userId, userId), isNull(totpRecoveryCodes.usedAt)));
    return { enrolled: true, enabledAt: row.enabledAt.toISOString(), recoveryCodesLeft: n?.n ?? 0 };
  }

  async isEnrolled(userId: string): Promise<boolean> {
    const [row] = await this.d.db
      .select({ userId: userTotp.userId })
      .from(userTotp)
      .where(and(eq(userTotp.userId, userId), isNotNull(userTotp.enabledAt)))
      .limit(1);
    return Boolean(row);
  }

  /** Starts (or restarts) an enrolment: a new secret, pending until confirmed with a code. */
  async enrol(userId: string, label: string): Promise<{ secret: string; otpauthUrl: string; qrDataUrl: string }> {
    if (await this.isEnrolled(userId)) throw new QiaoError('QIAO_TOTP_ALREADY_ENROLLED');
    const secret = generateSecret({ length: 20 });
    const secretEnc = this.box.seal(secret);
    await this.d.db
      .insert(userTotp)
      .values({ userId, secretEnc })
      .onConflictDoUpdate({ target: userTotp.userId, set: { secretEnc, lastStep: null, createdAt: new Date() }, where: isNull(userTotp.enabledAt) });
    const otpauthUrl = generateURI({ issuer: TOTP_ISSUER, label, secret, period: TOTP_PERIOD_S });
    const qrDataUrl = await QRCode.toDataURL(otpauthUrl, { errorCorrectionLevel: 'M', margin: 2, width: 220 });
    return { secret, otpauthUrl, qrDataUrl };
  }

  /** The time step a code is valid for (±1 step), or null. */
  async matchStep(secret: string, code: string): Promise<number | null> {
    if (!/^\d{6}$/.test(code)) return null;
    const r = await verifyOtp({ secret, token: code, period: TOTP_PERIOD_S, epochTolerance: TOTP_PERIOD_S, epoch: Math.floor(this.now() / 1000) });
    if (!r.valid) return null;
    return 'timeStep' in r && typeof r.timeStep === 'number' ? r.timeStep : Math.floor(this.now() / 1000 / TOTP_PERIOD_S) + r.delta;
  }

  /**
   * Checks a code against the user's secret (enrolled, or pending when `pending`) and records its time
   * step atomically. QIAO_TOTP_INVALID: wrong code; QIAO_TOTP_REUSED: right code, but its step (or a
   * later one) was already accepted.
   */
  async checkCode(userId: string, code: string, opts: { pending?: boolean } = {}): Promise<number> {
    const [row] = await this.d.db.select().from(userTotp).where(eq(userTotp.userId, userId)).limit(1);
    if (!row || (opts.pending ? row.enabledAt !== null : row.enabledAt === null)) throw new QiaoError('QIAO_TOTP_NOT_ENROLLED');
    const step = await this.matchStep(this.box.open(row.secretEnc), code.trim());
    if (step === null) throw new QiaoError('QIAO_TOTP_INVALID');
    const [ok] = await this.d.db
      .update(userTotp)
      .set({ lastStep: step })
      .where(and(eq(userTotp.userId, userId), eq(userTotp.secretEnc, row.secretEnc), or(isNull(userTotp.lastStep), lt(userTotp.lastStep, step))))
      .returning({ userId: userTotp.userId });
    if (!ok) throw new QiaoError('QIAO_TOTP_REUSED');
    return step;
  }

  /** Confirms a pending enrolment with its first code: enables TOTP and returns fresh recovery codes (shown once). */
  async confirm(userId: string, code: string): Promise<string[]> {
    await this.checkCode(userId, code, { pending: true });
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await this.d.db.transaction(async (tx) => {
      const [row] = await tx
        .update(userTotp)
        .set({ enabledAt: new Date() })
        .where(and(eq(userTotp.userId, userId), isNull(userTotp.enabledAt)))
        .returning({ userId: userTotp.userId });
      if (!row) throw new QiaoError('QIAO_TOTP_ALREADY_ENROLLED');
      await tx.delete(totpRecoveryCodes).where(eq(totpRecoveryCodes.userId, userId));
      await tx.insert(totpRecoveryCodes).values(codes.map((c) => ({ userId, codeHash: this.hashRecovery(c) })));
    });
    return codes;
  }

  /** Consumes a recovery code (once: a conditional UPDATE), or QIAO_TOTP_RECOVERY_CODE_INVALID. */
  async useRecoveryCode(userId: string, code: string): Promise<number> {
    const [used] = await this.d.db
      .update(totpRecoveryCodes)
      .set({ usedAt: new Date() })
      .where(and(eq(totpRecoveryCodes.userId, userId), eq(totpRecoveryCodes.codeHash, this.hashRecovery(code)), isNull(totpRecoveryCodes.usedAt)))
      .returning({ userId: totpRecoveryCodes.userId });
    if (!used) throw new QiaoError('QIAO_TOTP_RECOVERY_CODE_INVALID');
    const [n] = await this.d.db
      .select({ n: sql<number>`count(*)::int` })
      .from(totpRecoveryCodes)
      .where(and(eq(totpRecoveryCodes.userId, userId), isNull(totpRecoveryCodes.usedAt)));
    return n?.n ?? 0;
  }

  /** Removes the factor (own disable or admin reset); returns whether one was enrolled. */
  async remove(userId: string, tx: Pick<Db, 'delete'> = this.d.db): Promise<boolean> {
    await tx.delete(totpRecoveryCodes).where(eq(totpRecoveryCodes.userId, userId));
    const gone = await tx.delete(userTotp).where(eq(userTotp.userId, userId)).returning({ enabledAt: userTotp.enabledAt });
    return gone.some((g) => g.enabledAt !== null);
  }

  /** The signed, short-lived proof that the password step passed (distinct audience: never a session token). */
  async challenge(userId: string, login: string, sv: number): Promise<string> {
    const iat = Math.floor(this.now() / 1000);
    return new SignJWT({ login: login.toLowerCase(), sv, nonce: randomBytes(8).toString('base64url') })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer('qiao')
      .setAudience(CHALLENGE_AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + CHALLENGE_TTL_S)
      .sign(this.challengeKey);
  }

  async readChallenge(challenge: string): Promise<{ userId: string; login: string; sv: number }> {
    try {
      const { payload } = await jwtVerify(challenge, this.challengeKey, {
        issuer: 'qiao',
        audience: CHALLENGE_AUDIENCE,
        algorithms: ['HS256'],
        currentDate: new Date(this.now()),
      });
      if (typeof payload.sub !== 'string' || typeof payload.login !== 'string' || typeof payload.sv !== 'number') throw new Error('claims');
      return { userId: payload.sub, login: payload.login, sv: payload.sv };
    } catch {
      throw new QiaoError('QIAO_TOTP_CHALLENGE_INVALID');
    }
  }
}
