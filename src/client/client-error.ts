/**
 * The error type the client library rejects with. `code` is a server error code from
 * src/errors/codes.ts (e.g. QIAO_PUBLISH_FORBIDDEN), or QIAO_UNAVAILABLE when the connection is gone.
 */
import type { ErrorBody } from '../gateway/protocol.ts';

export class QiaoClientError extends Error {
  readonly code: string;
  readonly details?: unknown;

  constructor(code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'QiaoClientError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }

  static from(body: ErrorBody | { code?: unknown; message?: unknown; details?: unknown } | undefined): QiaoClientError {
    const code = typeof body?.code === 'string' ? body.code : 'QIAO_INTERNAL';
    const message = typeof body?.message === 'string' ? body.message : code;
    return new QiaoClientError(code, message, body?.details);
  }
}

export function unavailable(message = 'Not connected'): QiaoClientError {
  return new QiaoClientError('QIAO_UNAVAILABLE', message);
}
