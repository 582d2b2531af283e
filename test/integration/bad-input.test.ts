/**
 * Bad input, over REST, raw WebSocket and socket.io, against an embedded hub. Every case checks the
 * stable error code, that the connection (or the process) still works afterwards — a ping after every
 * bad frame — and that nothing was half-written (history and subscriptions unchanged).
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenService } from '../../src/auth/token.ts';
import { MAX_JSON_DEPTH } from '../../src/domain/json-depth.ts';
import type { ErrorCode } from '../../src/errors/codes.ts';
import type { MsgPush, Reply } from '../../src/gateway/protocol.ts';
import type { PublicUser } from '../../src/store/users-repo.ts';
import {
  SioTestClient,
  TEST_JWT_SECRET,
  WsTestClient,
  isMsg,
  note,
  sleep,
  startEmbeddedApp,
  type TestApp,
} from '../helpers/app.ts';

type Login = { token: string; user: PublicUser };

const MAX_PAYLOAD = 2048;
const MAX_SUBS = 3;

function expectError(r: Reply, code: ErrorCode): void {
  expect(r.ok, JSON.stringify(r)).toBe(false);
  if (!r.ok) expect(r.error.code).toBe(code);
}

describe('bad input (embedded hub)', () => {
  let t: TestApp;
  const u: Record<string, Login> = {};
  const tok = (login: string) => u[login].token;

  beforeAll(async () => {
    t = await startEmbeddedApp({ QIAO_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD), QIAO_MAX_SUBSCRIPTIONS: String(MAX_SUBS) });
    for (const l of ['client1', 'client2', 'inst1', 'research1', 'admin']) u[l] = await t.login(l);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Offsets of a channel's stored history (read as research1, who may read every research channel). */
  const history = async (channel: string, token = tok('research1')): Promise<MsgPush[]> => {
    const r = await t.request('GET', `/api/channels/${channel}/history?limit=200`, { token });
    expect(r.status, r.text).toBe(200);
    return r.body.publications;
  };
  const subscriptions = async (login: string): Promise<string[]> => {
    const r = await t.request('GET', '/api/subscriptions', { token: tok(login) });
    expect(r.status).toBe(200);
    return r.body.subscriptions.map((s: { channel: string }) => s.channel);
  };
  const publishRest = (channel: string, body: unknown, token = tok('research1'), headers: Record<string, string> = {}) =>
    t.request('POST', `/api/channels/${channel}/publications`, { token, json: body, headers });
  const expectAlive = async () => {
    const r = await t.request('GET', '/health/live');
    expect(r.status).toBe(200);
  };

  /** Sends a bad raw frame, expects an error reply with `code` (to id `re`), then a working ping. */
  const badFrame = async (ws: WsTestClient, frame: string | object, code: ErrorCode, re = 0) => {
    ws.send(frame);
    const r = await ws.reply(re);
    expectError(r, code);
    expect(ws.isOpen).toBe(true);
    expect(await ws.pingOk()).toBe(true);
  };
  /** Sends a bad command (fresh id), expects `code`, then a working ping. */
  const badCmd = async (c: WsTestClient | SioTestClient, cmd: Record<string, unknown> & { op?: unknown }, code: ErrorCode) => {
    const r = await c.cmd(cmd as never);
    expectError(r, code);
    expect(await c.pingOk()).toBe(true);
  };

  describe('malformed JSON', () => {
    it('REST → 400 QIAO_BAD_JSON, nothing stored', async () => {
      const before = await history('research.macro');
      for (const raw of ['{bad', '{"kind":"note","payload":', '[1,2', '{"kind":"note",}']) {
        const r = await t.request('POST', '/api/channels/research.macro/publications', { token: tok('research1'), raw });
        expect(r.status, raw).toBe(400);
        expect(r.body.error.code, raw).toBe('QIAO_BAD_JSON');
      }
      const login = await t.request('POST', '/api/auth/login', { raw: '{"login":"client1","password":' });
      expect(login.status).toBe(400);
      expect(login.body.error.code).toBe('QIAO_BAD_JSON');
      const sub = await t.request('PUT', '/api/subscriptions/research.macro', { token: tok('client1'), raw: '{prefs:' });
      expect(sub.body.error.code).toBe('QIAO_BAD_JSON');
      expect(await history('research.macro')).toEqual(before);
      expect(await subscriptions('client1')).toEqual([]);
      await expectAlive();
    });

    it('raw WS frame → QIAO_BAD_JSON reply, socket keeps working', async () => {
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      try {
        for (const frame of ['{bad', '', '{"op":"ping","id":1', 'undefined', '\u0000', "{'op':'ping','id':3}"]) {
          await badFrame(ws, frame, 'QIAO_BAD_JSON');
        }
        // When the command id can be read from the broken frame, the reply carries it (docs/protocol.md).
        await badFrame(ws, '{"op":"ping","id":41}}', 'QIAO_BAD_JSON', 41);
        await badFrame(ws, '{"op":"subscribe","id":42,"channel":research.macro}', 'QIAO_BAD_JSON', 42);
        // Valid JSON that is not an object is a bad request, not bad JSON.
        for (const frame of ['null', '42', '"ping"', '[{"op":"ping","id":7}]']) await badFrame(ws, frame, 'QIAO_BAD_REQUEST');
        // A binary frame is refused with a reply too.
        ws.ws.send(Buffer.from('{"op":"ping","id":9}'), { binary: true });
        expectError(await ws.reply(0), 'QIAO_BAD_REQUEST');
        expect(await ws.pingOk()).toBe(true);
      } finally {
        await ws.close();
      }
    });

    it('socket.io command that is not an object → QIAO_BAD_REQUEST ack', async () => {
      const s = await SioTestClient.connect(t.baseUrl, tok('client1'));
      try {
        for (const arg of ['{bad', null, 42, [1, 2]]) {
          expectError(await s.rawCmd(arg), 'QIAO_BAD_REQUEST');
          expect(await s.pingOk()).toBe(true);
        }
      } finally {
        s.close();
      }
    });
  });

  describe('wrong field types and unknown operations', () => {
    it('REST: wrong types in bodies and query strings → 400 QIAO_BAD_REQUEST, nothing stored', async () => {
      const before = await history('research.macro');
      const cases: unknown[] = [
        { kind: 5, payload: note('x') },
        { kind: true, payload: note('x') },
        { kind: ['note'], payload: note('x') },
        { kind: 'note' },
        { payload: note('x') },
        { kind: 'note', payload: note('x'), extra: 1 },
        { kind: '', payload: note('x') },
        [],
        'note',
      ];
      for (const body of cases) {
        const r = await publishRest('research.macro', body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.error.code, JSON.stringify(body)).toBe('QIAO_BAD_REQUEST');
      }
      for (const body of [{ login: 5, password: 'qiao-demo-2026' }, { login: 'client1' }, { login: 'client1', password: ['qiao-demo-2026'] }, {}]) {
        const r = await t.request('POST', '/api/auth/login', { json: body });
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.error.code).toBe('QIAO_BAD_REQUEST');
      }
      for (const prefs of [{ muted: 'yes' }, { muted: 1 }, { digest: 'weekly' }, { transports: { sms: true } }, { colour: 'red' }]) {
        const r = await t.request('PUT', '/api/subscriptions/research.macro', { token: tok('client1'), json: { prefs } });
        expect(r.status, JSON.stringify(prefs)).toBe(400);
        expect(r.body.error.code).toBe('QIAO_BAD_REQUEST');
      }
      for (const q of ['?limit=abc', '?limit=0', '?limit=1000', '?before=0', '?before=x', '?cursor=1']) {
        const r = await t.request('GET', `/api/channels/research.macro/history${q}`, { token: tok('client1') });
        expect(r.status, q).toBe(400);
        expect(r.body.error.code).toBe('QIAO_BAD_REQUEST');
      }
      expect(await history('research.macro')).toEqual(before);
      expect(await subscriptions('client1')).toEqual([]);
      await expectAlive();
    });

    it('raw WS: channel 42 → QIAO_CHANNEL_BAD_NAME; bad since → QIAO_BAD_REQUEST; no id → QIAO_BAD_REQUEST; unknown op → QIAO_UNKNOWN_OP', async () => {
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      try {
        await badCmd(ws, { op: 'subscribe', channel: 42 }, 'QIAO_CHANNEL_BAD_NAME');
        await badCmd(ws, { op: 'subscribe', channel: null }, 'QIAO_CHANNEL_BAD_NAME');
        await badCmd(ws, { op: 'subscribe', channel: { name: 'research.macro' } }, 'QIAO_CHANNEL_BAD_NAME');
        await badCmd(ws, { op: 'subscribe' }, 'QIAO_CHANNEL_BAD_NAME');
        await badCmd(ws, { op: 'subscribe', channel: '' }, 'QIAO_CHANNEL_BAD_NAME');
        await badCmd(ws, { op: 'subscribe', channel: `research.${'x'.repeat(200)}` }, 'QIAO_CHANNEL_BAD_NAME');
        for (const since of [-1, 'x', 1.5, null, '3', Number.MAX_SAFE_INTEGER + 2]) {
          await badCmd(ws, { op: 'subscribe', channel: 'research.macro', since }, 'QIAO_BAD_REQUEST');
        }
        // A command without a usable id is answered with re: 0.
        await badFrame(ws, { op: 'ping' }, 'QIAO_BAD_REQUEST');
        await badFrame(ws, { op: 'subscribe', channel: 'research.macro' }, 'QIAO_BAD_REQUEST');
        await badFrame(ws, { op: 'ping', id: 'one' }, 'QIAO_BAD_REQUEST');
        await badFrame(ws, { op: 'ping', id: 1.5 }, 'QIAO_BAD_REQUEST');
        await badCmd(ws, { op: 'shutdown' }, 'QIAO_UNKNOWN_OP');
        await badCmd(ws, { op: 42 }, 'QIAO_UNKNOWN_OP');
        await badCmd(ws, { op: '__proto__' }, 'QIAO_UNKNOWN_OP');
        await badCmd(ws, {}, 'QIAO_UNKNOWN_OP');
        await badCmd(ws, { op: 'unsubscribe', channel: 'research.macro' }, 'QIAO_NOT_SUBSCRIBED');
        // None of the refused subscribes left a subscription behind: a real one still works and is the first.
        const ok = await ws.subscribe('research.macro');
        expect(ok).toMatchObject({ ok: true, result: { channel: 'research.macro' } });
        await badCmd(ws, { op: 'subscribe', channel: 'research.macro' }, 'QIAO_ALREADY_SUBSCRIBED');
      } finally {
        await ws.close();
      }
    });

    it('socket.io: the same commands give the same codes', async () => {
      const s = await SioTestClient.connect(t.baseUrl, tok('client1'));
      try {
        await badCmd(s, { op: 'subscribe', channel: 42 }, 'QIAO_CHANNEL_BAD_NAME');
        await badCmd(s, { op: 'subscribe', channel: 'research.macro', since: -1 }, 'QIAO_BAD_REQUEST');
        await badCmd(s, { op: 'subscribe', channel: 'research.macro', since: 'x' }, 'QIAO_BAD_REQUEST');
        expectError(await s.rawCmd({ op: 'ping' }), 'QIAO_BAD_REQUEST');
        expectError(await s.rawCmd({ op: 'ping', id: 'x' }), 'QIAO_BAD_REQUEST');
        await badCmd(s, { op: 'shutdown' }, 'QIAO_UNKNOWN_OP');
        expect(await s.pingOk()).toBe(true);
      } finally {
        s.close();
      }
    });
  });

  describe('channel names', () => {
    const BAD_NAMES = ['research.nope', 'alerts.60051.SH', 'alerts.600519.XX', 'inbox.not-a-uuid', 'research.', 'research.sector.mining', 'research.MACRO', 'firm.everyone'];

    it('unknown family foo.bar → QIAO_CHANNEL_UNKNOWN_FAMILY everywhere', async () => {
      const put = await t.request('PUT', '/api/subscriptions/foo.bar', { token: tok('client1'), json: {} });
      expect(put.status).toBe(404);
      expect(put.body.error.code).toBe('QIAO_CHANNEL_UNKNOWN_FAMILY');
      const hist = await t.request('GET', '/api/channels/foo.bar/history', { token: tok('client1') });
      expect(hist.body.error.code).toBe('QIAO_CHANNEL_UNKNOWN_FAMILY');
      const pub = await publishRest('foo.bar', { kind: 'note', payload: note('x') });
      expect(pub.body.error.code).toBe('QIAO_CHANNEL_UNKNOWN_FAMILY');
      const del = await t.request('DELETE', '/api/subscriptions/foo.bar', { token: tok('client1') });
      expect(del.body.error.code).toBe('QIAO_CHANNEL_UNKNOWN_FAMILY');
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      const s = await SioTestClient.connect(t.baseUrl, tok('client1'));
      try {
        for (const name of ['foo.bar', 'foo', 'RESEARCH.macro', '.research.macro']) {
          await badCmd(ws, { op: 'subscribe', channel: name }, 'QIAO_CHANNEL_UNKNOWN_FAMILY');
          await badCmd(s, { op: 'subscribe', channel: name }, 'QIAO_CHANNEL_UNKNOWN_FAMILY');
        }
        await badCmd(ws, { op: 'publish', channel: 'foo.bar', kind: 'note', payload: note('x') }, 'QIAO_CHANNEL_UNKNOWN_FAMILY');
      } finally {
        await ws.close();
        s.close();
      }
      expect(await subscriptions('client1')).toEqual([]);
    });

    it('names outside the family grammar → QIAO_CHANNEL_BAD_NAME everywhere', async () => {
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      const s = await SioTestClient.connect(t.baseUrl, tok('client1'));
      try {
        for (const name of BAD_NAMES) {
          const put = await t.request('PUT', `/api/subscriptions/${encodeURIComponent(name)}`, { token: tok('client1'), json: {} });
          expect(put.status, name).toBe(400);
          expect(put.body.error.code, name).toBe('QIAO_CHANNEL_BAD_NAME');
          const hist = await t.request('GET', `/api/channels/${encodeURIComponent(name)}/history`, { token: tok('client1') });
          expect(hist.body.error.code, name).toBe('QIAO_CHANNEL_BAD_NAME');
          const pub = await publishRest(encodeURIComponent(name), { kind: 'note', payload: note('x') });
          expect(pub.body.error.code, name).toBe('QIAO_CHANNEL_BAD_NAME');
          await badCmd(ws, { op: 'subscribe', channel: name }, 'QIAO_CHANNEL_BAD_NAME');
          await badCmd(s, { op: 'subscribe', channel: name }, 'QIAO_CHANNEL_BAD_NAME');
        }
      } finally {
        await ws.close();
        s.close();
      }
      expect(await subscriptions('client1')).toEqual([]);
      await expectAlive();
    });
  });

  describe('authorisation', () => {
    it('a client cannot subscribe to another user’s inbox (REST, WS, socket.io) → QIAO_SUBSCRIBE_FORBIDDEN', async () => {
      const other = `inbox.${u.client2.user.id}`;
      const put = await t.request('PUT', `/api/subscriptions/${other}`, { token: tok('client1'), json: {} });
      expect(put.status).toBe(403);
      expect(put.body.error.code).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
      const post = await t.request('POST', '/api/subscriptions', { token: tok('client1'), json: { channel: other } });
      expect(post.body.error.code).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
      const hist = await t.request('GET', `/api/channels/${other}/history`, { token: tok('client1') });
      expect(hist.status).toBe(403);
      expect(hist.body.error.code).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      const s = await SioTestClient.connect(t.baseUrl, tok('client1'));
      try {
        await badCmd(ws, { op: 'subscribe', channel: other }, 'QIAO_SUBSCRIBE_FORBIDDEN');
        await badCmd(s, { op: 'subscribe', channel: other }, 'QIAO_SUBSCRIBE_FORBIDDEN');
        // The own inbox is fine.
        expect((await ws.subscribe(`inbox.${u.client1.user.id}`)).ok).toBe(true);
        // An admin notice to client2's inbox does not leak to client1.
        const notice = await publishRest(other, { kind: 'notice', payload: { title: '仅限本人' } }, tok('admin'));
        expect(notice.status).toBe(201);
        await sleep(100);
        expect(ws.frames.peek(isMsg())).toEqual([]);
        expect(s.pushes.peek(isMsg())).toEqual([]);
      } finally {
        await ws.close();
        s.close();
      }
      expect(await subscriptions('client1')).toEqual([]);
    });

    it('a client cannot subscribe to research above its tier (REST, WS, socket.io) → QIAO_ENTITLEMENT_REQUIRED', async () => {
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      const s = await SioTestClient.connect(t.baseUrl, tok('client2'));
      try {
        for (const ch of ['research.quant', 'research.derivatives', 'research.institutional']) {
          const put = await t.request('PUT', `/api/subscriptions/${ch}`, { token: tok('client1'), json: {} });
          expect(put.status).toBe(403);
          expect(put.body.error.code).toBe('QIAO_ENTITLEMENT_REQUIRED');
          await badCmd(ws, { op: 'subscribe', channel: ch }, 'QIAO_ENTITLEMENT_REQUIRED');
          await badCmd(ws, { op: 'subscribe', channel: ch, since: 0 }, 'QIAO_ENTITLEMENT_REQUIRED');
        }
        await badCmd(s, { op: 'subscribe', channel: 'research.institutional' }, 'QIAO_ENTITLEMENT_REQUIRED');
        const hist = await t.request('GET', '/api/channels/research.institutional/history', { token: tok('client2') });
        expect(hist.body.error.code).toBe('QIAO_ENTITLEMENT_REQUIRED');
        // Nothing published there reaches them.
        expect((await publishRest('research.institutional', { kind: 'note', payload: note('机构专享') })).status).toBe(201);
        await sleep(100);
        expect(ws.frames.peek(isMsg())).toEqual([]);
        expect(s.pushes.peek(isMsg())).toEqual([]);
      } finally {
        await ws.close();
        s.close();
      }
      expect(await subscriptions('client1')).toEqual([]);
      expect(await subscriptions('client2')).toEqual([]);
    });

    it('a client cannot publish to research (REST, WS, socket.io) → QIAO_PUBLISH_FORBIDDEN, history unchanged', async () => {
      const ch = 'research.fixed-income';
      const reader = await WsTestClient.connect(t.wsUrl, tok('inst1'));
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      const s = await SioTestClient.connect(t.baseUrl, tok('client2'));
      try {
        expect((await reader.subscribe(ch)).ok).toBe(true);
        const before = await history(ch);
        const rest = await publishRest(ch, { kind: 'note', payload: note('伪造研报') }, tok('client1'));
        expect(rest.status).toBe(403);
        expect(rest.body.error.code).toBe('QIAO_PUBLISH_FORBIDDEN');
        const withKey = await publishRest(ch, { kind: 'note', payload: note('伪造研报') }, tok('client1'), { 'idempotency-key': 'forged-1' });
        expect(withKey.body.error.code).toBe('QIAO_PUBLISH_FORBIDDEN');
        await badCmd(ws, { op: 'publish', channel: ch, kind: 'note', payload: note('伪造研报') }, 'QIAO_PUBLISH_FORBIDDEN');
        await badCmd(s, { op: 'publish', channel: ch, kind: 'note', payload: note('伪造研报') }, 'QIAO_PUBLISH_FORBIDDEN');
        // Also firm-wide broadcast and alerts.
        await badCmd(ws, { op: 'publish', channel: 'firm.broadcast', kind: 'notice', payload: { title: 'x' } }, 'QIAO_PUBLISH_FORBIDDEN');
        await badCmd(ws, { op: 'publish', channel: 'alerts.market', kind: 'alert', payload: { title: 'x' } }, 'QIAO_PUBLISH_FORBIDDEN');
        expect(await history(ch)).toEqual(before);
        await sleep(100);
        expect(reader.frames.peek(isMsg(ch))).toEqual([]);
        // The research desk still can, and gets the next offset (nothing was allocated by the refusals).
        const ok = await publishRest(ch, { kind: 'note', payload: note('固收周报') });
        expect(ok.status).toBe(201);
        expect(ok.body.offset).toBe(before.length + 1);
        expect((await reader.nextPush<MsgPush>(isMsg(ch))).id).toBe(ok.body.id);
      } finally {
        await Promise.all([reader.close(), ws.close()]);
        s.close();
      }
    });

    it('a wrong note payload → QIAO_BAD_PUBLICATION (REST, WS, socket.io), history unchanged', async () => {
      const ch = 'research.sector.consumer';
      const before = await history(ch);
      const bad: unknown[] = [
        note('x', { riskLevel: 'R9' }),
        note('x', { tickers: ['AAPL'] }),
        note('x', { tickers: ['600519.SH', '60051.SH'] }),
        note('x', { tickers: '600519.SH' }),
        note('', {}),
        note('x'.repeat(201)),
        note('x', { unexpected: true }),
        { riskLevel: 'R2' },
        'just a string',
        null,
        [note('x')],
      ];
      const ws = await WsTestClient.connect(t.wsUrl, tok('research1'));
      const s = await SioTestClient.connect(t.baseUrl, tok('research1'));
      try {
        for (const payload of bad) {
          const r = await publishRest(ch, { kind: 'note', payload });
          expect(r.status, JSON.stringify(payload)).toBe(400);
          expect(r.body.error.code, JSON.stringify(payload)).toBe('QIAO_BAD_PUBLICATION');
          await badCmd(ws, { op: 'publish', channel: ch, kind: 'note', payload }, 'QIAO_BAD_PUBLICATION');
          await badCmd(s, { op: 'publish', channel: ch, kind: 'note', payload }, 'QIAO_BAD_PUBLICATION');
        }
        for (const kind of ['alert', 'chat', 'Note', '__proto__', 'constructor']) {
          const r = await publishRest(ch, { kind, payload: note('x') });
          expect(r.body.error.code, kind).toBe('QIAO_BAD_PUBLICATION');
          await badCmd(ws, { op: 'publish', channel: ch, kind, payload: note('x') }, 'QIAO_BAD_PUBLICATION');
        }
        await badCmd(ws, { op: 'publish', channel: ch, kind: 5, payload: note('x') }, 'QIAO_BAD_PUBLICATION');
        await badCmd(ws, { op: 'publish', channel: ch, payload: note('x') }, 'QIAO_BAD_PUBLICATION');
      } finally {
        await ws.close();
        s.close();
      }
      expect(await history(ch)).toEqual(before);
      await expectAlive();
    });

    it('text Postgres cannot store (NUL, unpaired surrogate) → QIAO_BAD_PUBLICATION, not an outage', async () => {
      const ch = 'research.sector.energy';
      const before = await history(ch);
      const ws = await WsTestClient.connect(t.wsUrl, tok('research1'));
      try {
        // A backslash right before the bad character: its escape must still be seen as one.
        for (const payload of [note('nul\u0000byte'), note('x', { body: 'lone \ud800 surrogate' }), note('x', { summary: 'lone \udc00 low' }), note('x', { body: 'back\\\u0000slash' }), note('x', { body: 'two\\\\\udbff' })]) {
          const r = await publishRest(ch, { kind: 'note', payload });
          expect(r.status, JSON.stringify(payload)).toBe(400);
          expect(r.body.error.code).toBe('QIAO_BAD_PUBLICATION');
          await badCmd(ws, { op: 'publish', channel: ch, kind: 'note', payload }, 'QIAO_BAD_PUBLICATION');
        }
        // A NUL byte in a login cannot be a login (and used to reach Postgres as a 500).
        const login = await t.request('POST', '/api/auth/login', { json: { login: 'client1\u0000', password: 'qiao-demo-2026' } });
        expect(login.status).toBe(400);
        expect(login.body.error.code).toBe('QIAO_BAD_REQUEST');
      } finally {
        await ws.close();
      }
      expect(await history(ch)).toEqual(before);
      const ready = await t.request('GET', '/health/ready');
      expect(ready.status).toBe(200);
    });
  });

  describe('limits', () => {
    const bigNote = (bytes: number) => note('大', { body: 'x'.repeat(bytes) });

    it('payloads over QIAO_MAX_PAYLOAD_BYTES: REST → 413, WS → reply and socket works, socket.io → ack', async () => {
      const ch = 'research.sector.healthcare';
      const before = await history(ch);
      const over = await publishRest(ch, { kind: 'note', payload: bigNote(MAX_PAYLOAD + 100) });
      expect(over.status).toBe(413);
      expect(over.body.error.code).toBe('QIAO_PAYLOAD_TOO_LARGE');
      // Beyond the body limit the body is not even read.
      const huge = await publishRest(ch, { kind: 'note', payload: bigNote(MAX_PAYLOAD * 8) });
      expect(huge.status).toBe(413);
      expect(huge.body.error.code).toBe('QIAO_PAYLOAD_TOO_LARGE');
      // Multi-byte characters count as bytes.
      const cjk = await publishRest(ch, { kind: 'note', payload: note('x', { body: '研'.repeat(Math.ceil(MAX_PAYLOAD / 3) + 10) }) });
      expect(cjk.body.error.code).toBe('QIAO_PAYLOAD_TOO_LARGE');

      const ws = await WsTestClient.connect(t.wsUrl, tok('research1'));
      const s = await SioTestClient.connect(t.baseUrl, tok('research1'));
      try {
        expect(ws.welcome?.limits.maxPayloadBytes).toBe(MAX_PAYLOAD);
        // A frame over the limit is refused as a whole (re: 0), the socket stays open.
        ws.send({ op: 'publish', id: 77, channel: ch, kind: 'note', payload: bigNote(MAX_PAYLOAD + 100) });
        expectError(await ws.reply(77), 'QIAO_PAYLOAD_TOO_LARGE');
        expect(await ws.pingOk()).toBe(true);
        ws.send(JSON.stringify({ op: 'ping', id: 78, pad: 'y'.repeat(MAX_PAYLOAD * 2) }));
        expectError(await ws.reply(78), 'QIAO_PAYLOAD_TOO_LARGE');
        expect(await ws.pingOk()).toBe(true);
        // Without a readable id (not in the first 256 characters) the reply goes to re: 0.
        ws.send(JSON.stringify({ pad: 'y'.repeat(MAX_PAYLOAD * 2), op: 'ping', id: 79 }));
        expectError(await ws.reply(0), 'QIAO_PAYLOAD_TOO_LARGE');
        expect(await ws.pingOk()).toBe(true);
        await badCmd(s, { op: 'publish', channel: ch, kind: 'note', payload: bigNote(MAX_PAYLOAD + 100) }, 'QIAO_PAYLOAD_TOO_LARGE');
        expect(s.connected).toBe(true);
        // Just under the limit works on every path.
        const fits = bigNote(MAX_PAYLOAD - 400);
        expect((await ws.cmd({ op: 'publish', channel: ch, kind: 'note', payload: fits })).ok).toBe(true);
      } finally {
        await ws.close();
        s.close();
      }
      const after = await history(ch);
      expect(after.length).toBe(before.length + 1);
      await expectAlive();
    });

    it('the REST body limit is QIAO_MAX_PAYLOAD_BYTES for the whole body: exactly the limit is accepted, +1 … +4096 bytes → 413', async () => {
      const ch = 'research.sector.finance';
      const before = await history(ch);
      /** A publish body of exactly `bytes` bytes (ASCII), a valid note. */
      const bodyOfBytes = (bytes: number) => {
        const head = '{"kind":"note","payload":{"title":"size","riskLevel":"R1","body":"';
        const tail = '"}}';
        const raw = head + 'x'.repeat(bytes - head.length - tail.length) + tail;
        expect(Buffer.byteLength(raw)).toBe(bytes);
        return raw;
      };
      for (const extra of [1, 2, 100, 1024, 4095, 4096]) {
        const r = await t.request('POST', `/api/channels/${ch}/publications`, { token: tok('research1'), raw: bodyOfBytes(MAX_PAYLOAD + extra) });
        expect(r.status, `+${extra}`).toBe(413);
        expect(r.body.error.code, `+${extra}`).toBe('QIAO_PAYLOAD_TOO_LARGE');
      }
      // A payload that fits on its own but not with its envelope: the body as a whole decides.
      const overhead = Buffer.byteLength(JSON.stringify(note('envelope', { body: '' })));
      const payload = note('envelope', { body: 'y'.repeat(MAX_PAYLOAD - overhead - 5) });
      expect(Buffer.byteLength(JSON.stringify(payload))).toBeLessThanOrEqual(MAX_PAYLOAD);
      expect(Buffer.byteLength(JSON.stringify({ kind: 'note', payload }))).toBeGreaterThan(MAX_PAYLOAD);
      const wrapped = await publishRest(ch, { kind: 'note', payload });
      expect(wrapped.status).toBe(413);
      expect(wrapped.body.error.code).toBe('QIAO_PAYLOAD_TOO_LARGE');
      // Other routes share the limit (login is not authenticated: still not read beyond the limit).
      const login = await t.request('POST', '/api/auth/login', { raw: JSON.stringify({ login: 'client1', password: 'p'.repeat(MAX_PAYLOAD) }) });
      expect(login.status).toBe(413);
      expect(login.body.error.code).toBe('QIAO_PAYLOAD_TOO_LARGE');
      expect(await history(ch)).toEqual(before);
      // Exactly the limit is read and published.
      const exact = await t.request('POST', `/api/channels/${ch}/publications`, { token: tok('research1'), raw: bodyOfBytes(MAX_PAYLOAD) });
      expect(exact.status, exact.text).toBe(201);
      expect(exact.body.offset).toBe(before.length + 1);
      await expectAlive();
    });

    it(`more than QIAO_MAX_SUBSCRIPTIONS=${MAX_SUBS} on one connection → QIAO_TOO_MANY_SUBSCRIPTIONS`, async () => {
      const channels = ['research.macro', 'research.strategy', 'firm.broadcast', 'alerts.market'];
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      const s = await SioTestClient.connect(t.baseUrl, tok('client1'));
      try {
        expect(ws.welcome?.limits.maxSubscriptions).toBe(MAX_SUBS);
        for (const c of [ws, s]) {
          for (const ch of channels.slice(0, MAX_SUBS)) expect((await c.subscribe(ch)).ok).toBe(true);
          await badCmd(c, { op: 'subscribe', channel: channels[MAX_SUBS] }, 'QIAO_TOO_MANY_SUBSCRIPTIONS');
          await badCmd(c, { op: 'subscribe', channel: 'alerts.600519.SH', since: 0 }, 'QIAO_TOO_MANY_SUBSCRIPTIONS');
          // Freeing a slot makes room again.
          expect((await c.cmd({ op: 'unsubscribe', channel: channels[0] })).ok).toBe(true);
          expect((await c.subscribe(channels[MAX_SUBS])).ok).toBe(true);
          await badCmd(c, { op: 'subscribe', channel: channels[0] }, 'QIAO_TOO_MANY_SUBSCRIPTIONS');
        }
        // The limit is per connection: a second connection of the same user starts empty.
        const ws2 = await WsTestClient.connect(t.wsUrl, tok('client1'));
        expect((await ws2.subscribe(channels[0])).ok).toBe(true);
        await ws2.close();
      } finally {
        await ws.close();
        s.close();
      }
    });
  });

  describe('deep JSON and long channel names (a hub with QIAO_MAX_PAYLOAD_BYTES = 1 MiB, so size is not what refuses them)', () => {
    const BIG = 1024 * 1024;
    let big: TestApp;
    const bu: Record<string, Login> = {};
    let conv: string; // broker1 ↔ client1, from the demo seed
    beforeAll(async () => {
      big = await startEmbeddedApp({ QIAO_MAX_PAYLOAD_BYTES: String(BIG) });
      for (const l of ['client1', 'research1']) bu[l] = await big.login(l);
      const r = await big.request('GET', '/api/conversations', { token: bu.client1.token });
      expect(r.status, r.text).toBe(200);
      conv = r.body.conversations.find((c: { type: string }) => c.type === 'broker_client').id;
    });
    afterAll(async () => {
      await big?.close();
    });

    /** JSON text of `n` nested objects, `{"a":{"a":…1…}}` (built as text: JSON.stringify itself overflows). */
    const deepText = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    const DEPTHS = [5_000, 100_000];
    const bigHistory = async (channel: string): Promise<MsgPush[]> => {
      const r = await big.request('GET', `/api/channels/${channel}/history?limit=200`, { token: bu.research1.token });
      expect(r.status, r.text).toBe(200);
      return r.body.publications;
    };
    const convMessages = async (): Promise<MsgPush[]> => {
      const r = await big.request('GET', `/api/conversations/${conv}/messages?limit=200`, { token: bu.client1.token });
      expect(r.status, r.text).toBe(200);
      return r.body.publications;
    };
    const expectRest = (r: { status: number; text: string; body: any }, status: number, code: ErrorCode, what: string) => {
      expect(r.status, `${what}: ${r.text.slice(0, 300)}`).toBe(status);
      expect(r.body?.error?.code, what).toBe(code);
    };
    /**
     * Sends a socket.io `cmd` whose argument is the JSON text `cmdText`, written straight into the
     * engine.io connection (socket.io-client cannot encode such a value: its encoder and JSON.stringify
     * recurse). With `ack`, as emitWithAck does (reply through the ack); without, the reply is a push.
     */
    const sioRaw = (s: SioTestClient, cmdText: string, id: number, ack: boolean): Promise<Reply> => {
      const sock = s.socket as unknown as { acks: Record<number, (r: Reply) => void>; io: { engine: { write(d: string): void } } };
      if (!ack) {
        sock.io.engine.write(`2["cmd",${cmdText}]`);
        return s.nextPush((p) => (p as unknown as Reply).t === 'reply' && (p as unknown as Reply).re === id) as unknown as Promise<Reply>;
      }
      const ackId = 1_000_000 + id;
      const reply = new Promise<Reply>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no socket.io ack for ${id}`)), 10_000);
        sock.acks[ackId] = (r: Reply) => {
          clearTimeout(timer);
          resolve(r);
        };
      });
      sock.io.engine.write(`2${ackId}["cmd",${cmdText}]`);
      return reply;
    };

    it('REST: a deep publish body, deep note field or deep chat payload → 400 QIAO_PAYLOAD_TOO_DEEP, nothing stored', async () => {
      const ch = 'research.macro';
      const before = await bigHistory(ch);
      const convBefore = await convMessages();
      for (const n of DEPTHS) {
        const deep = deepText(n);
        const publish = (raw: string, headers: Record<string, string> = {}) =>
          big.request('POST', `/api/channels/${ch}/publications`, { token: bu.research1.token, raw, headers });
        expectRest(await publish(`{"kind":"note","payload":${deep}}`), 400, 'QIAO_PAYLOAD_TOO_DEEP', `payload ${n}`);
        expectRest(
          await publish(`{"kind":"note","payload":{"title":"深","riskLevel":"R1","category":${deep}}}`, { 'idempotency-key': `deep-${n}` }),
          400,
          'QIAO_PAYLOAD_TOO_DEEP',
          `note field ${n}`,
        );
        expectRest(await publish(deep), 400, 'QIAO_PAYLOAD_TOO_DEEP', `whole body ${n}`);
        expectRest(await publish('['.repeat(n) + ']'.repeat(n)), 400, 'QIAO_PAYLOAD_TOO_DEEP', `arrays ${n}`);
        // Keys fastify's parser inspects for prototype poisoning do not change the answer (50,000 levels fit in 1 MiB).
        const c = Math.min(n, 50_000);
        expectRest(await publish('{"constructor":'.repeat(c) + '1' + '}'.repeat(c)), 400, 'QIAO_PAYLOAD_TOO_DEEP', `constructor keys ${c}`);
        const chat = await big.request('POST', `/api/conversations/${conv}/messages`, { token: bu.client1.token, raw: `{"kind":"chat","payload":{"text":${deep}}}` });
        expectRest(chat, 400, 'QIAO_PAYLOAD_TOO_DEEP', `chat ${n}`);
        // One check for every route: before authentication and validation, whatever the route.
        expectRest(await big.request('POST', '/api/auth/login', { raw: `{"login":"client1","password":${deep}}` }), 400, 'QIAO_PAYLOAD_TOO_DEEP', `login ${n}`);
        expectRest(
          await big.request('PUT', `/api/subscriptions/${ch}`, { token: bu.client1.token, raw: `{"prefs":${deep}}` }),
          400,
          'QIAO_PAYLOAD_TOO_DEEP',
          `subscription prefs ${n}`,
        );
      }
      expect(await bigHistory(ch)).toEqual(before);
      expect(await convMessages()).toEqual(convBefore);
      const subs = await big.request('GET', '/api/subscriptions', { token: bu.client1.token });
      expect(subs.body.subscriptions).toEqual([]);
      expect((await big.request('GET', '/health/live')).status).toBe(200);
      // The same key publishes normally afterwards: the refusal stored nothing under it.
      const ok = await big.request('POST', `/api/channels/${ch}/publications`, {
        token: bu.research1.token,
        json: { kind: 'note', payload: note('深度之后') },
        headers: { 'idempotency-key': 'deep-5000' },
      });
      expect(ok.status, ok.text).toBe(201);
      expect(ok.body.offset).toBe(before.length + 1);
    });

    it('REST: exactly MAX_JSON_DEPTH levels is not refused for depth; one more is', async () => {
      // The body counts: {kind, payload: {title, riskLevel, category: <d-2 levels>}} is d levels deep.
      const bodyOfDepth = (d: number) => `{"kind":"note","payload":{"title":"x","riskLevel":"R1","category":${'['.repeat(d - 2)}${']'.repeat(d - 2)}}}`;
      const at = await big.request('POST', '/api/channels/research.strategy/publications', { token: bu.research1.token, raw: bodyOfDepth(MAX_JSON_DEPTH) });
      // Refused by the note schema (category is a string), not by depth.
      expectRest(at, 400, 'QIAO_BAD_PUBLICATION', 'at the limit');
      const over = await big.request('POST', '/api/channels/research.strategy/publications', { token: bu.research1.token, raw: bodyOfDepth(MAX_JSON_DEPTH + 1) });
      expectRest(over, 400, 'QIAO_PAYLOAD_TOO_DEEP', 'one over');
      // Subscription prefs at the limit: refused by the schema, not by depth.
      const prefs = await big.request('PUT', '/api/subscriptions/research.macro', { token: bu.client1.token, raw: `{"prefs":${'{"muted":'.repeat(MAX_JSON_DEPTH - 1)}true${'}'.repeat(MAX_JSON_DEPTH - 1)}}` });
      expectRest(prefs, 400, 'QIAO_BAD_REQUEST', 'prefs at the limit');
    });

    it('raw WebSocket: deep publish, chat and any other command → QIAO_PAYLOAD_TOO_DEEP reply to its id, socket keeps working, nothing stored', async () => {
      const ch = 'research.macro';
      const before = await bigHistory(ch);
      const convBefore = await convMessages();
      const desk = await WsTestClient.connect(big.wsUrl, bu.research1.token);
      const client = await WsTestClient.connect(big.wsUrl, bu.client1.token);
      try {
        expect((await client.subscribe(ch)).ok).toBe(true);
        let id = 500;
        for (const n of DEPTHS) {
          const deep = deepText(n);
          const frames: Array<[WsTestClient, (i: number) => string]> = [
            [desk, (i) => `{"op":"publish","id":${i},"channel":"${ch}","kind":"note","payload":${deep}}`],
            [desk, (i) => `{"op":"publish","id":${i},"channel":"${ch}","kind":"note","payload":{"title":"深","riskLevel":"R1","category":${deep}}}`],
            [client, (i) => `{"op":"publish","id":${i},"channel":"conv.${conv}","kind":"chat","payload":{"text":${deep}}}`],
            [client, (i) => `{"op":"ping","id":${i},"x":${deep}}`],
            [client, (i) => `{"op":"subscribe","id":${i},"channel":"research.strategy","since":${deep}}`],
          ];
          for (const [ws, frame] of frames) {
            const i = ++id;
            ws.send(frame(i));
            expectError(await ws.reply(i), 'QIAO_PAYLOAD_TOO_DEEP');
            expect(ws.isOpen).toBe(true);
            expect(await ws.pingOk()).toBe(true);
          }
          // Deep at the top, no id to read: re 0.
          await badFrame(client, '['.repeat(n) + ']'.repeat(n), 'QIAO_PAYLOAD_TOO_DEEP');
        }
        // At the limit a command runs; one level more is refused.
        const at = await client.cmd({ op: 'ping', x: JSON.parse(deepText(MAX_JSON_DEPTH - 1)) });
        expect(at.ok, JSON.stringify(at)).toBe(true);
        await badCmd(client, { op: 'ping', x: JSON.parse(deepText(MAX_JSON_DEPTH)) }, 'QIAO_PAYLOAD_TOO_DEEP');
        await sleep(100);
        expect(client.frames.peek(isMsg(ch))).toEqual([]);
      } finally {
        await Promise.all([desk.close(), client.close()]);
      }
      expect(await bigHistory(ch)).toEqual(before);
      expect(await convMessages()).toEqual(convBefore);
      expect((await big.request('GET', '/api/subscriptions', { token: bu.client1.token })).body.subscriptions).toEqual([]);
    });

    it('socket.io: deep publish and chat commands (with and without ack) → QIAO_PAYLOAD_TOO_DEEP, socket keeps working, nothing stored', async () => {
      const ch = 'research.macro';
      const before = await bigHistory(ch);
      const convBefore = await convMessages();
      const desk = await SioTestClient.connect(big.baseUrl, bu.research1.token);
      const client = await SioTestClient.connect(big.baseUrl, bu.client1.token);
      try {
        let id = 700;
        for (const n of DEPTHS) {
          const deep = deepText(n);
          for (const ack of [true, false]) {
            const cmds: Array<[SioTestClient, (i: number) => string]> = [
              [desk, (i) => `{"op":"publish","id":${i},"channel":"${ch}","kind":"note","payload":${deep}}`],
              [desk, (i) => `{"op":"publish","id":${i},"channel":"${ch}","kind":"note","payload":{"title":"深","riskLevel":"R1","category":${deep}}}`],
              [client, (i) => `{"op":"publish","id":${i},"channel":"conv.${conv}","kind":"chat","payload":{"text":${deep}}}`],
              [client, (i) => `{"op":"ping","id":${i},"x":${deep}}`],
            ];
            for (const [s, cmd] of cmds) {
              const i = ++id;
              const r = await sioRaw(s, cmd(i), i, ack);
              expectError(r, 'QIAO_PAYLOAD_TOO_DEEP');
              expect(r.re).toBe(i);
              expect(s.connected).toBe(true);
              expect(await s.pingOk()).toBe(true);
            }
          }
        }
        // Through the ordinary client API (a depth its encoder can still handle): at the limit runs, one more is refused.
        const at = await client.cmd({ op: 'ping', x: JSON.parse(deepText(MAX_JSON_DEPTH - 1)) });
        expect(at.ok, JSON.stringify(at)).toBe(true);
        await badCmd(client, { op: 'ping', x: JSON.parse(deepText(MAX_JSON_DEPTH)) }, 'QIAO_PAYLOAD_TOO_DEEP');
        await badCmd(desk, { op: 'publish', channel: ch, kind: 'note', payload: note('深', { category: JSON.parse(deepText(200)) }) }, 'QIAO_PAYLOAD_TOO_DEEP');
        await badCmd(client, { op: 'publish', channel: `conv.${conv}`, kind: 'chat', payload: { text: JSON.parse(deepText(200)) } }, 'QIAO_PAYLOAD_TOO_DEEP');
      } finally {
        desk.close();
        client.close();
      }
      expect(await bigHistory(ch)).toEqual(before);
      expect(await convMessages()).toEqual(convBefore);
    });

    it('channel names that are empty, 10,000 characters or outside the grammar → QIAO_CHANNEL_BAD_NAME on every REST route and both sockets', async () => {
      const names = ['', 'x'.repeat(10_000), `research.${'x'.repeat(10_000)}`, 'x'.repeat(129), 'research.MACRO', 'research.sector.mining', 'alerts.60051.SH', 'research.\u0000'];
      const tok1 = bu.client1.token;
      const ws = await WsTestClient.connect(big.wsUrl, tok1);
      const s = await SioTestClient.connect(big.baseUrl, tok1);
      try {
        for (const name of names) {
          const what = `${JSON.stringify(name.slice(0, 20))} (${name.length})`;
          const path = encodeURIComponent(name);
          expectRest(await big.request('POST', '/api/subscriptions', { token: tok1, json: { channel: name } }), 400, 'QIAO_CHANNEL_BAD_NAME', `POST ${what}`);
          expectRest(await big.request('POST', '/api/subscriptions', { token: tok1, json: { channel: name, prefs: { muted: true } } }), 400, 'QIAO_CHANNEL_BAD_NAME', `POST+prefs ${what}`);
          expectRest(await big.request('PUT', `/api/subscriptions/${path}`, { token: tok1, json: {} }), 400, 'QIAO_CHANNEL_BAD_NAME', `PUT ${what}`);
          expectRest(await big.request('DELETE', `/api/subscriptions/${path}`, { token: tok1 }), 400, 'QIAO_CHANNEL_BAD_NAME', `DELETE ${what}`);
          expectRest(await big.request('GET', `/api/channels/${path}/history`, { token: tok1 }), 400, 'QIAO_CHANNEL_BAD_NAME', `history ${what}`);
          expectRest(
            await big.request('POST', `/api/channels/${path}/publications`, { token: bu.research1.token, json: { kind: 'note', payload: note('x') } }),
            400,
            'QIAO_CHANNEL_BAD_NAME',
            `publish ${what}`,
          );
          await badCmd(ws, { op: 'subscribe', channel: name }, 'QIAO_CHANNEL_BAD_NAME');
          await badCmd(s, { op: 'subscribe', channel: name }, 'QIAO_CHANNEL_BAD_NAME');
        }
        // An unknown family is still its own code, on REST as on the sockets.
        expectRest(await big.request('POST', '/api/subscriptions', { token: tok1, json: { channel: 'foo.bar' } }), 404, 'QIAO_CHANNEL_UNKNOWN_FAMILY', 'POST foo.bar');
        await badCmd(s, { op: 'subscribe', channel: 'foo.bar' }, 'QIAO_CHANNEL_UNKNOWN_FAMILY');
        // A good name still subscribes over POST (the schema only lost its lengths, not its type).
        const okPost = await big.request('POST', '/api/subscriptions', { token: tok1, json: { channel: 'research.macro' } });
        expect(okPost.status, okPost.text).toBe(201);
        expect(okPost.body.channel).toBe('research.macro');
      } finally {
        await ws.close();
        s.close();
      }
      const subs = await big.request('GET', '/api/subscriptions', { token: tok1 });
      expect(subs.body.subscriptions.map((x: { channel: string }) => x.channel)).toEqual(['research.macro']);
      expect((await big.request('DELETE', '/api/subscriptions/research.macro', { token: tok1 })).status).toBe(204);
    });
  });

  describe('rate limit', () => {
    let rl: TestApp;
    let token: string;
    beforeAll(async () => {
      rl = await startEmbeddedApp({ QIAO_RATE_LIMIT_BURST: '10', QIAO_RATE_LIMIT_PER_S: '5' });
      token = (await rl.login('client1')).token;
    });
    afterAll(async () => {
      await rl?.close();
    });

    it('a burst beyond the bucket gets QIAO_RATE_LIMITED replies; after waiting the connection works again', async () => {
      const ws = await WsTestClient.connect(rl.wsUrl, token);
      try {
        const ids = Array.from({ length: 30 }, (_, i) => 1000 + i);
        for (const id of ids) ws.send({ op: 'ping', id });
        const replies = await Promise.all(ids.map((id) => ws.reply(id)));
        const ok = replies.filter((r) => r.ok).length;
        const limited = replies.filter((r) => !r.ok && r.error.code === 'QIAO_RATE_LIMITED').length;
        expect(ok + limited).toBe(30);
        expect(ok).toBeGreaterThanOrEqual(10);
        expect(ok).toBeLessThanOrEqual(20); // 10 from the bucket, plus refill at 5/s while the burst is processed
        expect(limited).toBeGreaterThan(0);
        // Every reply is answered in order of the commands (the refusals are not silently dropped).
        expect(replies.map((r) => r.re)).toEqual(ids);
        expect(ws.isOpen).toBe(true);
        await sleep(1200);
        for (let i = 0; i < 4; i++) expect(await ws.pingOk()).toBe(true);
        // A refused subscribe leaves nothing behind.
        for (let i = 0; i < 20; i++) ws.send({ op: 'ping', id: 5000 + i });
        const limitedSub = await ws.cmd({ op: 'subscribe', channel: 'research.macro' });
        expectError(limitedSub, 'QIAO_RATE_LIMITED');
        await sleep(1200);
        expect((await ws.subscribe('research.macro')).ok).toBe(true);
      } finally {
        await ws.close();
      }
    });

    it('socket.io commands share the same limit', async () => {
      const s = await SioTestClient.connect(rl.baseUrl, token);
      try {
        const replies = await Promise.all(Array.from({ length: 25 }, () => s.cmd({ op: 'ping' })));
        expect(replies.filter((r) => !r.ok && r.error.code === 'QIAO_RATE_LIMITED').length).toBeGreaterThan(0);
        expect(s.connected).toBe(true);
        await sleep(1200);
        expect(await s.pingOk()).toBe(true);
      } finally {
        s.close();
      }
    });
  });

  describe('tokens', () => {
    const CASES: Array<{ name: string; token: () => Promise<string | null>; code: ErrorCode; close: number }> = [
      {
        name: 'expired',
        token: async () => {
          const shifted = createTokenService(TEST_JWT_SECRET, 60, () => Date.now() - 3_600_000);
          return (await shifted.issue({ id: u.client1.user.id, role: 'client', displayName: 'x', tier: 'general' })).token;
        },
        code: 'QIAO_TOKEN_EXPIRED',
        close: 4603,
      },
      { name: 'malformed abc', token: async () => 'abc', code: 'QIAO_TOKEN_MALFORMED', close: 4602 },
      { name: 'malformed a.b.c', token: async () => 'a.b.c', code: 'QIAO_TOKEN_MALFORMED', close: 4602 },
      { name: 'malformed, too long', token: async () => `${'a'.repeat(3000)}.${'b'.repeat(3000)}.c`, code: 'QIAO_TOKEN_MALFORMED', close: 4602 },
      {
        name: 'signed with another key',
        token: async () => {
          const other = createTokenService('another-secret-that-is-also-32-characters-long', 3600);
          return (await other.issue({ id: u.client1.user.id, role: 'admin', displayName: 'x' })).token;
        },
        code: 'QIAO_TOKEN_INVALID_SIGNATURE',
        close: 4605,
      },
      {
        name: 'claims tampered after signing',
        token: async () => {
          const [h, p, s] = tok('client1').split('.');
          const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
          claims.role = 'admin';
          return [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
        },
        code: 'QIAO_TOKEN_INVALID_SIGNATURE',
        close: 4605,
      },
      { name: 'missing', token: async () => null, code: 'QIAO_AUTH_REQUIRED', close: 4601 },
    ];

    for (const c of CASES) {
      it(`${c.name} → REST 401 ${c.code}, WS close ${c.close}, socket.io connect_error`, async () => {
        const token = await c.token();
        const me = await t.request('GET', '/api/me', token === null ? {} : { token });
        expect(me.status).toBe(401);
        expect(me.body.error.code).toBe(c.code);
        expect(me.headers.get('www-authenticate')).toContain(c.code);
        const subs = await t.request('PUT', '/api/subscriptions/research.macro', { ...(token === null ? {} : { token }), json: {} });
        expect(subs.body.error.code).toBe(c.code);

        const ws = WsTestClient.open(t.wsUrl, token);
        const closed = await ws.closed;
        expect(closed).toEqual({ code: c.close, reason: c.code });
        expect(ws.frames.all.filter((f) => f.t === 'welcome')).toEqual([]);

        const err = await SioTestClient.connectError(t.baseUrl, token === null ? undefined : { token });
        expect(err.data?.code).toBe(c.code);
      });
    }

    it('the hub keeps serving valid tokens after all that', async () => {
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      expect(await ws.pingOk()).toBe(true);
      await ws.close();
      expect(await subscriptions('client1')).toEqual([]);
    });
  });

  describe('SQL and HTML metacharacters are data', () => {
    // Users seeded before any evil input: the count must not change (nothing dropped, nothing added).
    let seededUsers = 0;
    beforeAll(async () => {
      const res = (await t.app.qiao.db.db.execute(sql`select count(*) as n from users`)) as unknown as { rows: Array<{ n: unknown }> };
      seededUsers = Number(res.rows[0].n);
    });
    const EVIL = [
      "'; DROP TABLE messages; --",
      '<script>alert(1)</script>',
      '"\\',
      "Robert'); DROP TABLE users;--",
      '贵州茅台（600519）今日涨停，研报：“维持买入”',
      '📈🚀 emoji 👨‍👩‍👧 and 𠮷',
      '${1+1} {{7*7}} %s %n \\u0000 \\x00',
      'line1\nline2\r\n\ttabbed',
      '  leading and trailing spaces  ',
    ];

    it('note title/summary/body are stored and delivered verbatim (REST, WS, socket.io) and the tables survive', async () => {
      const ch = 'research.sector.materials';
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      const s = await SioTestClient.connect(t.baseUrl, tok('client2'));
      const pubWs = await WsTestClient.connect(t.wsUrl, tok('research1'));
      const pubSio = await SioTestClient.connect(t.baseUrl, tok('research1'));
      try {
        expect((await ws.subscribe(ch)).ok).toBe(true);
        expect((await s.subscribe(ch)).ok).toBe(true);
        const sent: Array<Record<string, unknown>> = [];
        const ids: string[] = [];
        for (const [i, evil] of EVIL.entries()) {
          const payload = note(evil, { summary: `${evil} | summary`, body: `${evil}\n${EVIL.join('\n')}`, category: evil.slice(0, 60) });
          let id: string;
          if (i % 3 === 0) {
            const r = await publishRest(ch, { kind: 'note', payload }, tok('research1'), { 'idempotency-key': `${evil.replace(/[^\x20-\x7e]/g, '?')}-${i}` });
            expect(r.status, evil).toBe(201);
            id = r.body.id;
          } else {
            const c = i % 3 === 1 ? pubWs : pubSio;
            const r = await c.cmd({ op: 'publish', channel: ch, kind: 'note', payload });
            expect(r.ok, JSON.stringify(r)).toBe(true);
            id = (r as { result: { id: string } }).result.id;
          }
          sent.push(payload);
          ids.push(id);
        }
        const viaWs = await ws.msgs(ch, EVIL.length);
        const viaSio = await s.msgs(ch, EVIL.length);
        const hist = await history(ch);
        for (const got of [viaWs, viaSio, hist]) {
          expect(got.map((m) => m.id)).toEqual(ids);
          got.forEach((m, i) => {
            const p = m.payload as Record<string, unknown>;
            expect(p).toEqual(sent[i]);
            for (const k of ['title', 'summary', 'body', 'category']) {
              expect(Buffer.from(p[k] as string, 'utf8').equals(Buffer.from(sent[i][k] as string, 'utf8')), k).toBe(true);
            }
          });
        }
        // The raw WebSocket text carries exactly the JSON encoding of each title.
        for (const evil of EVIL) expect(ws.messages.some((m) => m.includes(JSON.stringify(evil)))).toBe(true);
        // A retried REST publish with the same (metacharacter) idempotency key is a duplicate.
        const again = await publishRest(ch, { kind: 'note', payload: sent[0] }, tok('research1'), { 'idempotency-key': `${EVIL[0]}-0` });
        expect(again.status).toBe(200);
        expect(again.body).toMatchObject({ id: ids[0], duplicate: true });
      } finally {
        await Promise.all([ws.close(), pubWs.close()]);
        s.close();
        pubSio.close();
      }
      await expectTablesIntact();
    });

    it('login names with metacharacters are just wrong logins; channel names with them are bad names', async () => {
      for (const evil of [...EVIL, "client1' OR '1'='1", "client1'--", 'client1" OR ""="']) {
        const r = await t.request('POST', '/api/auth/login', { json: { login: evil.slice(0, 64), password: "' OR '1'='1" } });
        expect(r.status, evil).toBe(401);
        expect(r.body.error.code).toBe('QIAO_AUTH_BAD_CREDENTIALS');
        expect(r.text).not.toContain('token');
      }
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      try {
        for (const evil of EVIL) {
          const name = `research.${evil}`;
          await badCmd(ws, { op: 'subscribe', channel: name }, 'QIAO_CHANNEL_BAD_NAME');
          const put = await t.request('PUT', `/api/subscriptions/${encodeURIComponent(name)}`, { token: tok('client1'), json: {} });
          expect(put.body.error.code, evil).toBe('QIAO_CHANNEL_BAD_NAME');
          await badCmd(ws, { op: 'subscribe', channel: evil }, 'QIAO_CHANNEL_UNKNOWN_FAMILY');
        }
      } finally {
        await ws.close();
      }
      // Subscription prefs have no free text: a string where an enum is expected is refused.
      const prefs = await t.request('PUT', '/api/subscriptions/research.macro', { token: tok('client1'), json: { prefs: { digest: EVIL[0] } } });
      expect(prefs.body.error.code).toBe('QIAO_BAD_REQUEST');
      expect(await subscriptions('client1')).toEqual([]);
      // Real logins still work.
      expect((await t.login('client1')).user.login).toBe('client1');
      await expectTablesIntact();
    });

    async function expectTablesIntact(): Promise<void> {
      const res = (await t.app.qiao.db.db.execute(
        sql`select to_regclass('public.messages') as messages, to_regclass('public.users') as users, to_regclass('public.subscriptions') as subscriptions, (select count(*) from users) as n`,
      )) as unknown as { rows: Array<Record<string, unknown>> };
      const row = res.rows[0];
      expect(row.messages).toBeTruthy();
      expect(row.users).toBeTruthy();
      expect(row.subscriptions).toBeTruthy();
      expect(Number(row.n)).toBe(seededUsers);
    }
  });
});
