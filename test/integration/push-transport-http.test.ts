/**
 * WebPushTransport's HTTP side (undici) against real local servers: what each kind of answer — or
 * none — becomes. The contract suite covers the happy path and decryption; this covers the failures.
 */
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import webPush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebPushTransport } from '../../workers/transports/push-transport.ts';
import { PushEndpoint } from '../helpers/push-endpoint.ts';

const vapid = { subject: 'mailto:ops@qiao.example', ...webPush.generateVAPIDKeys() };
const opts = { ttlS: 60, urgency: 'normal' as const };

describe('WebPushTransport over HTTP', () => {
  let ep: PushEndpoint;
  let silent: https.Server;
  let silentOrigin: string;
  let t: WebPushTransport;

  beforeAll(async () => {
    ep = await new PushEndpoint().start();
    // Accepts the request and never answers: the transport's timeout must end it.
    silent = https.createServer({ key: ep.cert.key, cert: ep.cert.cert }, () => {});
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    silentOrigin = `https://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    t = new WebPushTransport({ vapid, timeoutMs: 400, ca: ep.cert.cert });
  });

  afterAll(async () => {
    await t.close();
    silent.closeAllConnections();
    silent.close();
    await ep.close();
  });

  const target = (s: { endpoint: string; keys: { p256dh: string; auth: string } }, endpoint = s.endpoint) => ({ endpoint, p256dh: s.keys.p256dh, auth: s.keys.auth });

  it('201 is ok and the push arrives decrypted', async () => {
    const s = ep.subscription();
    expect(await t.send(target(s), JSON.stringify({ title: '成交回报' }), opts)).toEqual({ result: 'ok', status: 201 });
    expect((await ep.next((r) => r.subscriptionId === s.id)).json).toMatchObject({ title: '成交回报' });
  });

  it('410 is gone, 429 is transient with its Retry-After, 400 is rejected with the body in the detail', async () => {
    const s = ep.subscription();
    ep.respond(s.id, 410, 429, 400);
    expect(await t.send(target(s), 'x', opts)).toMatchObject({ result: 'gone', status: 410 });
    const r429 = await t.send(target(s), 'x', opts);
    expect(r429).toMatchObject({ result: 'transient', status: 429 });
    expect(r429.result !== 'ok' && r429.detail).toMatch(/^HTTP 429/);
    expect(await t.send(target(s), 'x', opts)).toMatchObject({ result: 'rejected', status: 400 });
  });

  it('no answer within the timeout is transient ("timed out"), and the transport goes on working', async () => {
    const s = ep.subscription();
    const t0 = Date.now();
    const r = await t.send(target(s, `${silentOrigin}/push/${s.id}`), 'x', opts);
    expect(r).toMatchObject({ result: 'transient', status: 0 });
    expect(r.result !== 'ok' && r.detail).toMatch(/timed out after 400 ms/);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await t.send(target(s), 'x', opts)).toMatchObject({ result: 'ok' });
  });

  it('a refused connection is transient; a malformed subscription is rejected without a request', async () => {
    const s = ep.subscription();
    const r = await t.send(target(s, 'https://127.0.0.1:1/push/none'), 'x', opts);
    expect(r).toMatchObject({ result: 'transient', status: 0 });
    expect(r.result !== 'ok' && r.detail).toMatch(/^network error/);
    const before = ep.requests;
    expect(await t.send({ endpoint: 'not a url', p256dh: s.keys.p256dh, auth: s.keys.auth }, 'x', opts)).toMatchObject({ result: 'rejected', status: 0 });
    expect(await t.send({ ...target(s), p256dh: 'short' }, 'x', opts)).toMatchObject({ result: 'rejected', status: 0 });
    expect(await t.send(target(s, s.endpoint.replace('https:', 'http:')), 'x', opts)).toMatchObject({ result: 'rejected', detail: expect.stringMatching(/https/) });
    expect(await t.send(target(s), 'x'.repeat(3994), opts)).toMatchObject({ result: 'rejected', detail: expect.stringMatching(/at most 3993/) });
    expect(await t.send(target(s), 'x', { ...opts, topic: '成交/回报' })).toMatchObject({ result: 'rejected', detail: expect.stringMatching(/topic/) });
    expect(await t.send(target(s), 'x', { ...opts, ttlS: -1 })).toMatchObject({ result: 'rejected', detail: expect.stringMatching(/TTL/) });
    expect(ep.requests).toBe(before);
  });

  it('sends TTL, Urgency and Topic as given, and a payload of a full record arrives whole', async () => {
    const s = ep.subscription();
    const text = '股'.repeat(1331); // 3,993 bytes of UTF-8: the most one record holds
    expect(await t.send(target(s), text, { ttlS: 0, urgency: 'high', topic: 'margin-call-1' })).toEqual({ result: 'ok', status: 201 });
    const got = await ep.next((r) => r.subscriptionId === s.id);
    expect(got).toMatchObject({ ttl: 0, urgency: 'high', topic: 'margin-call-1' });
    expect(got.text).toBe(text);
    expect(got.contentEncoding).toBe('aes128gcm');
  });
});
