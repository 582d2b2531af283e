/**
 * Slow consumers: a raw WebSocket client that stops reading is cut off by the server (close 4008,
 * QIAO_SLOW_CONSUMER) once its unsent bytes pass QIAO_SLOW_CONSUMER_BYTES, while a normal reader on
 * the same channel receives every publication, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MsgPush } from '../../src/gateway/protocol.ts';
import { WsTestClient, eventually, isMsg, metricValue, note, sleep, startEmbeddedApp, type TestApp } from '../helpers/app.ts';

const SLOW_BYTES = 65_536;
const NOTE_BODY = 190_000; // the note grammar allows bodies up to 200,000 characters
const MAX_NOTES = 200;

describe('slow consumer (embedded hub)', () => {
  let t: TestApp;
  let research: string;
  let client: string;

  beforeAll(async () => {
    t = await startEmbeddedApp({ QIAO_SLOW_CONSUMER_BYTES: String(SLOW_BYTES), QIAO_MAX_PAYLOAD_BYTES: String(256 * 1024) });
    research = (await t.login('research1')).token;
    client = (await t.login('inst1')).token;
  });
  afterAll(async () => {
    await t?.close();
  });

  const metrics = async () => (await t.request('GET', '/metrics')).text;

  it('cuts off a reader that stopped reading, with close 4008, while a normal reader gets everything', async () => {
    const ch = 'research.macro';
    const normal = await WsTestClient.connect(t.wsUrl, client);
    const slow = await WsTestClient.connect(t.wsUrl, client);
    try {
      expect((await normal.subscribe(ch)).ok).toBe(true);
      expect((await slow.subscribe(ch)).ok).toBe(true);
      expect(metricValue(await metrics(), 'qiao_connections', { transport: 'ws' })).toBe(2);

      // The slow client stops reading from its TCP socket: the kernel buffers fill, then the server's.
      const rawSocket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      rawSocket.pause();

      const body = 'x'.repeat(NOTE_BODY);
      const ids: string[] = [];
      let cut = false;
      // The normal reader consumes as it goes, so only the slow one builds a backlog.
      const received: MsgPush[] = [];
      const reading = (async () => {
        for (;;) {
          const m = await normal.nextPush<MsgPush>(isMsg(ch), 20_000).catch(() => null);
          if (!m) return;
          received.push(m);
        }
      })();
      for (let i = 1; i <= MAX_NOTES; i++) {
        const r = await t.request('POST', `/api/channels/${ch}/publications`, {
          token: research,
          json: { kind: 'note', payload: note(`宏观日报 #${i}`, { body }) },
        });
        expect(r.status).toBe(201);
        expect(r.body.offset).toBe(i);
        ids.push(r.body.id);
        if (i % 5 === 0 && metricValue(await metrics(), 'qiao_slow_consumer_disconnects_total', { transport: 'ws' }) > 0) {
          cut = true;
          // A few more after the cut: the normal reader must keep receiving.
          for (let j = 0; j < 3; j++) {
            const more = await t.request('POST', `/api/channels/${ch}/publications`, { token: research, json: { kind: 'note', payload: note(`after cut ${j}`) } });
            expect(more.status).toBe(201);
            ids.push(more.body.id);
          }
          break;
        }
      }
      expect(cut, `the slow reader was not cut off after ${MAX_NOTES} notes of ${NOTE_BODY} bytes`).toBe(true);

      // The normal reader received every publication, in offset order, exactly once.
      await eventually(() => received.length >= ids.length, 20_000);
      expect(received.map((m) => m.id)).toEqual(ids);
      expect(received.map((m) => m.offset)).toEqual(ids.map((_, i) => i + 1));
      expect(normal.isOpen).toBe(true);
      expect(await normal.pingOk()).toBe(true);

      // Once the slow client reads again it finds the server's close frame: 4008 QIAO_SLOW_CONSUMER.
      rawSocket.resume();
      const closed = await Promise.race([slow.closed, sleep(15_000).then(() => null)]);
      expect(closed).toEqual({ code: 4008, reason: 'QIAO_SLOW_CONSUMER' });
      // It got a prefix of the stream, in order, and never anything after the cut.
      const slowGot = slow.frames.all.filter(isMsg(ch)).map((m) => m.id);
      expect(slowGot.length).toBeLessThan(ids.length);
      expect(slowGot).toEqual(ids.slice(0, slowGot.length));

      // The server forgot the connection; the normal one is still counted.
      await eventually(async () => metricValue(await metrics(), 'qiao_connections', { transport: 'ws' }) === 1, 5_000);
      expect(metricValue(await metrics(), 'qiao_slow_consumer_disconnects_total', { transport: 'ws' })).toBe(1);
      await normal.close();
      await reading;
    } finally {
      await normal.close();
      slow.ws.terminate();
    }
  });
});
