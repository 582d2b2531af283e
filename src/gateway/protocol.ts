/**
 * The Qiao socket protocol, shared by both gateways (socket.io and raw WebSocket), the typed client
 * library, the web client and the benchmark. Documented for humans in docs/protocol.md.
 *
 * Raw WebSocket (`/ws`): text frames of JSON. The server may pack several server frames into one
 * WebSocket message, separated by "\n" (JSON never contains a raw newline), so a client must split
 * on "\n" before parsing. Clients send exactly one command per WebSocket message.
 * socket.io (`/socket.io/`): a command is the event `cmd` with a `Command` argument and an ack callback
 * that receives the `Reply`; server pushes are the event `push` carrying one `Push` or an array of them.
 *
 * This file has no runtime dependencies so the browser bundle can import it.
 */
import type { ErrorCode } from '../errors/codes.ts';

export interface PublicationFrame {
  channel: string;
  id: string;
  offset: number;
  kind: string;
  sender: string;
  payload: unknown;
  time: string;
}

// ---- client → server ----
export interface SubscribeCmd {
  op: 'subscribe';
  /** Correlates the reply; unique per connection, chosen by the client. */
  id: number;
  channel: string;
  /** Recover from here: deliver every publication with offset > since before going live. */
  since?: number;
}
export interface UnsubscribeCmd {
  op: 'unsubscribe';
  id: number;
  channel: string;
}
export interface PublishCmd {
  op: 'publish';
  id: number;
  channel: string;
  kind: string;
  payload: unknown;
}
export interface PingCmd {
  op: 'ping';
  id: number;
}
/** "I am typing" on a conversation: relayed to the other live subscribers, never stored. Throttled. */
export interface TypingCmd {
  op: 'typing';
  id: number;
  channel: string;
}
/** This connection's presence (the other side of a conversation sees it). */
export interface PresenceCmd {
  op: 'presence';
  id: number;
  state: 'online' | 'away';
}
/** Delivered / read receipt: everything up to `offset` on a conversation reached this user / was read. */
export interface ReceiptCmd {
  op: 'receipt';
  id: number;
  channel: string;
  kind: 'delivered' | 'read';
  offset: number;
}
export type Command = SubscribeCmd | UnsubscribeCmd | PublishCmd | PingCmd | TypingCmd | PresenceCmd | ReceiptCmd;

// ---- server → client ----
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
}
export interface SubscribeResult {
  channel: string;
  /** Highest offset known for the channel at subscribe time. */
  topOffset: number;
  /** Present when `since` was given: whether every missed publication was delivered. */
  recovered?: boolean;
}
export interface PublishResultBody {
  channel: string;
  id: string;
  offset: number;
  /** Delivered, but the text matched DLP warn terms: shown to the sender. */
  dlp?: { warn: string[] };
}
/** Reply to a command, matched by `re`. */
export type Reply =
  | { t: 'reply'; re: number; ok: true; result?: unknown }
  | { t: 'reply'; re: number; ok: false; error: ErrorBody };

/** A delivered publication. */
export interface MsgPush extends PublicationFrame {
  t: 'msg';
}
/** History did not reach the client's `since`: publications between `since` and `from` are lost to recovery. */
export interface GapPush {
  t: 'gap';
  channel: string;
  since: number;
  /** First offset that will be delivered after the gap. */
  from: number;
  error: ErrorBody;
}
/** The server dropped the subscription (e.g. access revoked). */
export interface UnsubscribedPush {
  t: 'unsubscribed';
  channel: string;
  error: ErrorBody;
}
/** First frame after connect. */
export interface WelcomePush {
  t: 'welcome';
  node: string;
  user: { id: string; role: string; displayName: string };
  limits: { maxPayloadBytes: number; maxSubscriptions: number };
  /** Base URLs of the deployment's nodes (QIAO_PUBLIC_NODES), for a client's failover list; may be empty or absent. */
  nodes?: string[];
}
/** The node is draining: reconnect (to any node) after `afterMs`, with your offsets. */
export interface ReconnectPush {
  t: 'reconnect';
  reason: string;
  afterMs: number;
}
/**
 * An ephemeral event, not stored and without an offset: `typing` and `receipt` (to the live
 * subscribers of a conversation), `presence` and `unread` (to a user's own connections, whether or not
 * they are subscribed to the conversation).
 */
export interface SignalPush {
  t: 'signal';
  channel: string;
  kind: 'typing' | 'presence' | 'receipt' | 'unread' | (string & {});
  /** User the event is about (the typer, the reader, the user whose presence changed), or `system`. */
  from: string;
  data?: unknown;
}
export type Push = MsgPush | GapPush | UnsubscribedPush | WelcomePush | ReconnectPush | SignalPush;
export type ServerFrame = Reply | Push;

/** WebSocket close codes used by the gateway (application range). See src/errors/codes.ts for the full list. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
