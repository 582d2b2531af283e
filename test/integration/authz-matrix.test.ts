/**
 * Role × action matrix: every cell asserts allowed (2xx) or refused (the stable code) on an embedded
 * app with the demo firm.
 *
 * Roles: client (client1, broker1's client, team A), broker (broker1, team A), other broker (broker2,
 * team B), manager of another team (manager2, team B), research, compliance, admin.
 *
 * Actions whose route is not registered in this build are reported as skipped with the route named,
 * never silently passed.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WsTestClient, startEmbeddedApp, type HttpResult, type TestApp } from '../helpers/app.ts';
import { brokerClientConversation } from '../helpers/conversations.ts';

const ROLES = ['client', 'broker', 'otherBroker', 'otherManager', 'research', 'compliance', 'admin'] as const;
type Role = (typeof ROLES)[number];
const LOGIN: Record<Role, string> = {
  client: 'client1',
  broker: 'broker1',
  otherBroker: 'broker2',
  otherManager: 'manager2',
  research: 'research1',
  compliance: 'compliance1',
  admin: 'admin',
};
const LABEL: Record<Role, string> = {
  client: 'client',
  broker: 'broker',
  otherBroker: 'other broker',
  otherManager: 'manager of another team',
  research: 'research',
  compliance: 'compliance',
  admin: 'admin',
};

interface Outcome {
  status: number;
  code?: string;
}

interface Ctx {
  t: TestApp;
  token: Record<Role, string>;
  id: Record<string, string>;
  teamA: string;
  convId: string;
  brokerMessageId: string;
}

interface Action {
  name: string;
  /** The route the action needs; the cell is skipped (named) when this build does not register it. */
  route?: { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; url: string };
  allowed: readonly Role[];
  /** Code of a refusal (403 unless it is an authentication code). */
  refused: string;
  run(c: Ctx, who: Role): Promise<Outcome>;
}

const ALL = ROLES;
const none: readonly Role[] = [];
const outcome = (r: HttpResult): Outcome => ({ status: r.status, code: r.body?.error?.code });

const req = (c: Ctx, who: Role, method: string, path: string, json?: unknown, headers?: Record<string, string>) =>
  c.t.request(method, path, { token: c.token[who], json, headers }).then(outcome);

// Fixtures made fresh for a cell, so each cell is independent of the others.
async function pendingBroadcast(c: Ctx): Promise<string> {
  const r = await c.t.request('POST', '/api/channels/firm.broadcast/publications', { token: c.token.admin, json: { kind: 'notice', payload: { title: `全员通知 ${randomUUID()}` } } });
  expect(r.status, r.text).toBe(202);
  return r.body.approvalId;
}
async function taskForTeamA(c: Ctx): Promise<string> {
  const r = await c.t.request('POST', '/api/tasks', {
    token: c.token.admin,
    json: { title: `回访任务 ${randomUUID().slice(0, 8)}`, dueAt: new Date(Date.now() + 86_400_000).toISOString(), teamIds: [c.teamA] },
  });
  expect(r.status, r.text).toBe(201);
  return r.body.task.id;
}
async function dlpTerm(c: Ctx): Promise<string> {
  const r = await c.t.request('POST', '/api/compliance/dlp-terms', { token: c.token.compliance, json: { term: `matrix-${randomUUID().slice(0, 8)}`, action: 'log' } });
  expect(r.status, r.text).toBe(201);
  return r.body.id;
}
async function legalHold(c: Ctx): Promise<string> {
  const r = await c.t.request('POST', '/api/compliance/legal-holds', { token: c.token.compliance, json: { subjectId: c.id.client2, reason: '矩阵测试' } });
  expect(r.status, r.text).toBe(201);
  return r.body.id;
}

