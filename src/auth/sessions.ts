/**
 * Session revocation across nodes (docs/accounts.md).
 *
 * Every token carries the user's session version (`sv`, users.session_version at issue time). A token
 * is accepted only while the user is active and its `sv` equals the current version. Each node keeps
 * the account state it has read (version, active flag, role, tier, team, branch) in a small cache:
 *
 * - a change (logout, password change, disable, sign-out everywhere, role/team change, re-grade) is
 *   committed in Postgres first, then signalled on the bus channel `sys.session`; every node (this one
 *   synchronously, before the REST answer) drops its cached state for the user and acts on its live
 *   sockets: a revoked or disabled user's connections are closed with QIAO_SESSION_REVOKED (4606) or
 *   QIAO_ACCOUNT_DISABLED (4607); a re-graded client's subscriptions are re-authorised with the new
 *   tier (refused ones end with an `unsubscribed` push);
 * - a cached entry is trusted for at most QIAO_SESSION_CACHE_TTL_MS (safety net for a lost signal), and
 *   the whole cache is dropped, and every local socket re-checked, when the bus reports it missed
 *   signals (Redis reconnect).
 *
 * Accepted principals carry the account's current role, tier, team and branch (not the token's copy),
 * so a re-grade or move takes effect on the next request.
 */
