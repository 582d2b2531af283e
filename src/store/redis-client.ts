/**
 * The one place Redis connections are made (bus, presence, alert sync, BullMQ, rate limits). Every
 * Redis user passes the configured `REDIS_URL` here, so a deployment moves from one Redis to a Redis
 * Cluster by changing that URL only (docs/cluster.md).
 *
 * Accepted URLs:
 * - `redis://[user:password@]host:port[/db]` (`rediss://` for TLS): one Redis server.
 * - `redis+cluster://[user:password@]host1:port1,host2:port2[,…]` (`rediss+cluster://` for TLS): a
 *   Redis Cluster; the listed nodes are seeds, the client discovers the rest from CLUSTER SLOTS, so
 *   listing two or three masters is enough. No `/db` (a cluster has only database 0).
 *
 * Why one URL and not a separate REDIS_CLUSTER_NODES: a deployment then has exactly one Redis setting,
 * services mode stays "DATABASE_URL + REDIS_URL", and a half-configured pair (both set, or a cluster
 * list next to a single-server URL) cannot exist.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export interface RedisNode {
  host: string;
  port: number;
}

export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; nodes: RedisNode[]; username?: string; password?: string; tls: boolean };

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#@]+)\/?$/;
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** Parses a REDIS_URL; throws an Error whose message says what is wrong (used by the config schema). */
export function parseRedisUrl(url: string): RedisTarget {
  if (/^rediss?:\/\//.test(url)) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new Error('not a valid redis:// URL');
    }
    if (!u.hostname) throw new Error('redis:// URL without a host');
    if (u.pathname && u.pathname !== '/' && !/^\/\d+$/.test(u.pathname)) throw new Error('the path of a redis:// URL is the database number, e.g. /0');
    return { kind: 'single', url };
  }
  const m = CLUSTER_URL.exec(url);
  if (!m) {
    throw new Error(
      'expected redis://host:port[/db] (one server) or redis+cluster://host1:port1,host2:port2 (Redis Cluster seed nodes, no /db); rediss:// and rediss+cluster:// for TLS',
    );
  }
  const [, scheme, user, pass, hostList] = m;
  const nodes: RedisNode[] = [];
  for (const part of hostList.split(',')) {
    const hp = HOST_PORT.exec(part.trim());
    if (!hp) throw new Error(`cluster node "${part.trim()}" is not host:port`);
    const port = Number(hp[2]);
    if (port < 1 || port > 65535) throw new Error(`cluster node "${part.trim()}": port out of range`);
    nodes.push({ host: hp[1].replace(/^\[|\]$/g, ''), port });
  }
  return {
    kind: 'cluster',
    nodes,
    username: user ? decodeURIComponent(user) : undefined,
    password: pass ? decodeURIComponent(pass) : undefined,
    tls: scheme === 'rediss',
  };
}

export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/** Options that belong to the Cluster object itself, not to each node connection. */
const CLUSTER_LEVEL = ['lazyConnect', 'enableOfflineQueue', 'enableReadyCheck', 'enableAutoPipelining'] as const;

export interface CreateRedisOptions extends RedisOptions {
  /**
   * Cluster only: subscribe with sharded pub/sub (SSUBSCRIBE), one subscriber connection per master.
   * Needed by connections that call `ssubscribe`.
   */
  shardedSubscribers?: boolean;
}

/**
 * A `Redis` for a single-server URL, a `Cluster` for a cluster URL. On a cluster, commands to a slot
 * whose master just died are retried (MOVED/failover/CLUSTERDOWN) for about `maxRedirections ×
 * retryDelayOnFailover` before they fail; a replica's promotion normally fits in that window or the
 * caller gets an error it reports as QIAO_UNAVAILABLE.
 */
export function createRedis(url: string, options: CreateRedisOptions = {}): RedisClient {
  const target = parseRedisUrl(url);
  const { shardedSubscribers, ...redisOptions } = options;
  if (target.kind === 'single') return new Redis(url, redisOptions);
  const nodeOptions: RedisOptions = { ...redisOptions };
  const clusterOptions: ClusterOptions = {
    shardedSubscribers: shardedSubscribers ?? false,
    // A failover takes a few node timeouts; keep retrying a little longer than the defaults (16 × 100 ms).
    maxRedirections: 32,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    slotsRefreshTimeout: 2000,
  };
  for (const k of CLUSTER_LEVEL) {
    if (redisOptions[k] !== undefined) (clusterOptions as Record<string, unknown>)[k] = redisOptions[k];
  }
  if (target.username) nodeOptions.username = target.username;
  if (target.password) nodeOptions.password = target.password;
  if (target.tls) nodeOptions.tls = { ...(nodeOptions.tls ?? {}) };
  clusterOptions.redisOptions = nodeOptions;
  return new Cluster(target.nodes, clusterOptions);
}

/** quit(), or disconnect() when quit fails (connection already lost). */
export async function closeRedis(client: RedisClient): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/** A new connection with the same target and options (BullMQ workers block on their own one). */
export function duplicateRedis(client: RedisClient): RedisClient {
  return isCluster(client) ? client.duplicate() : client.duplicate();
}
