/**
 * docs/asyncapi.json is generated from src/gateway/protocol.ts: regenerated in memory it must equal
 * the committed file (run `npm run gen:docs`), and it must describe every frame type of protocol.ts.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/errors/codes.ts';
import { PROTOCOL_FILE, asyncApiJson, buildAsyncApi, readProtocol } from '../../src/docs/asyncapi.ts';

type Doc = { asyncapi: string; components: { messages: Record<string, { name: string; payload: unknown }>; schemas: Record<string, { properties: Record<string, unknown>; required: string[] }> }; operations: Record<string, { action: string; messages: { $ref: string }[] }> };

describe('AsyncAPI document of the socket protocol', () => {
  const model = readProtocol();
  const doc = buildAsyncApi(model) as unknown as Doc;

  it('the committed docs/asyncapi.json is the generated one', () => {
    const committed = readFileSync(new URL('../../docs/asyncapi.json', import.meta.url), 'utf8');
    expect(committed).toBe(asyncApiJson(model));
  });

  it('has every command and push of protocol.ts, by wire name, with their fields', () => {
    const names = (dir: string) => model.messages.filter((m) => m.direction === dir).map((m) => m.name).sort();
    expect(names('command')).toEqual(['ping', 'presence', 'publish', 'receipt', 'subscribe', 'typing', 'unsubscribe']);
    expect(names('push')).toEqual(['gap', 'msg', 'reconnect', 'signal', 'unsubscribed', 'welcome']);
    expect(doc.asyncapi).toBe('3.0.0');
    expect(doc.components.messages.SubscribeCmd.name).toBe('subscribe');
    const sub = doc.components.schemas.SubscribeCmd;
    expect(Object.keys(sub.properties)).toEqual(['op', 'id', 'channel', 'since']);
    expect(sub.required).toEqual(['op', 'id', 'channel']);
    // Inherited fields (MsgPush extends PublicationFrame) are there.
    expect(doc.components.schemas.MsgPush.required).toEqual(expect.arrayContaining(['t', 'channel', 'offset', 'payload']));
    // Error bodies name the catalogue's codes.
    expect((doc.components.schemas.ErrorBody.properties.code as { enum: string[] }).enum.sort()).toEqual(Object.keys(ERRORS).sort());
    // The hub receives commands and sends pushes, on both gateways.
    expect(doc.operations.wsCommands.action).toBe('receive');
    expect(doc.operations.socketioPushes.action).toBe('send');
    expect(doc.operations.wsPushes.messages).toHaveLength(6);
  });

  it('a frame type added to protocol.ts changes the document (so the committed file would be stale)', () => {
    const src = readFileSync(PROTOCOL_FILE, 'utf8');
    const changed = src
      .replace("export type Push = MsgPush |", "export interface ByePush { t: 'bye'; why: string }\nexport type Push = ByePush | MsgPush |")
      .replace(/from '\.\.\/errors\/codes\.ts'/, `from '${new URL('../../src/errors/codes.ts', import.meta.url).pathname}'`);
    expect(changed).toContain('ByePush | MsgPush');
    const file = join(mkdtempSync(join(tmpdir(), 'qiao-asyncapi-')), 'protocol.ts');
    writeFileSync(file, changed);
    const other = readProtocol(file);
    expect(other.messages.find((m) => m.name === 'bye')?.schema).toEqual({ $ref: '#/components/schemas/ByePush' });
    expect(asyncApiJson(other)).not.toBe(asyncApiJson(model));
  });
});
