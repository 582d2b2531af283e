/** The authenticated caller, as carried in a token and checked by every route and socket command. */
export type Role = 'client' | 'broker' | 'manager' | 'research' | 'compliance' | 'admin';
export type Tier = 'general' | 'hnw' | 'institutional';
export type RiskLevel = 'C1' | 'C2' | 'C3' | 'C4' | 'C5';

export interface Principal {
  /** User id (UUID), or `feed` for the market-data API key. */
  id: string;
  role: Role | 'feed';
  displayName: string;
  firmId?: string;
  branchId?: string | null;
  teamId?: string | null;
  tier?: Tier | null;
  /** Session version the token was issued under (users.session_version; docs/accounts.md). */
  sv?: number;
  /**
   * Set by the session check: the role must enrol TOTP (QIAO_TOTP_REQUIRED_ROLES) and has not. Such a
   * caller may only use its account endpoints; everything else is QIAO_TOTP_ENROLMENT_REQUIRED.
   */
  totpPending?: boolean;
}

export const ROLES: readonly Role[] = ['client', 'broker', 'manager', 'research', 'compliance', 'admin'];
