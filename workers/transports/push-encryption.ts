/**
 * Message encryption for web push (RFC 8291 key derivation, RFC 8188 "aes128gcm" framing): what the
 * browser's push subscription keys (p256dh, auth) require of every message.
 *
 * Guarantees:
 * - every message gets a fresh sender (application server) ECDH key pair and a fresh 16-byte salt,
 *   as RFC 8291 §3.1 requires; nothing derived from one message is reused for another;
 * - one record (RFC 8291 §4): plaintext ≤ MAX_PUSH_PLAINTEXT bytes (3,993), no padding;
 * - bad subscription keys or an oversized payload throw PushEncryptionError before anything is sent.
 *
 * Why not web-push's encrypt (which the transport used before): it builds a new ECDH object per
 * message (a new EC group, ~13 µs) and converts the new public key to bytes twice (~13 µs each), about
 * a fifth of the push worker's CPU per delivery beyond the shared-secret computation itself. The
 * derivation is short and fixed by the RFC; `test/unit/push-encryption.test.ts` holds it to the RFC's
 * Appendix A vector byte for byte, and the push service stand-in of the tests decrypts every message. web-push still signs the VAPID JWT.
 */
import { createECDH, createHmac, createCipheriv, randomBytes, type ECDH } from 'node:crypto';

/** 4,096-octet record − 86-octet header − 16-octet tag − 1 delimiter octet (RFC 8291 §4). */
export const MAX_PUSH_PLAINTEXT = 3993;
const RECORD_SIZE = 4096;
const KEY_INFO = Buffer.from('WebPush: info\0', 'latin1');
// The info strings of RFC 8188 §2.2/2.3 with HKDF-Expand's counter octet (0x01) appended: one block.
const CEK_INFO = Buffer.from('Content-Encoding: aes128gcm\0\x01', 'latin1');
const NONCE_INFO = Buffer.from('Content-Encoding: nonce\0\x01', 'latin1');
const ONE = Buffer.from([1]);
const LAST_RECORD = Buffer.from([2]);

export class PushEncryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PushEncryptionError';
  }
}

function hmac(key: Buffer, ...data: Buffer[]): Buffer {
  const h = createHmac('sha256', key);
  for (const d of data) h.update(d);
  return h.digest();
}

/** For tests of the derivation (RFC 8291 Appendix A): a fixed sender key and salt. */
export interface FixedSenderKey {
  senderPrivateKey: Buffer;
  salt: Buffer;
}

/**
 * Encrypts push messages. Not shared between threads; one per transport is enough (each call is
 * synchronous, and generates its key pair on the instance's ECDH object before using it).
 */
export class PushEncryptor {
  private readonly ecdh: ECDH = createECDH('prime256v1');

  /** The aes128gcm body: salt ‖ rs ‖ idlen ‖ sender public key ‖ ciphertext ‖ tag. */
  encrypt(p256dh: string, auth: string, plaintext: string | Buffer, fixed?: FixedSenderKey): Buffer {
    const uaPublic = Buffer.from(p256dh, 'base64url');
    if (uaPublic.length !== 65 || uaPublic[0] !== 4) throw new PushEncryptionError('p256dh must be an uncompressed P-256 public key (65 bytes)');
    const authSecret = Buffer.from(auth, 'base64url');
    if (authSecret.length < 16) throw new PushEncryptionError('auth secret must be at least 16 bytes');
    const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    if (data.length > MAX_PUSH_PLAINTEXT) throw new PushEncryptionError(`payload is ${data.length} bytes; a push message holds at most ${MAX_PUSH_PLAINTEXT}`);

    let senderPublic: Buffer;
    if (fixed) {
      this.ecdh.setPrivateKey(fixed.senderPrivateKey);
      senderPublic = this.ecdh.getPublicKey();
    } else {
      senderPublic = this.ecdh.generateKeys();
    }
    let shared: Buffer;
    try {
      shared = this.ecdh.computeSecret(uaPublic);
    } catch {
      throw new PushEncryptionError('p256dh is not a point on P-256');
    }
    const salt = fixed?.salt ?? randomBytes(16);

    // RFC 8291 §3.3–3.4: IKM from the ECDH secret and the auth secret, then RFC 8188 §2.2–2.3.
    const ikm = hmac(hmac(authSecret, shared), KEY_INFO, uaPublic, senderPublic, ONE);
    const prk = hmac(salt, ikm);
    const cek = hmac(prk, CEK_INFO).subarray(0, 16);
    const nonce = hmac(prk, NONCE_INFO).subarray(0, 12);

    const header = Buffer.allocUnsafe(86);
    salt.copy(header, 0);
    header.writeUInt32BE(RECORD_SIZE, 16);
    header[20] = 65;
    senderPublic.copy(header, 21);
    const cipher = createCipheriv('aes-128-gcm', cek, nonce);
    const a = cipher.update(data);
    const b = cipher.update(LAST_RECORD);
    const c = cipher.final();
    return Buffer.concat([header, a, b, c, cipher.getAuthTag()]);
  }
}
