/**
 * `archive-verify` and `archive-purge` as an operator runs them (the CLI in a child process, embedded
 * database in a temp folder): a clean chain exits 0; after a record is altered it exits 3 and names
 * the seq.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { ArchiveRepo } from '../../src/store/archive-repo.ts';
import { openPglite } from '../../src/store/db.ts';

const dir = mkdtempSync(join(tmpdir(), 'qiao-archive-cli-'));
const TSX = join(process.cwd(), 'node_modules/.bin/tsx');

function cli(cmd: string): { status: number | null; out: string } {
  const r = spawnSync(TSX, ['src/main.ts', cmd], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', QIAO_DATA_DIR: dir, QIAO_LOG_LEVEL: 'warn' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('archive CLI', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('verifies, purges, and exits 3 naming the seq of an altered record', async () => {
    expect(cli('seed').status).toBe(0);
    const db = await openPglite(dir);
    const archive = new ArchiveRepo(db.db);
    const seqs: number[] = [];
    for (let i = 0; i < 3; i++) seqs.push((await archive.append({ kind: 'test', actorId: 'cli-test', subjects: [], retentionClass: 'tasks', body: { i }, text: `cli ${i}` })).seq);
    await db.close();

    const ok = cli('archive-verify');
    expect(ok.status, ok.out).toBe(0);
    expect(ok.out).toContain('chain OK');
    const purge = cli('archive-purge');
    expect(purge.status, purge.out).toBe(0);
    expect(purge.out).toContain('purged 0 record(s)');

    const db2 = await openPglite(dir);
    await db2.db.execute(sql`ALTER TABLE archive_records DISABLE TRIGGER archive_records_guard_row`);
    await db2.db.execute(sql`UPDATE archive_records SET text = 'altered' WHERE seq = ${seqs[1]}`);
    await db2.db.execute(sql`ALTER TABLE archive_records ENABLE TRIGGER archive_records_guard_row`);
    await db2.close();

    const bad = cli('archive-verify');
    expect(bad.status, bad.out).toBe(3);
    expect(bad.out).toContain(`first broken seq ${seqs[1]}`);
    expect(bad.out).toContain(`seq ${seqs[1]}: hash-mismatch`);
  }, 120_000);
});