const subscribe = (name: string, channel: (c: Ctx) => string, allowed: readonly Role[], refused = 'QIAO_SUBSCRIBE_FORBIDDEN'): Action => ({
  name: `subscribe ${name}`,
  allowed,
  refused,
  run: (c, who) => req(c, who, 'PUT', `/api/subscriptions/${channel(c)}`, {}),
});

const publish = (name: string, channel: (c: Ctx) => string, kind: string, payload: unknown, allowed: readonly Role[]): Action => ({
  name: `publish ${name}`,
  allowed,
  refused: 'QIAO_PUBLISH_FORBIDDEN',
  run: (c, who) => req(c, who, 'POST', `/api/channels/${channel(c)}/publications`, { kind, payload }),
});

const ACTIONS: Action[] = [
  // ---- channels: subscribe to each family ----
  subscribe('research (general category)', () => 'research.macro', ALL),
  subscribe('research (institutional only)', () => 'research.institutional', ['broker', 'otherBroker', 'otherManager', 'research', 'compliance', 'admin'], 'QIAO_ENTITLEMENT_REQUIRED'),
  subscribe('market alerts', () => 'alerts.market', ALL),
  subscribe("the client's inbox", (c) => `inbox.${c.id.client1}`, ['client']),
  subscribe('team A channel', (c) => `team.${c.teamA}`, ['broker', 'compliance', 'admin']),
  subscribe('firm broadcast', () => 'firm.broadcast', ALL),
  subscribe('the broker–client conversation', (c) => `conv.${c.convId}`, ['client', 'broker', 'compliance']),
  {
    name: 'socket subscribe to the broker–client conversation',
    allowed: ['client', 'broker', 'compliance'],
    refused: 'QIAO_SUBSCRIBE_FORBIDDEN',
    async run(c, who) {
      const ws = await WsTestClient.connect(c.t.wsUrl, c.token[who]);
      try {
        const r = await ws.subscribe(`conv.${c.convId}`);
        return r.ok ? { status: 200 } : { status: 403, code: r.error.code };
      } finally {
        await ws.close();
      }
    },
  },

  // ---- channels: publish to each family ----
  publish('a research note', () => 'research.macro', 'note', { title: '宏观周报', riskLevel: 'R2' }, ['research', 'admin']),
  publish('a market alert', () => 'alerts.market', 'alert', { title: '沪指收涨' }, ['admin']),
  publish("a notice to the client's inbox", (c) => `inbox.${c.id.client1}`, 'notice', { title: '账户提醒' }, ['broker', 'admin']),
  publish('a notice to team A', (c) => `team.${c.teamA}`, 'notice', { title: '周会' }, ['admin']),
  publish('a firm broadcast (goes to approval)', () => 'firm.broadcast', 'notice', { title: '系统升级通知' }, ['admin']),
  publish('a chat message in the conversation', (c) => `conv.${c.convId}`, 'chat', { text: '您好，请问明天开会吗？' }, ['client', 'broker']),

  // ---- reading ----
  {
    name: "read another user's inbox history (client2's)",
    allowed: none,
    refused: 'QIAO_SUBSCRIBE_FORBIDDEN',
    run: (c, who) => req(c, who, 'GET', `/api/channels/inbox.${c.id.client2}/history`),
  },
  {
    name: 'read my own inbox',
    route: { method: 'GET', url: '/api/inbox' },
    allowed: ALL,
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'GET', '/api/inbox'),
  },
  {
    name: 'read the conversation history (channel)',
    allowed: ['client', 'broker', 'compliance'],
    refused: 'QIAO_SUBSCRIBE_FORBIDDEN',
    run: (c, who) => req(c, who, 'GET', `/api/channels/conv.${c.convId}/history`),
  },
  {
    name: 'read the conversation messages',
    route: { method: 'GET', url: '/api/conversations/:id/messages' },
    allowed: ['client', 'broker', 'compliance'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'GET', `/api/conversations/${c.convId}/messages`),
  },
  {
    name: 'post in the conversation',
    route: { method: 'POST', url: '/api/conversations/:id/messages' },
    allowed: ['client', 'broker'],
    refused: 'QIAO_PUBLISH_FORBIDDEN',
    run: (c, who) => req(c, who, 'POST', `/api/conversations/${c.convId}/messages`, { kind: 'chat', payload: { text: '收到，谢谢' } }),
  },
  {
    name: 'see delivery statuses of a message broker1 sent',
    route: { method: 'GET', url: '/api/deliveries' },
    allowed: ['broker', 'compliance', 'admin'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'GET', `/api/deliveries?messageId=${c.brokerMessageId}`),
  },

  // ---- assignment ----
  {
    name: "list a client's brokers (client1's)",
    route: { method: 'GET', url: '/api/clients/:clientId/brokers' },
    allowed: ['client', 'broker', 'compliance', 'admin'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'GET', `/api/clients/${c.id.client1}/brokers`),
  },
  {
    // Last cell of the run for admin is harmless: client3 is not used by other actions.
    name: 'transfer a client (client3, team A) to broker2 (team B)',
    route: { method: 'POST', url: '/api/clients/:clientId/transfer' },
    allowed: ['admin'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'POST', `/api/clients/${c.id.client3}/transfer`, { toBrokerId: c.id.broker2 }),
  },

  // ---- recommendations, approvals, tasks ----
  {
    name: 'recommend an R1 product to client1',
    route: { method: 'POST', url: '/api/recommendations' },
    allowed: ['broker'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'POST', '/api/recommendations', { clientIds: [c.id.client1], security: '511990.OF', productRisk: 'R1', rationale: '货币基金，流动性管理' }),
  },
  {
    name: 'approve a pending broadcast',
    route: { method: 'POST', url: '/api/approvals/:id/approve' },
    allowed: ['compliance'],
    refused: 'QIAO_FORBIDDEN',
    async run(c, who) {
      const id = await pendingBroadcast(c);
      return req(c, who, 'POST', `/api/approvals/${id}/approve`, { note: '同意' });
    },
  },
  {
    name: 'create a task for team A',
    route: { method: 'POST', url: '/api/tasks' },
    allowed: ['admin'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'POST', '/api/tasks', { title: '季度回访', dueAt: new Date(Date.now() + 86_400_000).toISOString(), teamIds: [c.teamA] }),
  },
  {
    name: 'update the state of a task sent to team A (mark read)',
    route: { method: 'POST', url: '/api/tasks/:id/read' },
    allowed: ['broker'],
    refused: 'QIAO_FORBIDDEN',
    async run(c, who) {
      const id = await taskForTeamA(c);
      return req(c, who, 'POST', `/api/tasks/${id}/read`, {});
    },
  },
  {
    name: "follow a task's progress",
    route: { method: 'GET', url: '/api/tasks/:id/progress' },
    allowed: ['compliance', 'admin'],
    refused: 'QIAO_FORBIDDEN',
    async run(c, who) {
      const id = await taskForTeamA(c);
      return req(c, who, 'GET', `/api/tasks/${id}/progress`);
    },
  },

  // ---- compliance ----
  {
    name: 'search the archive',
    allowed: ['compliance'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'GET', '/api/compliance/archive?q=%E5%91%A8%E4%BC%9A'),
  },
  {
    name: 'export from the archive',
    allowed: ['compliance'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'POST', '/api/compliance/exports', { q: '周会' }),
  },
  {
    name: 'verify the archive chain',
    allowed: ['compliance', 'admin'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'GET', '/api/compliance/archive/verify'),
  },
  {
    name: 'list DLP terms',
    allowed: ['compliance', 'admin'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'GET', '/api/compliance/dlp-terms'),
  },
  {
    name: 'add or change a DLP term',
    allowed: ['compliance', 'admin'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'POST', '/api/compliance/dlp-terms', { term: `matrix-${who}`, action: 'log' }),
  },
  {
    name: 'remove a DLP term',
    allowed: ['compliance', 'admin'],
    refused: 'QIAO_FORBIDDEN',
    async run(c, who) {
      const id = await dlpTerm(c);
      return req(c, who, 'DELETE', `/api/compliance/dlp-terms/${id}`);
    },
  },
  {
    name: 'list legal holds',
    allowed: ['compliance'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'GET', '/api/compliance/legal-holds'),
  },
  {
    name: 'place a legal hold',
    allowed: ['compliance'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'POST', '/api/compliance/legal-holds', { subjectId: c.id.client2, reason: '监管问询' }),
  },
  {
    name: 'release a legal hold',
    allowed: ['compliance'],
    refused: 'QIAO_FORBIDDEN',
    async run(c, who) {
      const id = await legalHold(c);
      return req(c, who, 'POST', `/api/compliance/legal-holds/${id}/release`, {});
    },
  },

  // ---- operations ----
  {
    name: 'list dead-lettered jobs',
    route: { method: 'GET', url: '/api/admin/dead-letters' },
    allowed: ['admin'],
    refused: 'QIAO_FORBIDDEN',
    run: (c, who) => req(c, who, 'GET', '/api/admin/dead-letters?queue=fanout'),
  },
  {
    name: 'ingest a market alert with a user token but no API key',
    allowed: none,
    refused: 'QIAO_API_KEY_INVALID',
    run: (c, who) => req(c, who, 'POST', '/api/ingest/alerts', { title: '伪造提醒' }),
  },
];

