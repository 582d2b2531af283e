/**
 * A local web push service for tests and benchmarks: HTTPS with a self-signed certificate (made with
 * the openssl CLI), which checks what a real push service checks and what a browser would decrypt:
 *
 * - the VAPID JWT in `Authorization: vapid t=<jwt>, k=<key>` (RFC 8292): ES256 signature over the
 *   P-256 public key `k`, `aud` = the endpoint's origin, `exp` in the future and ≤ 24 h, `sub` a
 *   mailto:/https: URL;
 * - the aes128gcm body (RFC 8188 framing, RFC 8291 key derivation), decrypted with the browser-side
 *   private key and auth secret, which it holds because `subscription()` made them.
 *
 * Every accepted push is recorded with its TTL, Urgency and Topic headers and the decrypted payload.
 * `respond(id, ...statuses)` scripts the next answers for one subscription (e.g. 410, 500).
 */
import { execFileSync } from 'node:child_process';
import { createECDH, createPublicKey, createDecipheriv, hkdfSync, randomBytes, verify, type ECDH } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Cert {
  key: string;
  cert: string;
}

/** A self-signed certificate for 127.0.0.1 / localhost (P-256, valid 2 days), via `openssl`. */
export function selfSignedCert(): Cert {
  const dir = mkdtempSync(join(tmpdir(), 'qiao-cert-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=qiao-test-push',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'pipe' },
    );
    return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface BrowserSubscription {
  id: string;
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface ReceivedPush {
  subscriptionId: string;
  ttl: number;
  urgency: string | undefined;
  topic: string | undefined;
  contentEncoding: string | undefined;
  vapid: { aud: string; exp: number; sub: string; k: string };
  /** Decrypted body (UTF-8). */
  text: string;
  /** Parsed JSON body (undefined when not JSON). */
  json: any;
  at: number;
}

export interface PushEndpointOptions {
  /** Check VAPID and decrypt every push (default true). Benchmarks may sample instead. */
  verifyEvery?: number;
}

const b64u = (b: Buffer) => b.toString('base64url');
const fromB64u = (s: string) => Buffer.from(s.replace(/=+$/, ''), 'base64url');

/** RFC 8292: verifies `vapid t=…, k=…`; returns the claims and key or throws. */
export function verifyVapid(authorization: string | undefined, expectedAud: string, nowS = Math.floor(Date.now() / 1000)): ReceivedPush['vapid'] {
  const m = /^vapid\s+t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s*,\s*k=([A-Za-z0-9_-]+)\s*$/.exec(authorization ?? '');
  if (!m) throw new Error(`Authorization is not "vapid t=…, k=…": ${authorization}`);
  const [jwt, k] = [m[1], m[2]];
  const [h, p, s] = jwt.split('.');
  const header = JSON.parse(fromB64u(h).toString('utf8')) as { alg?: string; typ?: string };
  if (header.alg !== 'ES256') throw new Error(`JWT alg ${header.alg}, expected ES256`);
  const pub = fromB64u(k);
  if (pub.length !== 65 || pub[0] !== 4) throw new Error('k is not an uncompressed P-256 point');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33)) }, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, fromB64u(s));
  if (!ok) throw new Error('VAPID JWT signature does not verify with k');
  const claims = JSON.parse(fromB64u(p).toString('utf8')) as { aud?: string; exp?: number; sub?: string };
  if (claims.aud !== expectedAud) throw new Error(`JWT aud ${claims.aud}, expected ${expectedAud}`);
  if (typeof claims.exp !== 'number' || claims.exp <= nowS || claims.exp > nowS + 24 * 3600) throw new Error(`JWT exp ${claims.exp} not within 24 h`);
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) throw new Error(`JWT sub ${claims.sub} is not mailto:/https:`);
  return { aud: claims.aud, exp: claims.exp, sub: claims.sub, k };
}

