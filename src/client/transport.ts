/**
 * What the client needs from a transport (raw WebSocket or socket.io): send one command, hand over
 * the server frames it receives, and report the end of the connection exactly once.
 */
import { CLOSE_CODES } from '../errors/close-codes.ts';
import type { Command, ServerFrame } from '../gateway/protocol.ts';

export interface CloseInfo {
  /** WebSocket close code (socket.io: the code the server announced, or one derived from the error code). */
  code: number;
  reason: string;
  /** Stable error code when the server said why (e.g. QIAO_TOKEN_EXPIRED). */
  errorCode?: string;
}

export interface TransportSink {
  onFrames(frames: ServerFrame[]): void;
  /** Called once, when the connection is gone (or could not be made). */
  onClose(info: CloseInfo): void;
  /** A frame that could not be understood; the connection goes on. */
  onProtocolError(message: string): void;
}

export interface Transport {
  send(cmd: Command): void;
  /** Closes the connection; resolves once it is closed. */
  close(code?: number, reason?: string): Promise<void>;
}

/** The close code when the connection dropped without a close frame (RFC 6455). */
export const CLOSE_ABNORMAL = 1006;

/**
 * Close code of every error code (from the catalogue, src/errors/codes.ts): a socket.io handshake
 * refusal carries only the error code, and the client decides by the close code's range.
 */
export const HANDSHAKE_CLOSE_CODES: Readonly<Record<string, number>> = CLOSE_CODES;

/** Stable error codes look like QIAO_SOMETHING; close reasons carry one when the server closes on an error. */
export function errorCodeIn(reason: string): string | undefined {
  return /^QIAO_[A-Z_]+$/.test(reason) ? reason : undefined;
}
