import { createECDH, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_PUSH_PLAINTEXT, PushEncryptionError, PushEncryptor } from '../../workers/transports/push-encryption.ts';
import { decryptAes128gcm } from '../helpers/push-endpoint.ts';

/** RFC 8291 Appendix A (the example message, its keys and its salt). */
const RFC = {
  plaintext: 'When I grow up, I want to be a watermelon',
  senderPrivate: 'yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw',
  uaPrivate: 'q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94',
  uaPublic: 'BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4',
  auth: 'BTBZMqHH6r4Tts7J_aSIgg',
  salt: 'DGv6ra1nlYgDCS1FRnbzlw',
  body: 'DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN',
};

function browser() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return { ecdh, auth, p256dh: ecdh.getPublicKey().toString('base64url'), authB64: auth.toString('base64url') };
}

describe('PushEncryptor (RFC 8291, aes128gcm)', () => {
  it('reproduces the RFC 8291 Appendix A message byte for byte', () => {
    const body = new PushEncryptor().encrypt(RFC.uaPublic, RFC.auth, RFC.plaintext, {
      senderPrivateKey: Buffer.from(RFC.senderPrivate, 'base64url'),
      salt: Buffer.from(RFC.salt, 'base64url'),
    });
    expect(body.toString('base64url')).toBe(RFC.body);
  });

  it('the browser-side decryption reads what it writes, Chinese text included', () => {
    const ua = browser();
    const text = JSON.stringify({ title: '贵州茅台 600519.SH 成交回报', body: '买入 100 股，成交价 1,801.50 元' });
    const body = new PushEncryptor().encrypt(ua.p256dh, ua.authB64, text);
    expect(decryptAes128gcm(body, ua.ecdh, ua.auth).toString('utf8')).toBe(text);
  });

  it('uses a fresh sender key and salt for every message, even from one instance', () => {
    const ua = browser();
    const enc = new PushEncryptor();
    const a = enc.encrypt(ua.p256dh, ua.authB64, 'same');
    const b = enc.encrypt(ua.p256dh, ua.authB64, 'same');
    expect(a.subarray(0, 16).equals(b.subarray(0, 16))).toBe(false); // salt
    expect(a.subarray(21, 86).equals(b.subarray(21, 86))).toBe(false); // sender public key
    expect(a.readUInt32BE(16)).toBe(4096);
    expect(a[20]).toBe(65);
  });

  it('takes a payload up to one record (3,993 bytes) and refuses one byte more', () => {
    const ua = browser();
    const enc = new PushEncryptor();
    const full = enc.encrypt(ua.p256dh, ua.authB64, 'x'.repeat(MAX_PUSH_PLAINTEXT));
    expect(full.length).toBe(4096);
    expect(decryptAes128gcm(full, ua.ecdh, ua.auth).length).toBe(MAX_PUSH_PLAINTEXT);
    expect(() => enc.encrypt(ua.p256dh, ua.authB64, 'x'.repeat(MAX_PUSH_PLAINTEXT + 1))).toThrow(PushEncryptionError);
    // 1,331 three-byte characters = 3,993 bytes; one more is over.
    expect(() => enc.encrypt(ua.p256dh, ua.authB64, '股'.repeat(1332))).toThrow(/at most 3993/);
  });

  it('refuses subscription keys that cannot be right, with a PushEncryptionError', () => {
    const ua = browser();
    const enc = new PushEncryptor();
    const notOnCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url');
    expect(() => enc.encrypt(ua.p256dh.slice(0, 40), ua.authB64, 'x')).toThrow(/65 bytes/);
    expect(() => enc.encrypt(notOnCurve, ua.authB64, 'x')).toThrow(/not a point on P-256/);
    expect(() => enc.encrypt(ua.p256dh, randomBytes(8).toString('base64url'), 'x')).toThrow(/at least 16 bytes/);
    // The instance still works after refusals.
    const ok = enc.encrypt(ua.p256dh, ua.authB64, '仍可用');
    expect(decryptAes128gcm(ok, ua.ecdh, ua.auth).toString('utf8')).toBe('仍可用');
  });
});
