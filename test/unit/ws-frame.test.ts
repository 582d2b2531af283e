/**
 * The raw WebSocket gateway writes channel batches as pre-built frames straight to the TCP socket:
 * a real `ws` client must read them as ordinary text messages, for every length encoding (7, 16 and
 * 64 bit), interleaved with messages `ws` itself sent.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { encodeTextFrame } from '../../src/gateway/websocket.ts';

let server: WebSocketServer | null = null;

afterEach(async () => {
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = null;
});

describe('encodeTextFrame', () => {
  it('frames that a ws client reads as the same text messages, in order with ws.send', async () => {
    const texts = ['x', 'a'.repeat(125), 'b'.repeat(126), '中文'.repeat(1000), 'c'.repeat(65_535), 'd'.repeat(65_536), 'e'.repeat(200_000)];
    server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    server.on('connection', (ws) => {
      const sock = (ws as unknown as { _socket: { write(b: Buffer): boolean } })._socket;
      texts.forEach((t, i) => {
        // Alternate: direct pre-framed writes and ws's own sends must interleave cleanly.
        if (i % 2 === 0) sock.write(encodeTextFrame(Buffer.from(t)));
        else ws.send(t);
      });
    });
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    const got: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      client.on('message', (data, isBinary) => {
        expect(isBinary).toBe(false);
        got.push(data.toString());
        if (got.length === texts.length) resolve();
      });
      client.on('error', reject);
    });
    await done;
    client.close();
    expect(got.map((g) => g.length)).toEqual(texts.map((t) => t.length));
    expect(got).toEqual(texts);
  });

  it('uses the shortest length encoding', () => {
    expect(encodeTextFrame(Buffer.alloc(125)).length).toBe(125 + 2);
    expect(encodeTextFrame(Buffer.alloc(126)).length).toBe(126 + 4);
    expect(encodeTextFrame(Buffer.alloc(65_536)).length).toBe(65_536 + 10);
    expect(encodeTextFrame(Buffer.from('hi'))[0]).toBe(0x81); // FIN + text, unmasked
  });
});
