/**
 * The database handle: node-postgres against a real server, or PGlite (embedded Postgres in WASM)
 * with its files under the data folder. Both run the same drizzle schema and the same migrations.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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