describe('role × action matrix', () => {
  const c = {} as Ctx;

  beforeAll(async () => {
    c.t = await startEmbeddedApp();
    c.token = {} as Record<Role, string>;
    c.id = {};
    for (const login of ['client1', 'client2', 'client3', 'broker1', 'broker2', 'manager1', 'manager2', 'research1', 'compliance1', 'admin']) {
      const r = await c.t.login(login);
      c.id[login] = r.user.id;
      const role = (Object.keys(LOGIN) as Role[]).find((k) => LOGIN[k] === login);
      if (role) c.token[role] = r.token;
      if (login === 'broker1') c.teamA = r.user.teamId!;
    }
    const db = c.t.app.qiao.db.db;
    c.convId = await brokerClientConversation(db, c.id.broker1, c.id.client1);
    const sent = await c.t.request('POST', `/api/channels/inbox.${c.id.client1}/publications`, { token: c.token.broker, json: { kind: 'notice', payload: { title: '对账单已生成' } } });
    expect(sent.status, sent.text).toBe(201);
    c.brokerMessageId = sent.body.id;
  });
  afterAll(async () => c.t?.close());

  for (const a of ACTIONS) {
    describe(a.name, () => {
      for (const role of ROLES) {
        const allowed = a.allowed.includes(role);
        it(`${LABEL[role]} → ${allowed ? 'allowed' : `refused (${a.refused})`}`, async (ctx) => {
          if (a.route && !c.t.app.hasRoute(a.route)) {
            ctx.skip(`route ${a.route.method} ${a.route.url} is not registered in this build`);
            return;
          }
          const o = await a.run(c, role);
          if (allowed) {
            expect(o.status, `${LABEL[role]} ${a.name}: ${o.code ?? ''}`).toBeGreaterThanOrEqual(200);
            expect(o.status, `${LABEL[role]} ${a.name}: ${o.code ?? ''}`).toBeLessThan(300);
          } else {
            expect(o.code, `${LABEL[role]} ${a.name} (status ${o.status})`).toBe(a.refused);
            expect(o.status).toBe(a.refused === 'QIAO_API_KEY_INVALID' ? 401 : 403);
          }
        });
      }
    });
  }

  it('covers every role against every action', () => {
    expect(ACTIONS.length * ROLES.length).toBeGreaterThanOrEqual(250);
  });
});
