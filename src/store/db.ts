/**
 * The database handle: node-postgres against a real server, or PGlite (embedded Postgres in WASM)
 * with its files under the data folder. Both run the same drizzle schema and the same migrations.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type AnyColumn, type SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema/index.ts';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface DbHandle {
  db: Db;
  kind: 'pg' | 'pglite';
  /** Health probe. */
  ping(): Promise<void>;
  migrate(): Promise<void>;
  close(): Promise<void>;
}

/** Runs a raw statement and returns its rows (node-postgres and PGlite both answer `{ rows }`). */
export async function rows<T>(db: Pick<Db, 'execute'>, q: SQL): Promise<T[]> {
  return ((await db.execute(q)) as unknown as { rows: T[] }).rows;
}

/** A Postgres array literal of text values (NULL for null), passed as one parameter. */
export function pgArray(values: Array<string | null | undefined>): string {
  // Fanouts pass arrays of hundreds of thousands of ids: a loop with the escape only where needed
  // costs a fraction of a map + regex replace per value.
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else if (v.includes('"') || v.includes('\\')) out += `"${v.replace(/["\\]/g, '\\$&')}"`;
    else out += `"${v}"`;
  }
  return `${out}}`;
}

/**
 * `column = any($1::uuid[])`: drizzle's `inArray` binds one parameter per value, and building and
 * binding hundreds of them cost the batched worker paths more CPU than the statement itself.
 */
export function uuidIn(column: AnyColumn, ids: string[]): SQL {
  return sql`${column} = any(${pgArray(ids)}::uuid[])`;
}

/** A Postgres array literal of numbers (e.g. for `::bigint[]`), passed as one parameter. */
export function pgNumberArray(values: number[]): string {
  return `{${values.join(',')}}`;
}

export const MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../drizzle/migrations');

/**
 * `onError` hears connection-level errors (logged by the caller); they never crash the process.
 */
export async function openPostgres(url: string, poolSize: number, onError?: (err: Error) => void): Promise<DbHandle> {
  const { default: pg } = await import('pg');
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const { migrate } = await import('drizzle-orm/node-postgres/migrator');
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 });
  // A server stop or restart makes every connection emit 'error'. The pool listens only while a client
  // is idle; a client checked out at that moment (a publish transaction waiting on something) has no
  // listener and would crash the process. So every client gets its own listener for its whole life:
  // the query in flight fails (and is reported as QIAO_UNAVAILABLE), and the pool replaces the client.
  pool.on('connect', (client) => {
    client.on('error', (err) => onError?.(err));
    preparePerConnection(client);
  });
  pool.on('error', (err) => onError?.(err));
  const db = drizzle(pool, { schema }) as unknown as Db;
  return {
    db,
    kind: 'pg',
    async ping() {
      await pool.query('select 1');
    },
    async migrate() {
      await migrate(db as never, { migrationsFolder: MIGRATIONS_DIR });
    },
    async close() {
      await pool.end();
    },
  };
}

/** Distinct statements one connection keeps prepared; beyond this, statements go unnamed (planned each time). */
const MAX_PREPARED_PER_CONNECTION = 1000;

/**
 * Makes every parameterised statement a named prepared statement on its connection, so Postgres parses
 * it once per connection and can reuse its plan instead of planning it on every call. On the publish
 * path planning cost more CPU than executing (the access and unread queries plan in ~0.5 ms and run in
 * ~0.1 ms). Statements without parameters (BEGIN, COMMIT, migrations' multi-statement scripts) are
 * left alone. The name is a hash of the text, so the same text always maps to the same statement.
 */
function preparePerConnection(client: import('pg').PoolClient): void {
  const names = new Set<string>();
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (config: unknown, ...rest: unknown[]) => {
    if (config && typeof config === 'object' && !(config as { name?: string }).name && 'text' in config) {
      const c = config as { text: string; values?: unknown[] };
      const values = c.values ?? (Array.isArray(rest[0]) ? (rest[0] as unknown[]) : undefined);
      if (values && values.length > 0) {
        const name = 'q' + createHash('sha1').update(c.text).digest('hex').slice(0, 24);
        if (names.has(name) || names.size < MAX_PREPARED_PER_CONNECTION) {
          names.add(name);
          return query({ ...c, name }, ...rest);
        }
      }
    } else if (typeof config === 'string' && Array.isArray(rest[0]) && rest[0].length > 0) {
      const name = 'q' + createHash('sha1').update(config).digest('hex').slice(0, 24);
      if (names.has(name) || names.size < MAX_PREPARED_PER_CONNECTION) {
        names.add(name);
        return query({ text: config, values: rest[0], name }, ...rest.slice(1));
      }
    }
    return query(config, ...rest);
  };
}

/** `dir` undefined → in-memory PGlite (tests). */
export async function openPglite(dir: string | undefined): Promise<DbHandle> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  let client;
  if (dir) {
    const path = join(dir, 'pglite');
    mkdirSync(path, { recursive: true });
    client = new PGlite(path);
  } else {
    client = new PGlite();
  }
  await client.waitReady;
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    async ping() {
      await client.query('select 1');
    },
    async migrate() {
      await migrate(db as never, { migrationsFolder: MIGRATIONS_DIR });
    },
    async close() {
      await client.close();
    },
  };
}