/** RFC 8291 + 8188: decrypts an aes128gcm push body with the browser's keys. */
export function decryptAes128gcm(body: Buffer, uaEcdh: ECDH, authSecret: Buffer): Buffer {
  if (body.length < 21) throw new Error('body shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20];
  const asPublic = body.subarray(21, 21 + idlen);
  if (idlen !== 65) throw new Error(`keyid length ${idlen}, expected the 65-byte sender public key`);
  const records = body.subarray(21 + idlen);
  if (records.length > rs) throw new Error('more than one record (web push sends one)');
  const uaPublic = uaEcdh.getPublicKey();
  const ecdhSecret = uaEcdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const d = createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(records.subarray(records.length - 16));
  const padded = Buffer.concat([d.update(records.subarray(0, records.length - 16)), d.final()]);
  // Last record: data, then 0x02, then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (end < 0 || padded[end] !== 2) throw new Error('missing last-record delimiter 0x02');
  return padded.subarray(0, end);
}

export class PushEndpoint {
  readonly received: ReceivedPush[] = [];
  readonly errors: string[] = [];
  /** Requests answered (any status), also the unverified ones in sampling mode. */
  requests = 0;
  private server: https.Server | null = null;
  private readonly subs = new Map<string, { ecdh: ECDH; auth: Buffer }>();
  private readonly scripts = new Map<string, number[]>();
  private port = 0;
  private readonly verifyEvery: number;
  /** Verified VAPID headers (a push service verifies a given JWT once, then caches it until exp). */
  private readonly vapidCache = new Map<string, ReceivedPush['vapid']>();
  private waiters: Array<{ pred: (r: ReceivedPush) => boolean; resolve: (r: ReceivedPush) => void }> = [];

  constructor(
    readonly cert: Cert = selfSignedCert(),
    opts: PushEndpointOptions = {},
  ) {
    this.verifyEvery = Math.max(1, opts.verifyEvery ?? 1);
  }

  get origin(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    this.server = https.createServer({ key: this.cert.key, cert: this.cert.cert, keepAliveTimeout: 30_000 }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, Buffer.concat(chunks), res));
    });
    this.server.maxHeadersCount = 100;
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Makes browser-side keys for a new subscription on this endpoint. */
  subscription(id: string = randomBytes(8).toString('hex')): BrowserSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    this.subs.set(id, { ecdh, auth });
    return { id, endpoint: `${this.origin}/push/${id}`, keys: { p256dh: b64u(ecdh.getPublicKey()), auth: b64u(auth) } };
  }

  /** The next answers for subscription `id` (then 201 again). */
  respond(id: string, ...statuses: number[]): void {
    this.scripts.set(id, [...(this.scripts.get(id) ?? []), ...statuses]);
  }

  /** Resolves with the first push (already received or coming) that matches. */
  next(pred: (r: ReceivedPush) => boolean = () => true, timeoutMs = 10_000): Promise<ReceivedPush> {
    const hit = this.received.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no matching push within ${timeoutMs} ms (received ${this.received.length}, errors: ${this.errors.join('; ')})`));
      }, timeoutMs).unref();
    });
  }

  private handle(req: import('node:http').IncomingMessage, body: Buffer, res: import('node:http').ServerResponse): void {
    this.requests++;
    const m = /^\/push\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
    const sub = m ? this.subs.get(m[1]) : undefined;
    if (!m || !sub) {
      res.writeHead(404).end('no such subscription');
      return;
    }
    const id = m[1];
    const scripted = this.scripts.get(id)?.shift();
    if (scripted !== undefined && scripted !== 201) {
      res.writeHead(scripted, scripted === 429 ? { 'retry-after': '1' } : {}).end(`scripted ${scripted}`);
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    const sample = this.requests % this.verifyEvery === 0;
    if (sample) {
      try {
        const auth = req.headers.authorization ?? '';
        let vapid = this.vapidCache.get(auth);
        if (!vapid || vapid.exp <= Date.now() / 1000) {
          vapid = verifyVapid(auth, this.origin);
          if (this.vapidCache.size > 10_000) this.vapidCache.clear();
          this.vapidCache.set(auth, vapid);
        }
        if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error(`Content-Encoding ${req.headers['content-encoding']}`);
        const ttl = Number(req.headers.ttl);
        if (!Number.isInteger(ttl) || ttl < 0) throw new Error(`TTL header ${req.headers.ttl}`);
        const text = decryptAes128gcm(body, sub.ecdh, sub.auth).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        const r: ReceivedPush = {
          subscriptionId: id,
          ttl,
          urgency: req.headers.urgency as string | undefined,
          topic: req.headers.topic as string | undefined,
          contentEncoding: req.headers['content-encoding'],
          vapid,
          text,
          json,
          at: performance.now(),
        };
        this.received.push(r);
        for (const w of this.waiters.filter((x) => x.pred(r))) {
          this.waiters = this.waiters.filter((x) => x !== w);
          w.resolve(r);
        }
      } catch (e) {
        this.errors.push((e as Error).message);
        // What a push service answers to a bad VAPID token or undecryptable body.
        res.writeHead(/JWT|vapid|Authorization|k is/i.test((e as Error).message) ? 403 : 400).end((e as Error).message);
        return;
      }
    }
    res.writeHead(201, { location: `${this.origin}/message/${randomBytes(6).toString('hex')}` }).end();
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}
