/**
 * Embedded mode without QIAO_SMTP_URL (what a newcomer gets from `npm start`): email goes to .eml
 * files in the outbox folder, readable by any mail program.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { DEMO_PASSWORD, TEST_JWT_SECRET } from '../helpers/app.ts';

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
    let files: string[] = [];
    for (let i = 0; i < 200 && files.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
      files = (await readdir(join(dir, 'outbox')).catch(() => [] as string[])).filter((f) => f.endsWith('.eml'));
    }
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
});
