/**
 * What a channel family declares: its name grammar, who may subscribe and publish, entitlement by
 * client tier, the kinds of message it carries, and how long history and records are kept.
 * The server authorises every subscribe and every publish from these declarations.
 */
import type { ErrorCode } from '../src/errors/codes.ts';
import type { Principal } from '../src/auth/principal.ts';

export interface Title {
  zh: string;
  en: string;
}

/** Lookups a family may need to decide access; implemented by the store. */
export interface AccessContext {
  isBrokerOf(brokerId: string, clientId: string): Promise<boolean>;
  /** The principal's access to a conversation (src/domain/conversation-access.ts); 'none' when it does not exist. */
  conversationAccess(conversationId: string, p: Principal): Promise<'none' | 'read' | 'write'>;
  /** A stored message of a channel, for references (edit, recall); null when not there. */
  findChatMessage(channel: string, id: string): Promise<{ sender: string; kind: string; time: string; recalled: boolean } | null>;
}

/** `null` means allowed; otherwise the stable error code that refuses it. */
export type Decision = null | ErrorCode;

export interface ParsedChannel {
  name: string;
  family: string;
  /** Family-specific parts, e.g. { category: 'macro' } or { symbol: '600519.SH' }. */
  parts: Record<string, string>;
}

export interface KindSpec {
  /** Validates a payload; returns an error message or null. */
  validate(payload: unknown): string | null;
  /**
   * Published only by the server's own services after their checks (e.g. a recommendation after the
   * suitability gate), never by a client's publish command.
   */
  readonly internal?: boolean;
}

export interface ChannelFamily {
  readonly family: string;
  readonly description: Title;
  /** Parses a name of this family; null when the name is outside the grammar. */
  parse(name: string): ParsedChannel | null;
  title(ch: ParsedChannel): Title;
  canSubscribe(p: Principal, ch: ParsedChannel, ctx: AccessContext): Promise<Decision>;
  canPublish(p: Principal, ch: ParsedChannel, ctx: AccessContext): Promise<Decision>;
  /**
   * Checks of a valid payload that need the store (e.g. an edit must reference the sender's own
   * recent message). Runs after the kind's validation, on every publish.
   */
  checkPublication?(p: Principal, ch: ParsedChannel, kind: string, payload: unknown, ctx: AccessContext): Promise<Decision>;
  /** Ephemeral signal kinds a writer may send on a channel (e.g. `typing`), relayed but never stored. */
  readonly signals?: readonly string[];
  /** Message kinds accepted on this family. */
  readonly kinds: Readonly<Record<string, KindSpec>>;
  /** Bus history kept for reconnect recovery. */
  readonly historySize: number;
  readonly historyTtlMs: number;
  /** How long stored messages are kept (days); regulatory minimums apply. */
  readonly retentionDays: number;
  /** Channels of this family a principal may see in the catalogue listing (static ones only). */
  listFor(p: Principal): ParsedChannel[];
  /** Publications wait for a compliance user's approval before they are delivered (firm-wide broadcast). */
  readonly requiresApproval?: boolean;
}

export const STAFF_ROLES = new Set(['broker', 'manager', 'research', 'compliance', 'admin']);
export const DAY_MS = 24 * 3600 * 1000;
export const UUID_RE = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** A-share security code: six digits and the exchange (Shanghai, Shenzhen, Beijing). */
export const SYMBOL_RE = /^\d{6}\.(SH|SZ|BJ)$/;
/** What a recommendation may name: an A-share code, a fund code (510300.OF), or a product code (QZ-WM-2026-001). */
export const SECURITY_RE = /^(?:\d{6}\.(?:SH|SZ|BJ|OF)|[A-Z][A-Z0-9-]{2,31})$/;
