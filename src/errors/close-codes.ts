/**
 * WebSocket close codes by range, so a client knows what to do from the number alone, even for a code
 * it has never seen (after centrifuge's reconnect / terminal split, here inside the application range
 * 4000–4999 of RFC 6455):
 *
 * - 4000–4499 RECONNECT: nothing is wrong with the user or the request; reconnect with backoff and
 *   resubscribe with offsets. 40xx this connection (e.g. slow consumer), 41xx this node (draining,
 *   unavailable, internal: prefer another node), 42xx throttled (back off).
 * - 4500–4999 STOP: reconnecting with the same credentials and input fails the same way; stop and ask
 *   the user. 46xx authentication (log in again; the client library first asks its token function for
 *   a new token), 47xx not allowed, 48xx request refused. 45xx and 49xx are reserved.
 *
 * Codes outside 4000–4999 (1000 normal, 1001 going away, 1006 dropped, 1009 too big…) are the
 * transport's: a client reconnects after them.
 *
 * Browser-safe (the client library and the web bundle import it): no Node imports.
 */
import { ERRORS, type ErrorCode, type ErrorDef } from './codes.ts';

export type CloseAction = 'reconnect' | 'stop';
export type CloseScope = 'connection' | 'node' | 'throttled' | 'auth' | 'forbidden' | 'request' | 'reserved';

export interface CloseRange {
  readonly min: number;
  readonly max: number;
  readonly action: CloseAction;
  readonly scope: CloseScope;
  /** What a client does, for the protocol document. */
  readonly meaning: string;
}

export const RECONNECT_RANGE = { min: 4000, max: 4499 } as const;
export const STOP_RANGE = { min: 4500, max: 4999 } as const;

export const CLOSE_RANGES: readonly CloseRange[] = [
  { min: 4000, max: 4099, action: 'reconnect', scope: 'connection', meaning: 'this connection failed: reconnect with backoff, with offsets' },
  { min: 4100, max: 4199, action: 'reconnect', scope: 'node', meaning: 'this node cannot serve now: reconnect with backoff, preferably to another node' },
  { min: 4200, max: 4299, action: 'reconnect', scope: 'throttled', meaning: 'too many requests: reconnect after the backoff, slower' },
  { min: 4300, max: 4499, action: 'reconnect', scope: 'reserved', meaning: 'reserved: reconnect with backoff' },
  { min: 4500, max: 4599, action: 'stop', scope: 'reserved', meaning: 'reserved: stop' },
  { min: 4600, max: 4699, action: 'stop', scope: 'auth', meaning: 'credentials refused: stop and log in again (or reconnect with a new token)' },
  { min: 4700, max: 4799, action: 'stop', scope: 'forbidden', meaning: 'not allowed: stop and tell the user' },
  { min: 4800, max: 4899, action: 'stop', scope: 'request', meaning: 'the request is refused: stop; retrying it unchanged fails the same way' },
  { min: 4900, max: 4999, action: 'stop', scope: 'reserved', meaning: 'reserved: stop' },
];

/** The range a close code falls in, or undefined outside 4000–4999. */
export function closeRange(code: number): CloseRange | undefined {
  return CLOSE_RANGES.find((r) => code >= r.min && code <= r.max);
}

/** What a client does after a close with `code`: the transport's own codes (1xxx) mean reconnect. */
export function closeAction(code: number): CloseAction {
  return closeRange(code)?.action ?? 'reconnect';
}

/**
 * The scope an error belongs in, from its HTTP status: the rule each catalogue entry's `wsClose`
 * follows (5xx → node, except the per-connection slow consumer; 429 → throttled; 401 → auth; 403 →
 * forbidden; any other 4xx → request).
 */
export function expectedCloseScope(code: ErrorCode | string, def: Pick<ErrorDef, 'status'>): CloseScope {
  if (code === 'QIAO_SLOW_CONSUMER') return 'connection';
  if (def.status >= 500) return 'node';
  if (def.status === 429) return 'throttled';
  if (def.status === 401) return 'auth';
  if (def.status === 403) return 'forbidden';
  return 'request';
}

/** Close code of every error code, from the catalogue (e.g. for a socket.io handshake refusal, which has no close frame). */
export const CLOSE_CODES: Readonly<Record<ErrorCode, number>> = Object.fromEntries(
  Object.entries(ERRORS).map(([code, def]) => [code, def.wsClose]),
) as Record<ErrorCode, number>;

/** The close scope of an error code of the catalogue (undefined for a code this build does not know). */
export function errorCloseScope(code: string): CloseScope | undefined {
  const def = (ERRORS as Record<string, ErrorDef | undefined>)[code];
  return def ? closeRange(def.wsClose)?.scope : undefined;
}
