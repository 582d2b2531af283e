/** REDIS_URL forms (src/store/redis-client.ts): one server or a Redis Cluster, validated by the config schema. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { parseRedisUrl } from '../../src/store/redis-client.ts';
import { REPO_ROOT } from '../helpers/process.ts';

const PG = 'postgres://u@h/db';

describe('REDIS_URL', () => {
  it('accepts a single server URL unchanged', () => {
    expect(parseRedisUrl('redis://h:6379/2')).toEqual({ kind: 'single', url: 'redis://h:6379/2' });
    expect(loadConfig({ DATABASE_URL: PG, REDIS_URL: 'rediss://u:p@h:6380' }).redisUrl).toBe('rediss://u:p@h:6380');
  });

  it('parses redis+cluster:// seed lists with credentials, IPv6 and TLS', () => {
    expect(parseRedisUrl('redis+cluster://127.0.0.1:7000,127.0.0.1:7001')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '127.0.0.1', port: 7000 },
        { host: '127.0.0.1', port: 7001 },
      ],
      username: undefined,
      password: undefined,
      tls: false,
    });
    expect(parseRedisUrl('rediss+cluster://app:s%40cret@r1.example:7000, [::1]:7001/')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'r1.example', port: 7000 },
        { host: '::1', port: 7001 },
      ],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
    const c = loadConfig({ DATABASE_URL: PG, REDIS_URL: 'redis+cluster://h1:7000,h2:7001,h3:7002' });
    expect(c.mode).toBe('services');
    expect(c.redisUrl).toBe('redis+cluster://h1:7000,h2:7001,h3:7002');
  });

  it.each([
    ['redis+cluster://h1:7000,h2', /cluster node "h2" is not host:port/],
    ['redis+cluster://h1:7000/0', /redis\+cluster:\/\/host1:port1/],
    ['redis+cluster://h1:99999', /port out of range/],
    ['redis+cluster://', /expected redis:\/\/host:port/],
    ['http://h:6379', /expected redis:\/\/host:port/],
    ['redis://h:6379/abc', /database number/],
  ])('refuses %s with a message naming REDIS_URL', (url, why) => {
    expect(() => loadConfig({ DATABASE_URL: PG, REDIS_URL: url })).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ DATABASE_URL: PG, REDIS_URL: url })).toThrow(why);
  });

  it('a bad cluster URL stops the process with exit code 2 and says why', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'migrate'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: PG, REDIS_URL: 'redis+cluster://h1:7000,,h2:7001' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/qiao: Invalid configuration: REDIS_URL: cluster node "" is not host:port/);
  });
});
