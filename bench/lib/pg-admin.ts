/** The benches' PostgreSQL admin connection: throw-away databases are created and dropped through it. */
import pg from 'pg';

/** Admin URL of the benches' PostgreSQL server (databases are created and dropped through it). */
export const ADMIN_DB = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Runs `fn` on a fresh admin connection, closed afterwards. */
export async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: ADMIN_DB });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
