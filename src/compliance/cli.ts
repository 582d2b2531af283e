/**
 * CLI commands of the compliance archive (src/main.ts): `archive-verify` and `archive-purge`.
 * They print to stdout for the operator; exit codes: 0 fine, 3 the chain is broken, 1 an error.
 */
import { openDb } from '../app.ts';
import type { Config } from '../config/config.ts';
import { ArchiveRepo } from '../store/archive-repo.ts';
import { purgeArchive } from './purge.ts';
import { verifyArchive } from './verify.ts';

/** Exit code of `archive-verify` when the chain is broken (1 stays "the command failed"). */
export const EXIT_CHAIN_BROKEN = 3;

function out(line: string): void {
  process.stdout.write(line + '\n');
}

export async function archiveVerifyCommand(config: Config): Promise<number> {
  const db = await openDb(config);
  try {
    const r = await verifyArchive(db.db);
    if (r.checked === 0) {
      out('archive is empty: nothing to verify');
      return 0;
    }
    out(`checked ${r.checked} records, seq ${r.firstSeq}–${r.lastSeq}; ${r.purgedGaps} purged gap(s) bridged by purge records`);
    out(`last hash ${r.lastHash}`);
    if (r.ok) {
      out('chain OK');
      return 0;
    }
    out(`CHAIN BROKEN: ${r.problemCount} problem(s); first broken seq ${r.firstBrokenSeq}`);
    for (const p of r.problems) out(`  seq ${p.seq}: ${p.problem}: ${p.detail}`);
    return EXIT_CHAIN_BROKEN;
  } finally {
    await db.close();
  }
}

export async function archivePurgeCommand(config: Config): Promise<number> {
  const db = await openDb(config);
  try {
    const r = await purgeArchive(db.db, new ArchiveRepo(db.db), { now: new Date() });
    out(`retention cutoff ${r.cutoff ?? '-'}: purged ${r.purged} record(s) in ${r.batches.length} batch(es)`);
    for (const b of r.batches) out(`  purge record seq ${b.purgeSeq}: ${b.count} record(s) in ${b.ranges.length} range(s)`);
    return 0;
  } finally {
    await db.close();
  }
}
