import { describe, expect, it } from 'vitest';
import { ConfigError, checkHubConfig, loadConfig } from '../../src/config/config.ts';

describe('config', () => {
  it('defaults to embedded mode with documented defaults', () => {
    const c = loadConfig({});
    expect(c.mode).toBe('embedded');
    expect(c.port).toBe(3000);
    expect(c.maxPayloadBytes).toBe(65536);
    expect(c.jwtSecret.length).toBeGreaterThanOrEqual(32);
  });

  it('switches to services mode when both URLs are set', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://u@h/db', REDIS_URL: 'redis://h:6379' });
    expect(c.mode).toBe('services');
  });

  it('refuses only one of DATABASE_URL / REDIS_URL, naming the missing one', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u@h/db' })).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ REDIS_URL: 'redis://h' })).toThrow(/DATABASE_URL/);
  });

  it('names the variable of a bad value', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ QIAO_MAX_PAYLOAD_BYTES: '-1' })).toThrow(/QIAO_MAX_PAYLOAD_BYTES/);
    expect(() => loadConfig({ QIAO_JWT_SECRET: 'short' })).toThrow(/QIAO_JWT_SECRET/);
    expect(() => loadConfig({ DATABASE_URL: 'not a url', REDIS_URL: 'redis://h' })).toThrow(/DATABASE_URL/);
  });

  it('refuses unknown QIAO_* variables (typos) but ignores unrelated env', () => {
    expect(() => loadConfig({ QIAO_MAX_PAYLOD_BYTES: '10' })).toThrow(/QIAO_MAX_PAYLOD_BYTES/);
    expect(() => loadConfig({ PATH: '/usr/bin', HOME: '/root' })).not.toThrow();
  });

  it('requires a JWT secret in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/QIAO_JWT_SECRET/);
  });

  it('a hub node in services mode needs the shared JWT secret; embedded mode generates one', () => {
    const services = { DATABASE_URL: 'postgres://u@h/db', REDIS_URL: 'redis://h:6379' };
    expect(() => checkHubConfig(loadConfig(services))).toThrow(ConfigError);
    expect(() => checkHubConfig(loadConfig(services))).toThrow(/QIAO_JWT_SECRET/);
    expect(() => checkHubConfig(loadConfig({ ...services, QIAO_JWT_SECRET: 'k'.repeat(32) }))).not.toThrow();
    expect(() => checkHubConfig(loadConfig({}))).not.toThrow();
  });

  it('parses booleans strictly', () => {
    expect(loadConfig({ QIAO_SEED_DEMO: 'false' }).seedDemo).toBe(false);
    expect(() => loadConfig({ QIAO_SEED_DEMO: 'maybe' })).toThrow(/QIAO_SEED_DEMO/);
  });

  it('QIAO_TOTP_REQUIRED_ROLES: admin and compliance by default, empty means none, unknown roles refused; QIAO_TOTP_KEY optional', () => {
    expect(loadConfig({}).security.totpRequiredRoles).toEqual(['admin', 'compliance']);
    expect(loadConfig({ QIAO_TOTP_REQUIRED_ROLES: '' }).security.totpRequiredRoles).toEqual([]);
    expect(loadConfig({ QIAO_TOTP_REQUIRED_ROLES: ' admin , broker ' }).security.totpRequiredRoles).toEqual(['admin', 'broker']);
    expect(() => loadConfig({ QIAO_TOTP_REQUIRED_ROLES: 'admin,root' })).toThrow(/QIAO_TOTP_REQUIRED_ROLES/);
    expect(loadConfig({}).security.totpKey).toBeUndefined();
    expect(() => loadConfig({ QIAO_TOTP_KEY: 'short' })).toThrow(/QIAO_TOTP_KEY/);
  });
});
