/**
 * Reachability checks for external services used by integration and contract suites.
 *
 * Convention: a suite that needs a service skips (with a loud console.warn) when the service is
 * unreachable, unless `QIAO_REQUIRE_SERVICES=1` is set, in which case it fails. Use `gateService` at the
 * top level of a test file:
 *
 *   const url = process.env.QIAO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
 *   const available = await gateService('Redis', url, redisAvailable);
 *   describe.skipIf(!available)('...', () => { ... });
 */
import { Redis } from 'ioredis';
import pg from 'pg';

const PROBE_TIMEOUT_MS = 1500;

/** True when `QIAO_REQUIRE_SERVICES=1`: missing services fail the run instead of skipping suites. */
export function requireServices(): boolean {
  return process.env.QIAO_REQUIRE_SERVICES === '1';
}

/** Resolves true when a Redis server answers PING at `url` within a short timeout. Never throws. */
export async function redisAvailable(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    commandTimeout: PROBE_TIMEOUT_MS,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  client.on('error', () => {
    // Reported through the rejected connect(); swallow the event so it does not crash the runner.
  });
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Resolves true when Postgres accepts a connection and answers `SELECT 1` at `url`. Never throws. */
export async function postgresAvailable(url: string): Promise<boolean> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: PROBE_TIMEOUT_MS,
    query_timeout: PROBE_TIMEOUT_MS,
  });
  client.on('error', () => {
    // Reported through the rejected connect()/query().
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `url` with any password replaced, safe to print. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Probes a service for a suite. Returns true when reachable. When not reachable: throws if
 * `requireServices()`, otherwise prints a loud warning and returns false (the caller skips).
 */
export async function gateService(
  name: string,
  url: string,
  probe: (url: string) => Promise<boolean>,
): Promise<boolean> {
  if (await probe(url)) return true;
  const where = redactUrl(url);
  if (requireServices()) {
    throw new Error(`${name} is required (QIAO_REQUIRE_SERVICES=1) but unreachable at ${where}`);
  }
  console.warn(
    [
      '',
      '!'.repeat(78),
      `!!! SKIPPING ${name} suites: ${name} is unreachable at ${where}`,
      `!!! These tests did NOT run. Start ${name}, or set QIAO_REQUIRE_SERVICES=1 to make this a failure.`,
      '!'.repeat(78),
      '',
    ].join('\n'),
  );
  return false;
}