import { eq, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { authorizeSubscribe, type AccessContext } from '../../channels/catalogue.ts';
import { UUID_RE } from '../../channels/family.ts';
import type { Bus } from '../bus/bus.ts';
import { ERRORS, QiaoError, type ErrorCode } from '../errors/codes.ts';
import type { SessionRegistry } from '../gateway/session-registry.ts';
import type { Session } from '../gateway/session.ts';
import type { Db } from '../store/db.ts';
import { userTotp, users } from '../store/schema/index.ts';
import type { Principal } from './principal.ts';
import type { TokenService } from './token.ts';

export const SESSION_SIGNAL_CHANNEL = 'sys.session';
const USER_ID = new RegExp(`^${UUID_RE}$`);

export interface AccountState {
  sv: number;
  active: boolean;
  role: Principal['role'];
  tier: Principal['tier'];
  teamId: string | null;
  branchId: string | null;
  displayName: string;
  /** An enabled TOTP factor (src/auth/totp.ts). */
  totpEnrolled: boolean;
}

/**
 * `revoked`: the session version moved (every token before it is dead); `disabled`: the account was
 * disabled; `changed`: profile fields changed (tier, name), tokens stay valid.
 */
export interface SessionSignal {
  userId: string;
  kind: 'revoked' | 'disabled' | 'changed';
  state: AccountState | null;
}

export interface SessionGuardDeps {
  db: Db;
  bus: Bus;
  registry: SessionRegistry;
  access: AccessContext;
  logger: FastifyBaseLogger;
  ttlMs: number;
  /** Roles that must enrol TOTP (QIAO_TOTP_REQUIRED_ROLES): their principals carry `totpPending` until they have. */
  totpRequiredRoles?: readonly string[];
  now?: () => number;
}

export class SessionGuard {
  private readonly cache = new Map<string, { state: AccountState | null; at: number }>();
  /** Bumped by every invalidation: a load that started before one does not fill the cache. */
  private invalidations = 0;
  private epoch = 0;
  private started = false;
  private readonly now: () => number;
  private readonly onSignal = (data: unknown) => this.handle(data as SessionSignal);

  constructor(private readonly d: SessionGuardDeps) {
    this.now = d.now ?? Date.now;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.d.bus.subscribeSignals(SESSION_SIGNAL_CHANNEL, this.onSignal);
    this.d.bus.onResync?.(() => {
      this.invalidations++;
      this.cache.clear();
      void this.recheckAllSockets();
    });
  }

  async close(): Promise<void> {
    if (!this.started) return;
    await this.d.bus.unsubscribeSignals(SESSION_SIGNAL_CHANNEL, this.onSignal).catch(() => {});
  }

  /** For Session: bumped whenever an account's entitlements changed on this node. */
  readonly accessEpoch = (): number => this.epoch;

  /** The token service every REST route and both socket gateways use: verifies, then checks the account. */
  wrap(tokens: TokenService): TokenService {
    return {
      issue: (p) => tokens.issue(p),
      verify: async (token) => this.check(await tokens.verify(token)),
    };
  }

  /** Accepts a verified principal if its account is active and its session version current. */
  async check(p: Principal): Promise<Principal> {
    if (p.role === 'feed') return p;
    if (!USER_ID.test(p.id)) throw new QiaoError('QIAO_TOKEN_MALFORMED');
    const s = await this.state(p.id);
    if (!s) throw new QiaoError('QIAO_SESSION_REVOKED', 'The account no longer exists');
    if (!s.active) throw new QiaoError('QIAO_ACCOUNT_DISABLED');
    if ((p.sv ?? 1) !== s.sv) throw new QiaoError('QIAO_SESSION_REVOKED');
    const totpPending = !s.totpEnrolled && (this.d.totpRequiredRoles ?? []).includes(s.role);
    return { ...p, role: s.role, tier: s.tier, teamId: s.teamId, branchId: s.branchId, displayName: s.displayName, totpPending };
  }

  async state(userId: string): Promise<AccountState | null> {
    const hit = this.cache.get(userId);
    if (hit && this.now() - hit.at < this.d.ttlMs) return hit.state;
    const gen = this.invalidations;
    const state = await loadAccountState(this.d.db, userId);
    if (gen === this.invalidations && this.d.ttlMs > 0) {
      // Bounded: a burst of distinct users only keeps the newest entries.
      if (this.cache.size >= 100_000) this.cache.clear();
      this.cache.set(userId, { state, at: this.now() });
    }
    return state;
  }

  /**
   * After a committed change to the user's account: acts on this node at once (before the caller
   * answers), then tells every other node through the bus.
   */
  async changed(userId: string, kind: SessionSignal['kind']): Promise<void> {
    const state = await loadAccountState(this.d.db, userId);
    const sig: SessionSignal = { userId, kind, state };
    this.handle(sig);
    try {
      await this.d.bus.signal(SESSION_SIGNAL_CHANNEL, sig);
    } catch (err) {
      // Other nodes still stop accepting the old tokens within QIAO_SESSION_CACHE_TTL_MS.
      this.d.logger.error({ err, userId }, 'session signal failed; other nodes rely on the cache TTL');
    }
  }

  private handle(sig: SessionSignal): void {
    if (!sig || typeof sig.userId !== 'string') return;
    this.invalidations++;
    this.cache.delete(sig.userId);
    this.epoch++;
    const sessions = this.d.registry.byUser(sig.userId);
    if (!sessions.length) return;
    const code: ErrorCode | null = !sig.state ? 'QIAO_SESSION_REVOKED' : !sig.state.active ? 'QIAO_ACCOUNT_DISABLED' : null;
    for (const s of sessions) {
      const c = code ?? ((s.principal.sv ?? 1) !== sig.state!.sv ? 'QIAO_SESSION_REVOKED' : null);
      if (c) {
        closeSession(s, c);
        continue;
      }
      // Still valid: carry the new entitlements and re-authorise every subscription with them.
      Object.assign(s.principal, pick(sig.state!));
      void this.recheckSubscriptions(s);
    }
  }

  private async recheckSubscriptions(s: Session): Promise<void> {
    for (const ch of [...s.subscriptions]) {
      try {
        await authorizeSubscribe(s.principal, ch, this.d.access);
      } catch (e) {
        if (e instanceof QiaoError && e.status < 500) await s.revoke(ch, e);
        else this.d.logger.warn({ err: e, channel: ch }, 'entitlement re-check failed; subscription kept');
      }
    }
  }

  /** After missed signals: every local socket is checked against its account as it is now. */
  private async recheckAllSockets(): Promise<void> {
    this.epoch++;
    for (const s of this.d.registry.all()) {
      if (s.principal.role === 'feed') continue;
      try {
        const p = await this.check(s.principal);
        Object.assign(s.principal, pick({ ...p, sv: p.sv ?? 1, active: true, totpEnrolled: !p.totpPending } as AccountState));
        await this.recheckSubscriptions(s);
      } catch (e) {
        if (e instanceof QiaoError && e.status < 500) closeSession(s, e.code);
      }
    }
  }
}

function pick(s: AccountState): Partial<Principal> {
  return { role: s.role, tier: s.tier, teamId: s.teamId, branchId: s.branchId, displayName: s.displayName };
}

function closeSession(s: Session, code: ErrorCode): void {
  s.close(ERRORS[code].wsClose, code);
}

export async function loadAccountState(db: Db, userId: string): Promise<AccountState | null> {
  const [u] = await db
    .select({
      sv: users.sessionVersion,
      active: users.active,
      role: users.role,
      tier: users.tier,
      teamId: users.teamId,
      branchId: users.branchId,
      displayName: users.displayName,
      totpEnrolled: sql<boolean>`(${userTotp.enabledAt} IS NOT NULL)`,
    })
    .from(users)
    .leftJoin(userTotp, eq(userTotp.userId, users.id))
    .where(eq(users.id, userId))
    .limit(1);
  return u ? { ...u, totpEnrolled: Boolean(u.totpEnrolled) } : null;
}
