/** QIAO_PUBLIC_NODES: the node URLs advertised to clients in the welcome (failover list). */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

describe('config: QIAO_PUBLIC_NODES', () => {
  it('defaults to no nodes', () => {
    expect(loadConfig({}).publicNodes).toEqual([]);
  });

  it('splits a comma-separated list, trimming spaces and trailing slashes', () => {
    const c = loadConfig({ QIAO_PUBLIC_NODES: ' https://a.qiao.example/ , http://10.0.0.2:3002,wss://c.qiao.example ' });
    expect(c.publicNodes).toEqual(['https://a.qiao.example', 'http://10.0.0.2:3002', 'wss://c.qiao.example']);
  });

  it('refuses anything that is not an http(s) / ws(s) URL, naming the variable', () => {
    for (const bad of ['a.qiao.example', 'https://a.example,,https://b.example', 'ftp://a.example', 'https://a b.example']) {
      expect(() => loadConfig({ QIAO_PUBLIC_NODES: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ QIAO_PUBLIC_NODES: bad }), bad).toThrow(/QIAO_PUBLIC_NODES/);
    }
  });
});
