/**
 * The one catalogue of stable error codes (after fastify's lib/errors.js).
 *
 * Rules: a code, once shipped, keeps its meaning forever and is never reused for something else.
 * Each code carries the HTTP status used by REST, and the WebSocket close code used when the error
 * ends a socket. Errors that do not end a socket are sent as an error reply to the frame that caused
 * them; their `wsClose` is still listed for the cases where the transport has to close (e.g. during
 * the handshake). The close code's RANGE tells a client what to do (src/errors/close-codes.ts,
 * docs/protocol.md): 4000–4499 reconnect with backoff, 4500–4999 stop. A new entry picks its close
 * code from its status: 5xx → 4100/4103, 429 → 4229, 401 → 46xx (a new number only for a new reason a
 * client must tell apart), 403 → 4703, other 4xx → 48 + the status's last two digits (422 → 4822);
 * test/unit/close-codes.test.ts checks every entry, and `npm run gen:docs` updates the documents.
 */
export interface ErrorDef {
  readonly status: number;
  readonly wsClose: number;
  readonly message: string;
}

export const ERRORS = {
  // --- input (4xx, socket stays open) ---
  QIAO_BAD_JSON: { status: 400, wsClose: 4800, message: 'Malformed JSON' },
  QIAO_BAD_REQUEST: { status: 400, wsClose: 4800, message: 'Request does not match the schema' },
  QIAO_PAYLOAD_TOO_LARGE: { status: 413, wsClose: 4813, message: 'Payload exceeds the configured size limit' },
  QIAO_UNKNOWN_OP: { status: 400, wsClose: 4800, message: 'Unknown operation' },
  QIAO_NOT_FOUND: { status: 404, wsClose: 4804, message: 'Not found' },
  QIAO_PAYLOAD_TOO_DEEP: { status: 400, wsClose: 4800, message: 'JSON is nested too deeply' },

  // --- authentication (401) ---
  QIAO_AUTH_REQUIRED: { status: 401, wsClose: 4601, message: 'Authentication required' },
  QIAO_AUTH_BAD_CREDENTIALS: { status: 401, wsClose: 4601, message: 'Wrong login or password' },
  QIAO_TOKEN_MALFORMED: { status: 401, wsClose: 4602, message: 'Token is malformed' },
  QIAO_TOKEN_EXPIRED: { status: 401, wsClose: 4603, message: 'Token has expired' },
  QIAO_TOKEN_INVALID_SIGNATURE: { status: 401, wsClose: 4605, message: 'Token signature is not valid' },
  QIAO_API_KEY_INVALID: { status: 401, wsClose: 4601, message: 'API key is missing or not valid' },
  QIAO_SESSION_REVOKED: { status: 401, wsClose: 4606, message: 'This session was ended (logout, password change or sign-out everywhere); log in again' },
  QIAO_ACCOUNT_DISABLED: { status: 401, wsClose: 4607, message: 'This account is disabled' },
  QIAO_LOGIN_THROTTLED: { status: 429, wsClose: 4229, message: 'Too many failed logins; try again later' },
  QIAO_OLD_PASSWORD_WRONG: { status: 403, wsClose: 4703, message: 'The current password is not correct' },
  QIAO_PASSWORD_WEAK: { status: 422, wsClose: 4822, message: 'Password does not meet the policy: at least 10 characters, not a common password, not the login' },
  QIAO_TOTP_INVALID: { status: 401, wsClose: 4601, message: 'The authenticator code is not correct' },
  QIAO_TOTP_REUSED: { status: 401, wsClose: 4601, message: 'This authenticator code was already used; wait for the next code' },
  QIAO_TOTP_RECOVERY_CODE_INVALID: { status: 401, wsClose: 4601, message: 'The recovery code is not correct or was already used' },
  QIAO_TOTP_CHALLENGE_INVALID: { status: 401, wsClose: 4601, message: 'The login step has expired or is not valid; enter the password again' },
  QIAO_TOTP_ENROLMENT_REQUIRED: { status: 403, wsClose: 4703, message: 'Your role requires a second factor: enrol an authenticator app first (account security)' },
  QIAO_TOTP_ALREADY_ENROLLED: { status: 409, wsClose: 4809, message: 'An authenticator is already enrolled; disable it first' },
  QIAO_TOTP_NOT_ENROLLED: { status: 409, wsClose: 4809, message: 'No authenticator is enrolled (or no enrolment was started)' },
  QIAO_TOTP_REQUIRED: { status: 403, wsClose: 4703, message: 'Your role requires a second factor: it cannot be disabled (an administrator can reset it)' },

  // --- channels and authorisation (403/404) ---
  QIAO_CHANNEL_UNKNOWN_FAMILY: { status: 404, wsClose: 4804, message: 'Unknown channel family' },
  QIAO_CHANNEL_BAD_NAME: { status: 400, wsClose: 4800, message: 'Channel name does not match its family grammar' },
  QIAO_SUBSCRIBE_FORBIDDEN: { status: 403, wsClose: 4703, message: 'Not allowed to subscribe to this channel' },
  QIAO_PUBLISH_FORBIDDEN: { status: 403, wsClose: 4703, message: 'Not allowed to publish to this channel' },
  QIAO_ENTITLEMENT_REQUIRED: { status: 403, wsClose: 4703, message: 'Client tier is not entitled to this channel' },
  QIAO_FORBIDDEN: { status: 403, wsClose: 4703, message: 'Not allowed' },
  QIAO_BAD_PUBLICATION: { status: 400, wsClose: 4800, message: 'Publication does not match the channel kind' },

  // --- limits (429 / socket policy) ---
  QIAO_TOO_MANY_SUBSCRIPTIONS: { status: 429, wsClose: 4229, message: 'Too many subscriptions on this connection' },
  QIAO_RATE_LIMITED: { status: 429, wsClose: 4229, message: 'Too many requests; slow down' },
  QIAO_SLOW_CONSUMER: { status: 503, wsClose: 4008, message: 'Connection closed: client is not reading fast enough' },
  QIAO_ALREADY_SUBSCRIBED: { status: 409, wsClose: 4809, message: 'Already subscribed to this channel' },
  QIAO_NOT_SUBSCRIBED: { status: 409, wsClose: 4809, message: 'Not subscribed to this channel' },
  QIAO_CONFLICT: { status: 409, wsClose: 4809, message: 'Conflict with existing data' },
  QIAO_IDEMPOTENCY_MISMATCH: { status: 409, wsClose: 4809, message: 'This Idempotency-Key was already used for a different request; use a new key for a new request' },

  // --- suitability (证券期货投资者适当性管理办法) ---
  QIAO_SUITABILITY_MISMATCH: { status: 422, wsClose: 4822, message: 'Product risk level exceeds the client risk level; recommendation refused and recorded' },
  QIAO_RISK_ASSESSMENT_MISSING: { status: 422, wsClose: 4822, message: 'Client has no risk assessment; recommendation refused and recorded' },
  QIAO_RISK_ASSESSMENT_EXPIRED: { status: 422, wsClose: 4822, message: 'Client risk assessment has expired; recommendation refused and recorded' },

  // --- recommendations, approvals, team tasks ---
  QIAO_SECURITY_INVALID: { status: 400, wsClose: 4800, message: 'Security must be an A-share code like 600519.SH, a fund code like 510300.OF, or a product code (A–Z, 0–9, "-", 3–32 characters, starting with a letter)' },
  QIAO_RESEARCH_NOTE_INVALID: { status: 422, wsClose: 4822, message: 'researchMessageId does not name a research note you may read' },
  QIAO_APPROVAL_REQUIRED: { status: 403, wsClose: 4703, message: 'Publications on this channel need compliance approval; submit them through the publish API' },
  QIAO_APPROVAL_NOT_PENDING: { status: 409, wsClose: 4809, message: 'This approval has already been decided' },
  QIAO_TASK_DUE_INVALID: { status: 400, wsClose: 4800, message: 'dueAt must be a time in the future, at most 366 days ahead' },
  QIAO_TASK_RECIPIENT_INVALID: { status: 422, wsClose: 4822, message: 'Task recipients must be existing teams and active brokers, and at least one broker' },
  QIAO_TASK_TRANSITION_INVALID: { status: 409, wsClose: 4809, message: 'A task can be marked done only after it has been accepted' },

  // --- web push and price alerts ---
  QIAO_PUSH_SUBSCRIPTION_INVALID: { status: 400, wsClose: 4800, message: 'Push subscription is not valid: an https endpoint and base64url keys (p256dh 65 bytes, auth 16 bytes) are required' },
  QIAO_ALERT_RULE_LIMIT: { status: 429, wsClose: 4229, message: 'Too many price-alert rules; delete one first' },

  // --- securities directory ---
  QIAO_SYMBOL_INVALID: { status: 400, wsClose: 4800, message: 'Symbol must be an A-share code: six digits and .SH, .SZ or .BJ, like 600519.SH' },
  QIAO_SECURITY_NOT_FOUND: { status: 404, wsClose: 4804, message: 'No security with this code in the directory' },

  // --- compliance archive and DLP ---
  QIAO_DLP_BLOCKED: { status: 422, wsClose: 4822, message: 'Message contains a prohibited term; it was not sent, and the attempt was recorded for compliance' },
  QIAO_EXPORT_TOO_LARGE: { status: 422, wsClose: 4822, message: 'Too many archive records match for one export; narrow the filter' },

  // --- conversations and client assignment ---
  QIAO_CONVERSATION_NOT_FOUND: { status: 404, wsClose: 4804, message: 'Conversation not found' },
  QIAO_CONVERSATION_INVALID: { status: 422, wsClose: 4822, message: 'Conversation cannot be opened with these participants' },
  QIAO_MESSAGE_REF_NOT_FOUND: { status: 404, wsClose: 4804, message: 'The referenced message is not a chat message of this conversation' },
  QIAO_MESSAGE_NOT_OWN: { status: 403, wsClose: 4703, message: 'Only the sender may edit or recall a message' },
  QIAO_MESSAGE_EDIT_EXPIRED: { status: 409, wsClose: 4809, message: 'The time allowed to edit or recall this message has passed' },
  QIAO_MESSAGE_RECALLED: { status: 409, wsClose: 4809, message: 'The message was recalled' },
  QIAO_USER_NOT_FOUND: { status: 404, wsClose: 4804, message: 'User not found' },
  QIAO_ASSIGNMENT_INVALID: { status: 422, wsClose: 4822, message: 'Assignment change is not valid for this client and broker' },

  // --- firm administration (branches, teams, users, client profiles) ---
  QIAO_BRANCH_NOT_FOUND: { status: 404, wsClose: 4804, message: 'Branch not found' },
  QIAO_TEAM_NOT_FOUND: { status: 404, wsClose: 4804, message: 'Team not found' },
  QIAO_BRANCH_CLOSED: { status: 409, wsClose: 4809, message: 'The branch is closed' },
  QIAO_TEAM_CLOSED: { status: 409, wsClose: 4809, message: 'The team is closed' },
  QIAO_ORG_NOT_EMPTY: { status: 409, wsClose: 4809, message: 'Only an empty branch or team can be closed: move its teams and users first' },
  QIAO_CODE_TAKEN: { status: 409, wsClose: 4809, message: 'A branch or team with this code already exists' },
  QIAO_LOGIN_TAKEN: { status: 409, wsClose: 4809, message: 'A user with this login already exists' },
  QIAO_ROLE_INVALID: { status: 422, wsClose: 4822, message: 'Unknown role, or a change between client and staff roles (create a new user instead)' },
  QIAO_USER_INVALID: { status: 422, wsClose: 4822, message: 'User fields do not fit the role (clients need a tier; staff have none; brokers and managers belong to a team)' },
  QIAO_NOT_A_CLIENT: { status: 422, wsClose: 4822, message: 'Client profiles exist only for users with the client role' },
  QIAO_OPS_FORBIDDEN: { status: 403, wsClose: 4703, message: 'Operations endpoints are not open to this address (QIAO_OPS_ALLOW)' },
  QIAO_QUEUE_DASHBOARD_UNAVAILABLE: { status: 404, wsClose: 4804, message: 'The queue dashboard exists in services mode only (BullMQ on Redis); embedded mode has an in-process queue' },
  QIAO_QUEUE_DASHBOARD_FORBIDDEN: { status: 403, wsClose: 4703, message: 'The queue dashboard is for administrators' },

  // --- bulk client import (CSV; docs/accounts.md "Bulk import") ---
  QIAO_CSV_ENCODING: { status: 422, wsClose: 4822, message: 'The file is neither UTF-8 nor GB18030/GBK text; save it as "CSV UTF-8" (or GBK CSV) and try again' },
  QIAO_CSV_MALFORMED: { status: 422, wsClose: 4822, message: 'The file is not valid CSV (e.g. a quote that is never closed)' },
  QIAO_CSV_COLUMNS: { status: 422, wsClose: 4822, message: 'The header row does not match the template: unknown, repeated or missing required columns' },
  QIAO_CSV_EMPTY: { status: 422, wsClose: 4822, message: 'The file has a header row but no client rows' },
  QIAO_CSV_TOO_MANY_ROWS: { status: 422, wsClose: 4822, message: 'Too many rows for one file; split it into several files' },
  QIAO_CSV_ROWS_REJECTED: { status: 422, wsClose: 4822, message: 'Some rows are not valid; nothing was imported. Correct the rows in the report and import the whole file again' },
  QIAO_CSV_ROW_COLUMNS: { status: 422, wsClose: 4822, message: 'This row has a different number of fields than the header row' },
  QIAO_CSV_VALUE_MISSING: { status: 422, wsClose: 4822, message: 'A required value is empty' },
  QIAO_CSV_VALUE_INVALID: { status: 422, wsClose: 4822, message: 'The value does not have the expected format or is not one of the allowed values' },
  QIAO_CSV_DATE_ORDER: { status: 422, wsClose: 4822, message: 'The assessment expiry date must be after the assessment date' },
  QIAO_CSV_LOGIN_DUPLICATE: { status: 422, wsClose: 4822, message: 'The same login appears on an earlier row of this file' },
  QIAO_CSV_BROKER_INVALID: { status: 422, wsClose: 4822, message: 'No active broker of the firm has this login' },

  // --- broker service: dashboards, reminders, follow-ups, surveys, complaints (docs/service.md) ---
  QIAO_SERVICE_SCOPE_FORBIDDEN: { status: 403, wsClose: 4703, message: 'You may not see the service figures of this broker, team or branch' },
  QIAO_SERVICE_RANGE_INVALID: { status: 400, wsClose: 4800, message: 'The period is not valid: from before to, at most 366 days, and a bucket of day, week or month' },
  QIAO_REMINDER_NOT_FOUND: { status: 404, wsClose: 4804, message: 'Reminder not found' },
  QIAO_REMINDER_IN_PAST: { status: 400, wsClose: 4800, message: 'A reminder must be due in the future (at most 366 days ahead)' },
  QIAO_REMINDER_TARGET_INVALID: { status: 422, wsClose: 4822, message: 'A reminder may name only your own clients and conversations you take part in' },
  QIAO_REMINDER_CLOSED: { status: 409, wsClose: 4809, message: 'The reminder is already done or dismissed' },
  QIAO_FOLLOWUP_NOT_FOUND: { status: 404, wsClose: 4804, message: 'Follow-up not found' },
  QIAO_FOLLOWUP_NOT_INDEPENDENT: { status: 403, wsClose: 4703, message: "A client's follow-up must be done by staff independent of the client's broker" },
  QIAO_FOLLOWUP_CHECKLIST_INCOMPLETE: { status: 422, wsClose: 4822, message: 'A follow-up that reached the client needs every checklist item: identity confirmed, risk level and products explained, no promise of returns, complaint channel told' },
  QIAO_FOLLOWUP_CLOSED: { status: 409, wsClose: 4809, message: 'The follow-up is already done or cancelled' },
  QIAO_FOLLOWUP_RULE_INVALID: { status: 422, wsClose: 4822, message: 'Follow-up rule settings are not valid (days 1–366, percent 1–100, a client tier)' },
  QIAO_SURVEY_NOT_FOUND: { status: 404, wsClose: 4804, message: 'Survey not found' },
  QIAO_SURVEY_FORBIDDEN: { status: 403, wsClose: 4703, message: 'Only the client the survey was sent to may answer it' },
  QIAO_SURVEY_ANSWERED: { status: 409, wsClose: 4809, message: 'This survey has already been answered' },
  QIAO_COMPLAINT_NOT_FOUND: { status: 404, wsClose: 4804, message: 'Complaint not found' },
  QIAO_COMPLAINT_FORBIDDEN: { status: 403, wsClose: 4703, message: 'You may not see or handle this complaint' },
  QIAO_COMPLAINT_CONVERSATION_INVALID: { status: 422, wsClose: 4822, message: 'A complaint may concern only a conversation of your own' },
  QIAO_COMPLAINT_TRANSITION_INVALID: { status: 409, wsClose: 4809, message: 'This step is not possible in the complaint\'s current status' },
  QIAO_COMPLAINT_REPORT_YEAR_INVALID: { status: 400, wsClose: 4800, message: 'The report year must be between 2000 and the current year' },

  // --- account events, positions, corporate actions (docs/account-events.md) ---
  QIAO_ACCOUNT_UNKNOWN: { status: 422, wsClose: 4822, message: 'No active client has this account number' },
  QIAO_ACTION_DATES_INVALID: { status: 422, wsClose: 4822, message: 'The key dates of the corporate action are missing for its type or not in order' },
  QIAO_CORPORATE_ACTION_NOT_FOUND: { status: 404, wsClose: 4804, message: 'Corporate action not found' },
  // --- SMS and phone numbers (docs/sms.md) ---
  QIAO_PHONE_INVALID: { status: 422, wsClose: 4822, message: 'Not a mainland China mobile number: 11 digits starting with 13–19, optionally with +86' },
  QIAO_SMS_TOO_LONG: { status: 422, wsClose: 4822, message: 'The SMS text needs more segments than QIAO_SMS_MAX_SEGMENTS allows' },
  QIAO_SMS_EMPTY: { status: 422, wsClose: 4822, message: 'The SMS text is empty' },

  // --- recovery ---
  QIAO_RECOVERY_GAP: { status: 410, wsClose: 4810, message: 'History no longer reaches the requested offset; some messages cannot be recovered' },

  // --- server side ---
  QIAO_DRAINING: { status: 503, wsClose: 4103, message: 'Node is shutting down; reconnect to another node' },
  QIAO_UNAVAILABLE: { status: 503, wsClose: 4103, message: 'A backing service is unavailable' },
  QIAO_WEB_NOT_BUILT: { status: 503, wsClose: 4103, message: 'The web client is not built; run `npm run build:web`' },
  QIAO_INTERNAL: { status: 500, wsClose: 4100, message: 'Internal error' },
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a stable code. Everything the API or a socket reports to a user is one of these. */
export class QiaoError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly wsClose: number;
  readonly details?: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown) {
    const def = ERRORS[code];
    super(message ?? def.message);
    this.name = 'QiaoError';
    this.code = code;
    this.status = def.status;
    this.wsClose = def.wsClose;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isQiaoError(e: unknown): e is QiaoError {
  return e instanceof QiaoError;
}

/** Node socket errors that mean a backing service (Postgres, Redis) cannot be reached right now. */
const UNREACHABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTCONN', 'ECONNABORTED']);
/**
 * Messages of node-postgres and ioredis when a connection is lost or never made, and of a Redis Cluster
 * whose slot has no reachable master yet (failover in progress: CLUSTERDOWN, TRYAGAIN, ioredis giving up
 * after its redirection retries, or no node reachable at all).
 */
const UNREACHABLE_MESSAGE =
  /Connection terminated|Connection is closed|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed|Cannot use a pool after calling end|MaxRetriesPerRequest|Stream isn't writeable|Reached the max retries per request|Command timed out|CLUSTERDOWN|TRYAGAIN|Too many Cluster redirections|None of startup nodes is available|Failed to refresh slots cache|Cluster is ended/i;

/**
 * Whether `e` says a backing service went away (as opposed to a bug): Postgres connection errors
 * (SQLSTATE class 08, admin shutdown 57P01–57P03, too many connections 53300), socket errors, and the
 * connection errors of node-postgres and ioredis. Such errors are reported as QIAO_UNAVAILABLE (503).
 */
export function isUnavailableError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === 'object' && depth < 4; cur = (cur as { cause?: unknown }).cause, depth++) {
    const err = cur as { code?: unknown; message?: unknown; errors?: unknown };
    const code = typeof err.code === 'string' ? err.code : '';
    if (/^08...$/.test(code) || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return true;
    if (UNREACHABLE_ERRNO.has(code)) return true;
    if (typeof err.message === 'string' && UNREACHABLE_MESSAGE.test(err.message)) return true;
    // AggregateError of a dual-stack connect.
    if (Array.isArray(err.errors) && err.errors.some((x) => isUnavailableError(x))) return true;
  }
  return false;
}

/**
 * Turns anything thrown into a QiaoError: a lost backing service becomes QIAO_UNAVAILABLE, anything
 * else unknown becomes QIAO_INTERNAL, without leaking internals.
 */
export function toQiaoError(e: unknown): QiaoError {
  if (e instanceof QiaoError) return e;
  if (isUnavailableError(e)) return new QiaoError('QIAO_UNAVAILABLE');
  return new QiaoError('QIAO_INTERNAL');
}
