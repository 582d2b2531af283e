/**
 * Embedded mode without QIAO_SMTP_URL and QIAO_SMPP_URL (what a newcomer gets from `npm start`):
 * email goes to .eml files in the outbox folder, readable by any mail program, and SMS to one .json
 * file per message in <QIAO_DATA_DIR>/sms-outbox (docs/sms.md).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { simpleParser } from 'mailparser';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { deliveries } from '../../src/store/schema/index.ts';
import { DEMO_PASSWORD, TEST_JWT_SECRET } from '../helpers/app.ts';

/** The files in `dir` ending with `ext`, waiting up to 10 s for at least one. */
async function filesIn(dir: string, ext: string): Promise<string[]> {
  let files: string[] = [];
  for (let i = 0; i < 200 && files.length === 0; i++) {
    await new Promise((res) => setTimeout(res, 50));
    files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(ext));
  }
  return files;
}

type Inject = FastifyInstance['inject'];
const loginWith = (app: FastifyInstance) => async (l: string) => (await app.inject({ method: 'POST', url: '/api/auth/login', payload: { login: l, password: DEMO_PASSWORD } })).json();

/**
 * A margin call to client1, whose phone the admin sets as typed (11 digits): the SMS .json file in
 * `smsDir` holds the normalised number and the text; the SMS row is sent with the file's id.
 */
async function marginCallBySms(app: FastifyInstance, smsDir: string): Promise<void> {
  const login = loginWith(app);
  const inject: Inject = app.inject.bind(app);
  const admin = await login('admin');
  const client = await login('client1');
  const auth = { authorization: `Bearer ${admin.token}` };
  const patch = await inject({ method: 'PATCH', url: `/api/admin/users/${client.user.id}`, headers: auth, payload: { phone: '13800138000' } });
  expect(patch.statusCode, patch.body).toBe(200);
  expect(patch.json().phone).toBe('+8613800138000');
  const r = await inject({
    method: 'POST',
    url: `/api/channels/inbox.${client.user.id}/publications`,
    headers: auth,
    payload: { kind: 'notice', payload: { title: '追加保证金通知', body: '您的维持担保比例已低于130%，请及时补足。', topic: 'margin' } },
  });
  expect(r.statusCode, r.body).toBe(201);
  const files = await filesIn(smsDir, '.json');
  expect(files).toHaveLength(1);
  const sms = JSON.parse(await readFile(join(smsDir, files[0]), 'utf8'));
  expect(sms).toMatchObject({ to: '+8613800138000', text: '【桥】【重要】追加保证金通知：您的维持担保比例已低于130%，请及时补足。', segments: 1 });
  const [row] = await app.qiao.db.db
    .select()
    .from(deliveries)
    .where(and(eq(deliveries.messageId, r.json().id), eq(deliveries.transport, 'sms')));
  expect(files[0]).toBe(`sms-${row.id}.json`);
  expect(sms.deliveryId).toBe(row.id);
  for (let i = 0; i < 100 && row.status !== 'sent'; i++) {
    await new Promise((res) => setTimeout(res, 50));
    Object.assign(row, (await app.qiao.db.db.select().from(deliveries).where(eq(deliveries.id, row.id)))[0]);
  }
  // The outbox has no receipts: the row stays 'sent', with the file's id as the provider id.
  expect(row).toMatchObject({ status: 'sent', providerIds: [`outbox-${row.id}`] });
}

describe('embedded delivery without SMTP: .eml outbox', () => {
  let app: FastifyInstance;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qiao-outbox-test-'));
    const config = loadConfig({ QIAO_LOG_LEVEL: 'silent', QIAO_JWT_SECRET: TEST_JWT_SECRET, QIAO_DATA_DIR: dir, QIAO_TOTP_REQUIRED_ROLES: '' });
    expect(config.delivery).toMatchObject({ embeddedWorkers: true, smtpUrl: undefined });
    app = await buildApp(config, { inMemoryDb: true, outboxDir: join(dir, 'outbox') });
  });
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const login = async (l: string) => (await app.inject({ method: 'POST', url: '/api/auth/login', payload: { login: l, password: DEMO_PASSWORD } })).json();

  it('writes a notice to the owner’s inbox and as an .eml file', async () => {
    const admin = await login('admin');
    const client = await login('client2');
    const r = await app.inject({
      method: 'POST',
      url: `/api/channels/inbox.${client.user.id}/publications`,
      headers: { authorization: `Bearer ${admin.token}` },
      payload: { kind: 'notice', payload: { title: '账户安全提醒', body: '您的账户在新设备登录。', topic: 'security' } },
    });
    expect(r.statusCode, r.body).toBe(201);
    const files = await filesIn(join(dir, 'outbox'), '.eml');
    expect(files).toHaveLength(1);
    const parsed = await simpleParser(await readFile(join(dir, 'outbox', files[0])));
    expect(parsed.subject).toBe('【重要】[通知] 账户安全提醒');
    expect(parsed.text).toContain('您的账户在新设备登录。');
    expect(parsed.html).toContain('账户安全提醒');
    expect((parsed.to as { value: Array<{ address: string }> }).value[0].address).toBe('client2@qiao.example');
    expect(parsed.headers.get('x-qiao-message-id')).toBe(r.json().id);
    const counts = await app.inject({ method: 'GET', url: '/api/inbox/counts', headers: { authorization: `Bearer ${client.token}` } });
    expect(counts.json()).toMatchObject({ unread: 1 });
  });

  it('an in-memory hub given an outbox writes SMS beside it (<outbox>/sms), never under QIAO_DATA_DIR', async () => {
    await marginCallBySms(app, join(dir, 'outbox', 'sms'));
    expect(await readdir(join(dir, 'sms-outbox')).catch(() => [])).toEqual([]);
  });
});

describe('embedded delivery without SMPP, as `npm start` runs it: <QIAO_DATA_DIR>/sms-outbox', () => {
  let app: FastifyInstance;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qiao-sms-outbox-test-'));
    const config = loadConfig({ QIAO_LOG_LEVEL: 'silent', QIAO_JWT_SECRET: TEST_JWT_SECRET, QIAO_DATA_DIR: dir, QIAO_TOTP_REQUIRED_ROLES: '' });
    expect(config.sms.smppUrl).toBeUndefined();
    // PGlite on disk under the data folder, no outbox given: the defaults a newcomer gets.
    app = await buildApp(config);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a margin call to a client with a phone is written as JSON with the text to <dataDir>/sms-outbox', async () => {
    await marginCallBySms(app, join(dir, 'sms-outbox'));
  });
});
