/**
 * The AsyncAPI 3.0 document of the socket protocol, generated from the types in
 * src/gateway/protocol.ts (the TypeScript compiler reads them): one message per member of the
 * `Command` union (named by its `op`), one per member of `Push` (named by its `t`), and the reply.
 * `npm run gen:docs` writes docs/asyncapi.json; test/unit/asyncapi.test.ts regenerates it in memory
 * and fails when the committed file differs, so adding a frame type to protocol.ts without
 * regenerating the document fails the build. The hub serves the committed file at /asyncapi.json.
 *
 * Dev-time only (needs the `typescript` package); the running hub reads the JSON file.
 */
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { SchemaBuilder, type JsonSchema } from './ts-to-schema.ts';

export const PROTOCOL_FILE = fileURLToPath(new URL('../gateway/protocol.ts', import.meta.url));

export interface ProtocolMessage {
  /** Component name: the interface name (SubscribeCmd, MsgPush…) or `Reply`. */
  id: string;
  /** Wire name: the command's `op` or the push's `t`. */
  name: string;
  direction: 'command' | 'push' | 'reply';
  summary?: string;
  schema: JsonSchema;
}

export interface ProtocolModel {
  messages: ProtocolMessage[];
  schemas: Map<string, JsonSchema>;
}

/** Reads protocol.ts and describes its frames. */
export function readProtocol(file = PROTOCOL_FILE): ProtocolModel {
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    noEmit: true,
    strict: true,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  if (!source) throw new Error(`cannot read ${file}`);
  const builder = new SchemaBuilder(checker, new Set([source.fileName]));
  const alias = (name: string): ts.Type => {
    const decl = source.statements.find((s): s is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(s) && s.name.text === name);
    if (!decl) throw new Error(`protocol.ts has no type ${name}`);
    return checker.getTypeAtLocation(decl.name);
  };
  const members = (name: string): ts.Type[] => {
    const t = alias(name);
    return t.isUnion() ? t.types : [t];
  };
  /** The literal value of a frame's discriminant property (`op` or `t`). */
  const tag = (t: ts.Type, prop: string): string => {
    const p = t.getProperty(prop);
    const pt = p && checker.getTypeOfSymbol(p);
    if (!pt || !pt.isStringLiteral()) throw new Error(`${checker.typeToString(t)} has no literal "${prop}"`);
    return pt.value;
  };
  const messages: ProtocolMessage[] = [];
  for (const [union, prop, direction] of [
    ['Command', 'op', 'command'],
    ['Push', 't', 'push'],
  ] as const) {
    for (const t of members(union)) {
      const sym = t.getSymbol();
      const id = sym?.getName() ?? `${union}_${tag(t, prop)}`;
      messages.push({ id, name: tag(t, prop), direction, summary: builder.doc(sym), schema: builder.schema(t, id) });
    }
  }
  const replyDecl = source.statements.find((s) => ts.isTypeAliasDeclaration(s) && s.name.text === 'Reply');
  const replySym = replyDecl && checker.getSymbolAtLocation((replyDecl as ts.TypeAliasDeclaration).name);
  messages.push({ id: 'Reply', name: 'reply', direction: 'reply', summary: builder.doc(replySym), schema: builder.schema(alias('Reply'), 'Reply') });
  return { messages, schemas: builder.named };
}

const ref = (path: string) => ({ $ref: path });

/** The AsyncAPI document (the hub is the application described: it receives commands, sends pushes). */
export function buildAsyncApi(model = readProtocol()): Record<string, unknown> {
  const messages: Record<string, unknown> = {};
  for (const m of model.messages) {
    messages[m.id] = {
      name: m.name,
      title: m.direction === 'reply' ? 'reply' : `${m.direction} ${m.name}`,
      ...(m.summary ? { summary: m.summary } : {}),
      contentType: 'application/json',
      payload: m.schema,
    };
  }
  const schemas = Object.fromEntries([...model.schemas.entries()].sort(([a], [b]) => a.localeCompare(b)));
  const byDirection = (d: ProtocolMessage['direction']) => model.messages.filter((m) => m.direction === d);
  const channelMessages = Object.fromEntries(model.messages.map((m) => [m.id, ref(`#/components/messages/${m.id}`)]));
  const opMessages = (channel: string, d: ProtocolMessage['direction']) => byDirection(d).map((m) => ref(`#/channels/${channel}/messages/${m.id}`));
  const operations: Record<string, unknown> = {};
  for (const channel of ['ws', 'socketio']) {
    operations[`${channel}Commands`] = {
      action: 'receive',
      channel: ref(`#/channels/${channel}`),
      summary: 'Commands from the client; each is answered by a reply with `re` = the command id',
      messages: opMessages(channel, 'command'),
      reply: { channel: ref(`#/channels/${channel}`), messages: opMessages(channel, 'reply') },
    };
    operations[`${channel}Pushes`] = {
      action: 'send',
      channel: ref(`#/channels/${channel}`),
      summary: 'Pushes from the server',
      messages: opMessages(channel, 'push'),
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Qiao (桥) socket protocol',
      version: '1',
      description:
        'Generated from src/gateway/protocol.ts by `npm run gen:docs`; prose, close codes and limits: docs/protocol.md. ' +
        'Raw WebSocket: one JSON command per text message; the server may pack several frames into one message separated by "\\n". ' +
        'socket.io: a command is the event `cmd` with an ack that receives the reply; pushes are the event `push` (one push or an array).',
    },
    defaultContentType: 'application/json',
    servers: {
      hub: { host: 'localhost:3000', protocol: 'ws', description: 'A hub node (wss behind TLS). Authenticate with a JWT from POST /api/auth/login.' },
    },
    channels: {
      ws: {
        address: '/ws',
        title: 'Raw WebSocket',
        description: 'Token as `?token=<JWT>` or `Authorization: Bearer <JWT>`. A refused or ended connection closes with the error\'s close code (docs/protocol.md, "Close codes").',
        servers: [ref('#/servers/hub')],
        messages: channelMessages,
      },
      socketio: {
        address: '/socket.io/',
        title: 'socket.io 4',
        description: 'io(url, { auth: { token } }). Commands: event `cmd` + ack (the reply). Pushes: event `push`. Before the server ends a socket it emits `closing` { code, reason }.',
        servers: [ref('#/servers/hub')],
        messages: channelMessages,
      },
    },
    operations,
    components: { messages, schemas },
  };
}

/** The committed text of docs/asyncapi.json. */
export function asyncApiJson(model?: ProtocolModel): string {
  return `${JSON.stringify(buildAsyncApi(model), null, 2)}\n`;
}
