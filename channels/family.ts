/**
 * What a channel family declares: its name grammar, who may subscribe and publish, entitlement by
 * client tier, the kinds of message it carries, and how long history and records are kept.
 * The server authorises every subscribe and every publish from these declarations.
 */
import type { ErrorCode } from '../src/errors/codes.ts';
import type { Principal, Role } from '../src/auth/principal.ts';
import type { RetentionClass } from '../src/domain/retention.ts';
import type { Transport } from '../src/domain/routing.ts';

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

/**
 * Who receives a publication at fanout (src/store/recipients-repo.ts), read at fanout time:
 * - subscribers: users with a subscriptions row for the channel; `tierGated`: a client whose tier no
 *   longer entitles them to the channel (`canSubscribe`'s tier rule) is skipped at fanout;
 * - owner: the user named by the channel's `userId` part (inbox.<id>);
 * - conversation-members: the members of the conversation named by the `conversationId` part;
 * - team: the users of the team named by the `teamId` part whose role is one of `roles`;
 * - sender-firm: every active user of the sender's firm;
 * - none: live delivery only (no inbox, email or push), e.g. a feed its views subscribe to themselves.
 */
export type RecipientRule =
  | { readonly kind: 'subscribers'; readonly tierGated: boolean }
  | { readonly kind: 'owner' }
  | { readonly kind: 'conversation-members' }
  | { readonly kind: 'team'; readonly roles: readonly Role[] }
  | { readonly kind: 'sender-firm' }
  | { readonly kind: 'none' };

/** How a family's messages are delivered beyond the live socket (src/domain/routing.ts, workers/push.worker.ts). */
export interface DeliveryDefaults {
  /**
   * A preference category of its own: a preference row may name it, and GET /api/preferences lists
   * it. When false, nobody can set preferences for it and `defaultTransports` always apply.
   */
  readonly preferenceCategory: boolean;
  /** Transports used when the user has set nothing for the category (the weakest preference layer). */
  readonly defaultTransports: Readonly<Record<Transport, boolean>>;
  /**
   * Critical messages of this family (margin calls, security notices: `classify` in
   * src/domain/routing.ts) go by SMS even when `defaultTransports.sms` is false, unless the user
   * turned SMS off for the category explicitly. True only where an SMS is worth its cost.
   */
  readonly criticalSms: boolean;
  /**
   * Message kinds that count in another family's preference category (e.g. an inbox `alert` follows
   * the 'alerts' preferences). Each target must be a family name (test/unit/families.test.ts checks).
   */
  readonly categoryByKind: Readonly<Record<string, string>>;
  /**
   * Web-push urgency of an ordinary (non-critical, non-alert, non-chat) message of this category;
   * critical messages and price alerts are always 'high' whatever this says.
   */
  readonly pushUrgency: 'low' | 'normal';
}

/**
 * Everything a family decides. Every member a consumer reads by family is REQUIRED, so a family that
 * forgets one does not compile; there is no fallback for an unknown family anywhere (lookups throw
 * QIAO_CHANNEL_UNKNOWN_FAMILY). `N` is the family name, which is also its catalogue key.
 */
export interface ChannelFamily<N extends string = string> {
  /** The name prefix (`research` in `research.macro`); the catalogue key and the web client's `family_<name>` title key. */
  readonly family: N;
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
  /** Archive retention class of every stored message of this family (src/domain/retention.ts). */
  readonly retentionClass: RetentionClass;
  /** Who receives a publication at fanout. */
  readonly recipients: RecipientRule;
  /** Default transports, preference category and push urgency. */
  readonly delivery: DeliveryDefaults;
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
